"""The input's audio carried into a video output while its frames are written.

Packets are copied as they are (no re-encoding) when the output container accepts the codec, else
re-encoded to the container's usual audio codec (AAC for MP4/MOV/MKV, Opus for WebM), which is
logged once.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Optional

import av

from video.encoders import encodable_rate

__all__ = ["AudioCarrier"]

log = logging.getLogger("ifrnet.video")


class AudioCarrier:
    """Carries the input's audio into the output while the video is written.

    Reads the input's audio packets through its own demuxer (a second open of the input file), so
    the video decoder can run ahead in another thread. Packets are copied as they are when the
    output container takes the codec, else decoded and re-encoded. Timestamps are shifted by the
    same amount as the video (the output starts at the first video frame).
    """

    def __init__(self, output: av.container.OutputContainer, source_path: Path, shift: Fraction) -> None:
        self._input = av.open(str(source_path))
        in_stream = self._input.streams.audio[0]
        self._shift = shift
        self._packets = self._input.demux(in_stream)
        self._pending = None
        self._done = False
        codec_name = in_stream.codec_context.name
        if codec_name in output.supported_codecs:
            self.stream = output.add_stream_from_template(in_stream)
            self._encoder = None
        else:
            target = "aac" if "aac" in output.supported_codecs else output.default_audio_codec
            self.stream = output.add_stream(target, rate=encodable_rate(target, in_stream.codec_context.sample_rate))
            layout = in_stream.codec_context.layout
            if target != "aac" and layout.nb_channels > 2:
                layout = "stereo"
            self.stream.layout = layout
            self._encoder = self.stream
            log.info("the output container cannot hold %s audio: re-encoding it to %s", codec_name, self.stream.codec_context.name)
        self._in_stream = in_stream

    def _mux_packet(self, output: av.container.OutputContainer, packet: av.Packet) -> None:
        time_base = Fraction(packet.time_base)
        offset = round(self._shift / time_base)
        if self._encoder is None:
            if packet.pts is not None:
                packet.pts -= offset
            if packet.dts is not None:
                packet.dts -= offset
            packet.stream = self.stream
            output.mux(packet)
            return
        for frame in packet.decode():
            if frame.pts is not None:
                frame.pts -= round(self._shift / Fraction(frame.time_base))
            output.mux(self._encoder.encode(frame))

    def mux_until(self, output: av.container.OutputContainer, time: Optional[Fraction]) -> None:
        """Mux the audio up to ``time`` seconds of the output (all of it when None)."""
        while not self._done:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                self._done = True
                break
            if packet.dts is None and packet.size == 0:  # the demuxer's final flush packet
                continue
            if time is not None and packet.pts is not None:
                packet_time = Fraction(packet.pts) * Fraction(packet.time_base) - self._shift
                if packet_time > time:
                    self._pending = packet
                    return
            self._mux_packet(output, packet)
        if time is None and self._encoder is not None:
            output.mux(self._encoder.encode(None))
            self._encoder = None

    def close(self) -> None:
        self._input.close()
