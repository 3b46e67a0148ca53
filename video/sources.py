"""Reading the input: a video file or a folder of images, as timestamped frames.

Sources yield :class:`SourceFrame` (timestamp in seconds as an exact fraction, RGB pixels), one at
a time, so memory does not grow with the video. Both kinds meet :class:`FrameSource`; what is
written, and where, is ``video.sinks`` and ``video.output``.
"""
from __future__ import annotations

import heapq
import logging
import re
import stat
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, Iterator, List, NamedTuple, Optional, Protocol, Tuple, Union

import av
import numpy as np

from utils.errors import InputError
from utils.image_io import IMAGE_SUFFIXES, image_files, read_image
from video.pipes import STDIN_NAME, is_stdio, stdin_stream

__all__ = [
    "SourceFrame",
    "SourceInfo",
    "ColourTags",
    "FrameSource",
    "VideoFileSource",
    "FrameFolderSource",
    "open_source",
    "list_frames",
]

log = logging.getLogger("ifrnet.video")


@dataclass(frozen=True)
class SourceFrame:
    """One decoded input frame: its position, its timestamp in seconds and its RGB pixels."""

    number: int
    time: Fraction
    image: np.ndarray


class ColourTags(NamedTuple):
    """A video stream's colour description (FFmpeg's AVColor* numbers): how its pixel values map to
    light. Frames pass through the tool as the same YUV values, so the output needs the same tags to
    look the same (bt2020 / HLG or PQ for HDR; players assume bt709 SDR where a tag is missing)."""

    primaries: int
    transfer: int
    matrix: int
    range: int

    def describe(self) -> str:
        names = {"primaries": {1: "bt709", 9: "bt2020"}, "transfer": {1: "bt709", 16: "PQ", 18: "HLG"},
                 "matrix": {1: "bt709", 9: "bt2020nc"}}
        parts = [names[field].get(getattr(self, field), f"{field} {getattr(self, field)}") for field in names]
        return ", ".join(parts + [{1: "limited range", 2: "full range"}.get(self.range, "range unspecified")])


_UNSPECIFIED_COLOUR = ColourTags(2, 2, 2, 0)


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
    colour: Optional[ColourTags] = None  # None: unspecified (and always for image frames)
    bit_depth: int = 8  # bits per sample as stored; frames are decoded to 8 bits
    alpha: Optional[str] = None  # the pixel format, when it has an alpha channel (decoded without it)


class FrameSource(Protocol):
    """What a conversion reads frames from (a video file, a folder of images).

    ``info`` is known on opening; ``end_time`` (when the last frame stops being shown) once
    ``frames()`` is exhausted; ``media_path`` is the file whose other streams (audio) and metadata
    may travel with the frames into a video output, or None when there is no such file.
    """

    info: SourceInfo
    end_time: Optional[Fraction]
    media_path: Optional[Path]

    def frames(self) -> Iterator[SourceFrame]:
        """The frames in presentation order, one at a time."""
        ...

    def seek(self, time: Fraction) -> None:
        """Make ``frames()`` start at a frame at or shortly before ``time`` seconds (for --start)."""
        ...

    def close(self) -> None:
        """Release the input (safe to call once after any number of frames)."""
        ...


_CLOCK = re.compile(r"(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def _stream_end(stream: av.video.stream.VideoStream, start: Fraction, time_base: Fraction) -> Optional[Fraction]:
    """When the video stream's last frame ends by the header, in seconds, or None: its duration
    field, or Matroska's DURATION tag ("00:00:04.000000000", which FFmpeg and mkvmerge write per track)."""
    if stream.duration:
        return start + Fraction(stream.duration) * time_base
    tag = next((value for key, value in stream.metadata.items() if key.upper().split("-")[0] == "DURATION"), "")
    match = _CLOCK.fullmatch(tag.strip())
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    end = (int(hours) * 60 + int(minutes)) * 60 + Fraction(seconds)
    # FFmpeg writes the track's end time, mkvmerge its length: read as the end, the smaller of the
    # two for a track that starts late, so that a complete file is never taken for a short one.
    return end if end > start else None


def _natural_key(name: str) -> list:
    """Sort "frame2.png" before "frame10.png"."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _first_line(error: BaseException) -> str:
    """The first line of an FFmpeg error, for a one-line message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class VideoFileSource:
    """Frames of a video file's first video stream, in presentation order, with their timestamps.

    Timestamps come from the stream (``pts x time_base``), so variable-frame-rate input keeps its
    timing; frames without a timestamp follow the previous one by one average frame interval, and
    frames whose timestamp does not increase (broken muxing) are dropped with a log line.

    A stream whose frame size changes part-way (a TS recording that switches resolution) is scaled
    to its first frame's size, with one warning: the network, the scene measure and the encoder take
    one size. A video with an alpha channel is read opaque; a warning says so once a frame has a
    pixel that is not fully opaque (a GIF is decoded with alpha whether or not it uses it).

    AVI stores no presentation times, only each packet's place in decoding order, so with B-frames
    the decoded frames (in presentation order) carry scrambled stamps (1, 4, 3, 5, 2 ...) and half
    of them would look out of order. There each frame gets the smallest packet stamp not yet given
    out: the decoder returns frames in presentation order, one per packet, so that is its time.

    A ``stream`` (standard input) is read once, front to back: ``seek`` then only skips frames as
    they are decoded, and ``media_path`` is None (its other tracks cannot be read again).
    """

    def __init__(self, path: Union[str, Path], *, strict: bool = False, stream: Optional[BinaryIO] = None) -> None:
        self.path = Path(path)
        self.strict = strict  # an input that ends early is an error rather than a warning
        self._seekable = stream is None
        try:
            self._container = av.open(stream if stream is not None else str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as error:
            kind = "file" if stream is None else "stream"
            raise InputError(f"not a video {kind} (or an unsupported one): {self.path} ({_first_line(error)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(f"{self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.info = self._read_info()
        self.media_path: Optional[Path] = self.path if self._seekable else None
        self.end_time: Optional[Fraction] = None  # known exactly once all frames were read
        self.decode_error: Optional[str] = None  # the first decoding error, once frames() has run
        self._sought = False
        self._resized = False  # a frame of another size than the first was scaled (warned once)
        self._transparent = False  # a frame with a pixel that is not fully opaque was read (warned once)
        self.format_name: str = self._container.format.name  # FFmpeg's demuxer: "mov,mp4,...", "png_pipe" for an image
        self._restamp = self.format_name == "avi"  # see the class docstring

    def _read_info(self) -> SourceInfo:
        stream, container = self._stream, self._container
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or rate <= 0:
            raise InputError(f"{self.path}: the video stream has no frame rate; pass --fps to set the output rate")
        rate = Fraction(rate)
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 1000000)
        start = Fraction(stream.start_time) * time_base if stream.start_time is not None else Fraction(0)
        stream_end = _stream_end(stream, start, time_base)
        container_end = None
        if container.duration:
            container_start = Fraction(container.start_time, av.time_base) if container.start_time is not None else start
            container_end = container_start + Fraction(container.duration, av.time_base)
        end = stream_end if stream_end is not None else container_end
        self.promised_frames = stream.frames or None  # the header's exact count, when it has one
        # Without a count (Matroska, WebM, TS), the end the header gives is what a truncated file
        # falls short of: the video stream's own, or the container's when the video is all it holds
        # (with other tracks it is the longest track's: audio may run on past the last frame).
        self.promised_end = None
        if self.promised_frames is None:
            self.promised_end = stream_end if stream_end is not None or len(container.streams) > 1 else container_end
        frame_count = stream.frames or (round((end - start) * rate) if end is not None else None)
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise InputError(f"{self.path}: the video stream has no frame size")
        has_audio = bool(container.streams.audio)
        # Stored stamps are rounded to the time base, so the clock snaps within half of it; but when
        # the time base divides the frame interval (AVI: one unit per frame) every stamp is exact,
        # and half a unit would be the middle of a 2x output, which must be interpolated, not snapped.
        snap = Fraction(0) if ((1 / rate) / time_base).denominator == 1 else time_base / 2
        context = stream.codec_context
        colour = ColourTags(context.color_primaries, context.color_trc, context.colorspace, context.color_range)
        components = context.format.components if context.format is not None else ()
        bit_depth = max((c.bits for c in components), default=8)
        alpha = context.format.name if any(c.is_alpha for c in components) else None
        return SourceInfo(width, height, rate, start, end, frame_count, snap, has_audio,
                          None if colour == _UNSPECIFIED_COLOUR else colour, bit_depth, alpha)

    def _decoded(self) -> Iterator[av.VideoFrame]:
        """The stream's frames; a damaged packet is skipped (its error kept) rather than ending the
        decoding, and a read error ends it, so a damaged or truncated file yields what it can."""
        packets = self._container.demux(self._stream)
        pending: List[int] = []  # AVI: stamps of the packets sent whose frames have not come out
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as error:  # the file ends mid-packet: flush what is decoded
                self.decode_error = self.decode_error or _first_line(error)
                packet = None
            if self._restamp and packet is not None and packet.size and packet.pts is not None:
                heapq.heappush(pending, packet.pts)
            try:
                for frame in self._stream.decode(packet):
                    if self._restamp and pending:
                        frame.pts = heapq.heappop(pending)
                    yield frame
            except av.error.FFmpegError as error:
                self.decode_error = self.decode_error or _first_line(error)
            if packet is None:
                break

    def packets(self) -> Iterator[av.Packet]:
        """The video stream's packets, demuxed but not decoded (a 200 MB file in well under a
        second), one per frame: what a frame count costs without decoding. Read either these or
        ``frames()``, not both."""
        return (packet for packet in self._container.demux(self._stream) if packet.size)  # not the final empty one

    @property
    def time_base(self) -> Fraction:
        """The video stream's unit of time (seconds per tick) that its packets' timestamps count in."""
        return Fraction(self._stream.time_base) if self._stream.time_base else Fraction(1, 1000000)

    def seek(self, time: Fraction) -> None:
        """Jump to the key frame at or before ``time``, so a part late in a long file starts at once
        (a stream cannot jump: the frames before are decoded, and the caller skips them)."""
        if not self._seekable:
            return
        time_base = self.time_base
        # A time past any file (--start 1e30) lands at the end, where no frame follows (an int64 offset).
        target = min(int(time / time_base), 2**62)
        self._container.seek(target, backward=True, any_frame=False, stream=self._stream)
        self._sought = True

    def _check_complete(self, decoded: int, end: Optional[Fraction]) -> None:
        """Warn (or with ``strict``, fail) when fewer frames were decoded than the header promises,
        or, for a header without a frame count, when they end (at ``end`` seconds) more than two
        frame intervals before the end it gives."""
        if decoded == 0 and self.decode_error:
            raise InputError(f"cannot decode frame 1 of {self.path}: {self.decode_error}")
        promised = None if self._sought else self.promised_frames  # after a seek the counts differ
        short = promised is not None and decoded < promised
        short_time = (self.promised_end is not None and end is not None
                      and end < self.promised_end - 2 / self.info.rate)
        if not short and not short_time and self.decode_error is None:
            return
        problem = "ends early" if short or short_time else "is damaged"
        if promised:
            counts = f"decoded {decoded} of the {promised} frames its header promises"
        elif short_time:
            start = self.info.start
            counts = (f"decoded {decoded} frames, {float(end - start):.2f} s of the "
                      f"{float(self.promised_end - start):.2f} s its header gives")
        else:
            counts = f"decoded {decoded} frames"
        reason = f" (decode error: {self.decode_error})" if self.decode_error else ""
        if self.strict:
            raise InputError(f"{self.path} {problem}: {counts}{reason}; --strict refuses a partial conversion")
        log.warning("warning: %s %s: %s%s; the output covers only those (--strict makes this an error)",
                    self.path, problem, counts, reason)

    def _image(self, frame: av.VideoFrame, size: Tuple[int, int], time: Fraction) -> np.ndarray:
        """The RGB pixels of ``frame`` (shown at ``time``) at ``size``, the first frame's: a frame of
        another size is scaled, with a warning the first time; an alpha channel is dropped, with a
        warning at the first pixel that is not fully opaque."""
        width, height = size
        if (frame.width, frame.height) != size and not self._resized:
            self._resized = True
            log.warning("warning: %s changes its frame size at %.2f s, from %dx%d to %dx%d: frames of another size "
                        "are scaled to %dx%d", self.path, float(time - self.info.start), width, height,
                        frame.width, frame.height, width, height)
        if self.info.alpha is None:
            return frame.to_ndarray(format="rgb24", width=width, height=height)
        pixels = frame.to_ndarray(format="rgba", width=width, height=height)
        if not self._transparent and pixels[..., 3].min() < 255:
            self._transparent = True
            log.warning("warning: %s has an alpha channel (%s) with transparent pixels (from %.2f s on); the output "
                        "is opaque: the transparency is dropped", self.path, self.info.alpha, float(time - self.info.start))
        return np.ascontiguousarray(pixels[..., :3])

    def frames(self) -> Iterator[SourceFrame]:
        """Decode frame by frame; sets ``end_time`` after the last one."""
        number, last_time, last_duration = 0, None, 1 / self.info.rate
        dropped = 0
        size: Optional[Tuple[int, int]] = None  # the first frame's (width, height): every frame's
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
            size = size or (frame.width, frame.height)
            image = self._image(frame, size, time)
            number += 1
            last_time = time
            yield SourceFrame(number, time, image)
        if dropped:
            log.info("dropped %d frame(s) of %s whose timestamp did not increase", dropped, self.path)
        end = last_time + last_duration if last_time is not None else None
        self._check_complete(number + dropped, end)
        self.end_time = end

    def close(self) -> None:
        self._container.close()


class FrameFolderSource:
    """The image frames of a folder (:data:`utils.image_io.IMAGE_SUFFIXES`), in natural name order, shown at ``rate`` frames per second."""

    def __init__(self, path: Union[str, Path], rate: Fraction) -> None:
        self.path = Path(path)
        if rate <= 0:
            raise InputError(f"--input_fps must be positive, got {rate}")
        self.files = list_frames(self.path)
        if not self.files:
            raise InputError(f"no image frames ({', '.join(s[1:] for s in IMAGE_SUFFIXES)}) in folder {self.path}")
        first = read_image(self.files[0])
        self.media_path: Optional[Path] = None  # images carry no audio
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
        self._first = 0  # index of the first file frames() reads

    def seek(self, time: Fraction) -> None:
        """Start at the frame shown at ``time`` (frame k is shown from k / rate on)."""
        self._first = min(max(0, int(Fraction(time) * self.info.rate)), len(self.files) - 1)

    def frames(self) -> Iterator[SourceFrame]:
        size = (self.info.height, self.info.width, 3)
        for number, path in enumerate(self.files[self._first:], start=self._first + 1):
            image = read_image(path)
            if image.shape != size:
                raise InputError(
                    f"frame {path.name} is {image.shape[1]}x{image.shape[0]} but the first frame is "
                    f"{self.info.width}x{self.info.height}; all frames must have one size"
                )
            yield SourceFrame(number, Fraction(number - 1) / self.info.rate, image)
        self.end_time = Fraction(len(self.files)) / self.info.rate

    def close(self) -> None:
        """Nothing to release: each image is opened and closed as it is read."""


def open_source(path: Union[str, Path], folder_rate: Fraction, *, strict: bool = False) -> FrameSource:
    """A video file, a folder of frames, or for ``-`` a video stream on standard input; ``folder_rate`` is the frame rate a folder is played at;
    ``strict``: a video that ends before its header's frame count is an error, not a warning."""
    if is_stdio(path):
        return VideoFileSource(STDIN_NAME, strict=strict, stream=stdin_stream())
    path = Path(path)
    if not path.exists():
        raise InputError(f"input not found: {path}")
    if path.is_dir():
        return FrameFolderSource(path, folder_rate)
    if not stat.S_ISREG(path.stat().st_mode):  # (/dev/stdin into which a file is redirected is a file)
        raise InputError(f"{path} is a pipe or device, not a file: give a video file or a folder of frames, "
                         "or --input - to read a stream from standard input")
    return VideoFileSource(path, strict=strict)




def list_frames(folder: Union[str, Path]) -> List[Path]:
    """The frame files of a folder in the order a FrameFolderSource reads them."""
    return sorted(image_files(Path(folder)), key=lambda p: _natural_key(p.name))
