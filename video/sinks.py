"""Writing the output: a video file (the input's audio carried along) or a folder of images.

Sinks take output frames by index at a constant rate and meet :class:`FrameSink`. Where the output
goes (path rules, --overwrite, the move into place) is ``video.output``.
"""
from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import Optional, Protocol, Union

import av
import numpy as np
from PIL import Image

from utils.errors import InputError
from video.encoders import CRF_RANGES, pick_pixel_format, video_encoder
from video.passthrough import AudioCarrier

__all__ = ["VIDEO_FORMATS", "OWN_FRAME_NAME", "FrameSink", "VideoFileSink", "FrameFolderSink"]

log = logging.getLogger("ifrnet.video")

# Output containers by extension (FFmpeg muxer names).
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
# What FrameFolderSink names its frames: the only files --overwrite may replace in a folder output.
OWN_FRAME_NAME = re.compile(r"\d{8}\.png")
_AUDIO_LEAD = Fraction(1, 2)  # mux audio this far ahead of the video, as muxers interleave anyway


class FrameSink(Protocol):
    """What a conversion writes frames to (a video file, a folder of images).

    ``write(index, image)`` is called with indices 0, 1, 2 ... in order; ``finish()`` once after
    the last frame makes the output complete; ``abort()`` instead releases it after a failure (the
    partial output is then discarded by :func:`video.output.atomic_output`).
    """

    def write(self, index: int, image: np.ndarray) -> None:
        ...

    def finish(self) -> None:
        ...

    def abort(self) -> None:
        ...


class VideoFileSink:
    """Encodes frames at a constant ``rate`` into a video file, carrying the source's audio along.

    ``write(index, image)`` must be called with indices 0, 1, 2 ...; frame ``index`` is shown at
    ``index / rate`` seconds. ``finish()`` flushes the encoder and the rest of the audio.
    """

    def __init__(
        self,
        path: Union[str, Path],
        *,
        width: int,
        height: int,
        rate: Fraction,
        codec: str,
        crf: Optional[int],
        audio_from: Optional[Path] = None,
        audio_shift: Fraction = Fraction(0),
        format_name: Optional[str] = None,
    ) -> None:
        self.path = Path(path)
        format_name = format_name or VIDEO_FORMATS[self.path.suffix.lower()]
        encoder = video_encoder(codec)
        self._container = av.open(str(self.path), mode="w", format=format_name)
        self._audio: Optional[AudioCarrier] = None
        try:
            if encoder.canonical_name not in self._container.supported_codecs:
                raise InputError(f"a {self.path.suffix} file cannot hold {codec} video; choose another --codec or extension")
            self.rate = Fraction(rate)
            self._stream = self._container.add_stream(codec, rate=self.rate)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = pick_pixel_format(encoder, width, height)
            # Frames are stamped in units of one output frame; the muxer may pick its own stream
            # time base (MP4 uses a multiple of the rate) and rescales the packets to it.
            self._time_base = 1 / self.rate
            self._stream.codec_context.time_base = self._time_base
            self._stream.thread_type = "AUTO"
            if crf is not None:
                if encoder.name in CRF_RANGES:
                    options = {"crf": str(crf)}
                    if encoder.name.startswith("libvpx"):
                        options["b"] = "0"  # VP8/9 honour crf as constant quality only with bitrate 0
                    self._stream.options = options
                else:
                    log.info("--crf does not apply to %s; using its default quality", encoder.name)
            if audio_from is not None:
                self._audio = AudioCarrier(self._container, Path(audio_from), audio_shift)
        except BaseException:
            self.abort()
            raise
        self._next_index = 0

    def write(self, index: int, image: np.ndarray) -> None:
        if index != self._next_index:
            raise ValueError(f"frames must be written in order: expected {self._next_index}, got {index}")
        self._next_index += 1
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        frame.time_base = self._time_base
        if self._audio is not None:
            self._audio.mux_until(self._container, Fraction(index) / self.rate + _AUDIO_LEAD)
        self._container.mux(self._stream.encode(frame))

    def finish(self) -> None:
        self._container.mux(self._stream.encode(None))
        if self._audio is not None:
            self._audio.mux_until(self._container, None)
            self._audio.close()
            self._audio = None
        self._container.close()

    def abort(self) -> None:
        """Close without flushing (the partial file is then deleted by :func:`atomic_output`)."""
        if self._audio is not None:
            self._audio.close()
        try:
            self._container.close()
        except Exception:  # closing a half-written container may complain; the file is discarded
            pass


class FrameFolderSink:
    """Writes output frames as numbered PNGs (00000000.png, 00000001.png, ...) into a folder."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def write(self, index: int, image: np.ndarray) -> None:
        # Plain saves: the folder as a whole is made atomic by atomic_output, and a per-file fsync
        # would cost more than the encoding. A low zlib level keeps PNG from being the bottleneck.
        Image.fromarray(image).save(self.path / f"{index:08d}.png", compress_level=3)  # see OWN_FRAME_NAME

    def finish(self) -> None:
        """Nothing to flush: each frame is a complete file once ``write`` returns."""

    def abort(self) -> None:
        """Nothing to close: the partial folder is deleted by :func:`atomic_output`."""
