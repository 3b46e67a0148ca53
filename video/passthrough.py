"""What travels from the input into a video output besides the frames: every audio and subtitle
track, the container's and the tracks' metadata (title, language), and the display matrix.

Packets are copied as they are (no re-encoding) when the output container accepts the track as
it is: its codec, and what its muxer checks on writing (tried in memory first, :func:`refused_copies`:
Opus 5.1 in MOV, or PCM whose channel layout is not named in MP4, pass the codec list and fail when
the file is written, some only on closing it). Audio it does not accept is re-encoded to the
container's usual audio codec (AAC for MP4/MOV/MKV, Opus for WebM); a subtitle track it does not
accept (e.g. SRT in MP4, which only takes mov_text) is left out; so is any other track (a second
video track, fonts attached to a Matroska file). Each is logged once per track.
"""
from __future__ import annotations

import io
import logging
from fractions import Fraction
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import av
import numpy as np

from video.orientation import Orientation, orientation_from_matrix

__all__ = ["StreamCarrier", "copy_metadata", "display_orientation", "encodable_rate", "refused_copies"]

log = logging.getLogger("ifrnet.video")

_INTERLEAVE_SLACK = Fraction(10)  # seconds: tracks of a file are never further apart than this

# Muxer bookkeeping that describes the old file, not the content: never copied.
_WRITER_KEYS = {"encoder", "major_brand", "minor_version", "compatible_brands", "handler_name", "duration",
                "vendor_id", "_statistics_tags", "_statistics_writing_app", "_statistics_writing_date_utc"}


def copy_metadata(source: Dict[str, str], target: Dict[str, str]) -> None:
    """Copy the content tags (title, language, artist, ...) of ``source`` into ``target``."""
    for key, value in source.items():
        if key.lower() not in _WRITER_KEYS and not key.upper().startswith(("NUMBER_OF_", "BPS", "DURATION", "_STATISTICS")):
            target[key] = value


def encodable_rate(codec: str, rate: int) -> int:
    """``rate`` if the audio encoder takes it, else the nearest rate above it that it takes (its
    highest if none is above), e.g. 44.1 kHz -> 48 kHz for Opus, which only takes 8-48 kHz steps.

    PyAV's encoder resamples frames to its stream's rate (an ``AudioResampler`` inside ``encode``),
    so choosing the rate is all it takes.
    """
    rates = sorted(av.Codec(codec, "w").audio_rates or ())
    if not rates or rate in rates:
        return rate
    return next((r for r in rates if r > rate), rates[-1])


def _display_matrix(path: Path) -> Optional[Tuple[int, ...]]:
    """The 3x3 display matrix (rotation, flips) of the first video track, read off its first
    frame, or None. Frames are decoded as stored, so the output must carry the matrix to show
    them upright. A separate open, so the demuxer that carries the tracks starts untouched."""
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(video=0):
                data = frame.side_data.get(av.sidedata.sidedata.Type.DISPLAYMATRIX)
                return None if data is None else tuple(int(v) for v in np.frombuffer(bytes(data), dtype=np.int32))
        except av.error.FFmpegError:  # an undecodable first frame: the frame reader reports it
            return None
    return None


def display_orientation(path: Path) -> Optional[Orientation]:
    """How a player shows the first video track's frames (its display matrix's turn and mirror);
    the identity when there is no matrix, None when the matrix is not a quarter turn or a mirror."""
    return orientation_from_matrix(_display_matrix(path))


def _first_packets(container: av.container.InputContainer, streams: List[av.stream.Stream]) -> Dict[int, av.Packet]:
    """The first packet of each of ``streams`` (by index) that comes within :data:`_INTERLEAVE_SLACK`
    of the first packet read (a sparse subtitle track may have none so early)."""
    found: Dict[int, av.Packet] = {}
    first_time = None
    try:
        for packet in container.demux(*streams):
            if packet.pts is not None and packet.time_base is not None:
                time = Fraction(packet.pts) * Fraction(packet.time_base)
                first_time = time if first_time is None else first_time
                if time > first_time + _INTERLEAVE_SLACK:
                    break
            if packet.size and packet.stream.index not in found:
                found[packet.stream.index] = packet
                if len(found) == len(streams):
                    break
    except av.error.FFmpegError:  # a damaged file: the tracks are tried with what was found
        pass
    return found


def refused_copies(source_path: Path, format_name: str, indices: List[int]) -> Set[int]:
    """Which of the tracks ``indices`` of ``source_path`` a ``format_name`` file cannot take as they
    are, though the codec is one it lists: each is written alone into an in-memory file, its first
    packet included, and closed, which is where some muxers complain (MP4 about PCM whose channel
    layout is not named); otherwise that would be after the whole video was interpolated."""
    refused: Set[int] = set()
    if not indices:
        return refused
    with av.open(str(source_path)) as probe:
        streams = [probe.streams[index] for index in indices]
        firsts = _first_packets(probe, streams)
        for stream in streams:
            try:
                with av.open(io.BytesIO(), "w", format=format_name) as trial:
                    trial_stream = trial.add_stream_from_template(stream)
                    trial.start_encoding()
                    packet = firsts.get(stream.index)
                    if packet is not None:
                        packet.stream = trial_stream
                        trial.mux(packet)
            except (av.error.FFmpegError, ValueError):
                refused.add(stream.index)
    return refused


def _label(stream: av.stream.Stream) -> str:
    """"audio track 1 (opus)", or for a file attached to a Matroska file "attachment track 2 (font.ttf)", for notes."""
    codec = getattr(getattr(stream, "codec_context", None), "codec", None)
    what = codec.canonical_name if codec is not None else getattr(stream, "name", None) or "unknown codec"
    return f"{stream.type} track {stream.index} ({what})"


class StreamCarrier:
    """Carries the input's audio and subtitle tracks into the output while the video is written.

    Reads the input's packets through its own demuxer (a second open of the input file), so the
    video decoder can run ahead in another thread. Timestamps are shifted by ``shift`` (the output
    starts at the first video frame). For a part of the input, packets that start before it
    (``trim_start``: --start; up to one audio packet, ~20 ms, of silence) or ``end`` seconds into
    the output or later (--duration) are left out.
    """

    def __init__(self, output: av.container.OutputContainer, source_path: Path, shift: Fraction, *,
                 trim_start: bool = False, end: Optional[Fraction] = None) -> None:
        self._input = av.open(str(source_path))
        self._shift, self._trim_start, self._end = shift, trim_start, end
        copy_metadata(self._input.metadata, output.metadata)
        video = self._input.streams.video[0] if self._input.streams.video else None
        self.video_tags: Dict[str, str] = dict(video.metadata) if video is not None else {}
        self.display_matrix = _display_matrix(source_path) if video is not None else None
        self._out: Dict[int, av.stream.Stream] = {}  # input stream index -> output stream
        self._encoders: Dict[int, av.stream.Stream] = {}  # the ones that re-encode
        streams = [s for s in self._input.streams if s.type in ("audio", "subtitle")]
        for other in self._input.streams:
            if other.type not in ("audio", "subtitle") and (video is None or other.index != video.index):
                log.info("%s is left out: the output holds the interpolated video and the audio and subtitle tracks only",
                         _label(other))
        listed = [s.index for s in streams if s.codec_context.codec.canonical_name in output.supported_codecs]
        refused = refused_copies(source_path, output.format.name, listed)
        for in_stream in streams:
            self._add(output, in_stream, copy=in_stream.index in listed and in_stream.index not in refused)
        wanted = [s for s in streams if s.index in self._out]
        self._packets = self._input.demux(*wanted) if wanted else iter(())
        if trim_start and wanted:  # a part of the input (--start): skip what comes before it
            self._input.seek(int(shift * av.time_base), backward=True)
            self._packets = self._input.demux(*wanted)
        self._pending: Optional[av.Packet] = None
        self._done = not wanted

    def _add(self, output: av.container.OutputContainer, in_stream: av.stream.Stream, copy: bool) -> None:
        """Add the output track for ``in_stream``: a copy (``copy``: the output takes it as it is),
        else re-encoded audio or nothing."""
        codec_name = in_stream.codec_context.codec.canonical_name  # "subrip", not its decoder's "srt"
        label = _label(in_stream)
        if copy:
            out_stream = output.add_stream_from_template(in_stream)
        elif in_stream.type == "audio":
            target = "aac" if "aac" in output.supported_codecs else output.default_audio_codec
            out_stream = output.add_stream(target, rate=encodable_rate(target, in_stream.codec_context.sample_rate))
            layout = in_stream.codec_context.layout
            if layout.name == f"{layout.nb_channels} channels":  # no order named (PCM in Matroska): the usual one
                layout = av.AudioLayout(f"{layout.nb_channels}c")
            if target != "aac" and layout.nb_channels > 2:
                layout = "stereo"
            out_stream.layout = layout
            self._encoders[in_stream.index] = out_stream
            log.info("the output container cannot hold %s audio: re-encoding %s to %s", codec_name, label,
                     out_stream.codec_context.name)
        else:
            log.info("the output container cannot hold %s subtitles: %s is left out", codec_name, label)
            return
        copy_metadata(in_stream.metadata, out_stream.metadata)
        self._out[in_stream.index] = out_stream

    def _time(self, packet: av.Packet) -> Optional[Fraction]:
        """When ``packet`` starts in the output, in seconds."""
        if packet.pts is None:
            return None
        return Fraction(packet.pts) * Fraction(packet.time_base) - self._shift

    def _mux_packet(self, output: av.container.OutputContainer, packet: av.Packet) -> None:
        index = packet.stream.index
        offset = round(self._shift / Fraction(packet.time_base))
        encoder = self._encoders.get(index)
        if encoder is None:
            if packet.pts is not None:
                packet.pts -= offset
            if packet.dts is not None:
                packet.dts -= offset
            packet.stream = self._out[index]
            output.mux(packet)
            return
        for frame in packet.decode():
            if frame.pts is not None:
                frame.pts -= round(self._shift / Fraction(frame.time_base))
            output.mux(encoder.encode(frame))

    def mux_until(self, output: av.container.OutputContainer, time: Optional[Fraction]) -> None:
        """Mux the tracks up to ``time`` seconds of the output (to the end when None)."""
        while not self._done:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                self._done = True
                break
            if packet.dts is None and packet.size == 0:  # the demuxer's final flush packet
                continue
            packet_time = self._time(packet)
            if packet_time is not None:
                if self._end is not None and packet_time >= self._end:
                    # Past the part converted; other tracks may still have packets before it, but
                    # not this far beyond, as muxers interleave the tracks by time.
                    self._done = packet_time > self._end + _INTERLEAVE_SLACK
                    continue
                if packet_time < 0 and self._trim_start:
                    continue  # before the part converted (--start)
                if time is not None and packet_time > time:
                    self._pending = packet
                    return
            self._mux_packet(output, packet)
        if time is None:
            for encoder in self._encoders.values():
                output.mux(encoder.encode(None))
            self._encoders = {}

    def close(self) -> None:
        self._input.close()
