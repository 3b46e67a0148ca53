"""Reading and writing videos and frame folders with PyAV, with exact timestamps and the audio kept.

Sources yield :class:`SourceFrame` (timestamp in seconds as an exact fraction, RGB pixels), one at
a time, so memory does not grow with the video. Sinks take output frames by index at a constant
rate. A video sink copies the input's audio packets into the output as it goes (no re-encoding)
when the output container accepts the codec, else re-encodes them to the container's usual
audio codec (AAC for MP4/MOV/MKV, Opus for WebM) and logs that once.

Where the output goes (path rules, --overwrite, the move into place) is ``video.output``.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, List, Optional, Union

import av
import numpy as np
from PIL import Image

from utils.errors import InputError
from utils.image_io import read_image
from video.encoders import CRF_RANGES, encodable_rate, pick_pixel_format, video_encoder

__all__ = [
    "VIDEO_FORMATS",
    "FRAME_SUFFIXES",
    "SourceFrame",
    "SourceInfo",
    "VideoFileSource",
    "FrameFolderSource",
    "open_source",
    "VideoFileSink",
    "FrameFolderSink",
    "OWN_FRAME_NAME",
    "list_frames",
]

log = logging.getLogger("ifrnet.video")

# Output containers by extension (FFmpeg muxer names).
VIDEO_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg")
# What FrameFolderSink names its frames: the only files --overwrite may replace in a folder output.
OWN_FRAME_NAME = re.compile(r"\d{8}\.png")
_AUDIO_LEAD = Fraction(1, 2)  # mux audio this far ahead of the video, as muxers interleave anyway


@dataclass(frozen=True)
class SourceFrame:
    """One decoded input frame: its position, its timestamp in seconds and its RGB pixels."""

    number: int
    time: Fraction
    image: np.ndarray


@dataclass(frozen=True)
class SourceInfo:
    """What is known about an input before decoding it; ``end`` and ``frame_count`` may be estimates."""

    width: int
    height: int
    rate: Fraction  # average frames per second
    start: Fraction  # timestamp of the first frame, seconds
    end: Optional[Fraction]  # when the last frame stops being shown, seconds (estimate)
    frame_count: Optional[int]
    snap: Fraction  # rounding of stored timestamps (half the time base)
    has_audio: bool


def _natural_key(name: str) -> list:
    """Sort "frame2.png" before "frame10.png"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class VideoFileSource:
    """Frames of a video file's first video stream, in presentation order, with their timestamps.

    Timestamps come from the stream (``pts x time_base``), so variable-frame-rate input keeps its
    timing; frames without a timestamp follow the previous one by one average frame interval, and
    frames whose timestamp does not increase (broken muxing) are dropped with a log line.
    """

    def __init__(self, path: Union[str, Path], *, strict: bool = False) -> None:
        self.path = Path(path)
        self.strict = strict  # an input that ends early is an error rather than a warning
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as error:
            raise InputError(f"not a video file (or an unsupported one): {self.path} ({_first_line(error)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.audio_stream = self._container.streams.audio[0] if self._container.streams.audio else None
        self.info = self._read_info()
        self.end_time: Optional[Fraction] = None  # known exactly once all frames were read
        self.decode_error: Optional[str] = None  # the first decoding error, once frames() has run

    def _read_info(self) -> SourceInfo:
        stream, container = self._stream, self._container
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise InputError(f"{self.path}: the video stream has no frame rate; pass --fps to set the output rate")
        rate = Fraction(rate)
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000000)
        start = Fraction(stream.start_time) * time_base if stream.start_time is not None else Fraction(0)
        end = None
        if stream.duration:
            end = start + Fraction(stream.duration) * time_base
        elif container.duration:
            end = start + Fraction(container.duration, av.time_base)
        self.promised_frames = stream.frames or None  # the header's exact count, when it has one
        frame_count = stream.frames or (round((end - start) * rate) if end is not None else None)
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise InputError(f"{self.path}: the video stream has no frame size")
        return SourceInfo(width, height, rate, start, end, frame_count, time_base / 2, self.audio_stream is not None)

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """The stream's frames; a damaged packet is skipped (its error kept) rather than ending the
        decoding, and a read error ends it, so a damaged or truncated file yields what it can."""
        packets = self._container.demux(self._stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as error:  # the file ends mid-packet: flush what is decoded
                self.decode_error = self.decode_error or _first_line(error)
                packet = None
            try:
                yield from self._stream.decode(packet)
            except av.error.FFmpegError as error:
                self.decode_error = self.decode_error or _first_line(error)
            if packet is None:
                break

    def _check_complete(self, decoded: int) -> None:
        """Warn (or with ``strict``, fail) when fewer frames were decoded than the header promises."""
        if decoded == 0 and self.decode_error:
            raise InputError(f"cannot decode frame 1 of {self.path}: {self.decode_error}")
        promised = self.promised_frames
        short = promised is not None and decoded < promised
        if not short and self.decode_error is None:
            return
        problem = "ends early" if short else "is damaged"
        counts = f"decoded {decoded} of the {promised} frames its header promises" if promised else f"decoded {decoded} frames"
        reason = f" (decode error: {self.decode_error})" if self.decode_error else ""
        if self.strict:
            raise InputError(f"{self.path} {problem}: {counts}{reason}; --strict refuses a partial conversion")
        log.warning("warning: %s %s: %s%s; the output covers only those (--strict makes this an error)",
                    self.path, problem, counts, reason)

    def frames(self) -> Iterator[SourceFrame]:
        """Decode frame by frame; sets ``end_time`` after the last one."""
        number, last_time, last_duration = 0, None, 1 / self.info.rate
        dropped = 0
        for frame in self._decoded():
            if frame.pts is not None and frame.time_base is not None:
                time = Fraction(frame.pts) * Fraction(frame.time_base)
            elif last_time is not None:
                time = last_time + 1 / self.info.rate
            else:
                time = self.info.start
            if last_time is not None and time <= last_time:
                dropped += 1
                continue
            if frame.duration and frame.time_base is not None:
                last_duration = Fraction(frame.duration) * Fraction(frame.time_base)
            elif last_time is not None:
                last_duration = time - last_time
            image = frame.to_ndarray(format="rgb24")
            number += 1
            last_time = time
            yield SourceFrame(number, time, image)
        if dropped:
            log.info("dropped %d frame(s) of %s whose timestamp did not increase", dropped, self.path)
        self._check_complete(number + dropped)
        if last_time is not None:
            self.end_time = last_time + last_duration

    def close(self) -> None:
        self._container.close()


class FrameFolderSource:
    """The PNG/JPEG frames of a folder, in natural name order, shown at ``rate`` frames per second."""

    def __init__(self, path: Union[str, Path], rate: Fraction) -> None:
        self.path = Path(path)
        if rate <= 0:
            raise InputError(f"--input_fps must be positive, got {rate}")
        self.files = list_frames(self.path)
        if not self.files:
            raise InputError(f"no {'/'.join(s[1:] for s in FRAME_SUFFIXES)} frames in folder {self.path}")
        first = read_image(self.files[0])
        self.audio_stream = None
        self.info = SourceInfo(
            width=first.shape[1],
            height=first.shape[0],
            rate=Fraction(rate),
            start=Fraction(0),
            end=Fraction(len(self.files)) / rate,
            frame_count=len(self.files),
            snap=Fraction(0),
            has_audio=False,
        )
        self.end_time: Optional[Fraction] = None

    def frames(self) -> Iterator[SourceFrame]:
        size = (self.info.height, self.info.width, 3)
        for number, path in enumerate(self.files, start=1):
            image = read_image(path)
            if image.shape != size:
                raise InputError(
                    f"frame {path.name} is {image.shape[1]}x{image.shape[0]} but the first frame is "
                    f"{self.info.width}x{self.info.height}; all frames must have one size"
                )
            yield SourceFrame(number, Fraction(number - 1) / self.info.rate, image)
        self.end_time = Fraction(len(self.files)) / self.info.rate

    def close(self) -> None:
        pass


Source = Union[VideoFileSource, FrameFolderSource]


def open_source(path: Union[str, Path], folder_rate: Fraction, *, strict: bool = False) -> Source:
    """A video file or a folder of frames; ``folder_rate`` is the frame rate a folder is played at;
    ``strict``: a video that ends before its header's frame count is an error, not a warning."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        return FrameFolderSource(path, folder_rate)
    return VideoFileSource(path, strict=strict)


# --------------------------------------------------------------------------------------------
# Output


class _AudioCarrier:
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
        self._audio: Optional[_AudioCarrier] = None
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
                self._audio = _AudioCarrier(self._container, Path(audio_from), audio_shift)
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
        pass

    def abort(self) -> None:
        pass


Sink = Union[VideoFileSink, FrameFolderSink]


def list_frames(folder: Union[str, Path]) -> List[Path]:
    """The frame files of a folder in the order a FrameFolderSource reads them."""
    return sorted(
        (p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in FRAME_SUFFIXES),
        key=lambda p: _natural_key(p.name),
    )
