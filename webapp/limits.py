"""What one job of the web app may ask for, checked on the server before any work is done.

The page's sliders stop at their bounds, but the API endpoints (``/frames``, ``/video``) take any
value a client sends: every parameter is checked here against the bounds the page offers (the
page is built from the same constants), every file path against the folder Gradio keeps this
app's uploads in (a client can send any path of the server), and every upload against
:class:`AppLimits` from what its header says, before a pixel is decoded. A video's header may not
say how long it is (a WebM written to a pipe has no duration), so its packets are counted too,
stopping at the limit.
"""
from __future__ import annotations

import math
import os
from contextlib import closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Optional, Tuple

import av

from utils.errors import InputError
from utils.image_io import image_size
from video.sinks import CRF_RANGES
from video.sources import VideoFileSource

__all__ = [
    "AppLimits",
    "MAX_IN_BETWEEN",
    "MAX_FACTOR",
    "CRF_RANGE",
    "MAX_SCENE_THRESHOLD",
    "whole_number",
    "number_in",
    "uploaded_file",
    "check_image_header",
    "VideoProbe",
    "probe_video",
]

MAX_IN_BETWEEN = 31  # frames requested at once: 32x slow motion of one pair is plenty for a preview
MAX_FACTOR = 8  # the Video tab's largest factor; a target fps may ask for as much, not more
CRF_RANGE = CRF_RANGES["libx264"]  # the app writes H.264 MP4
MAX_SCENE_THRESHOLD = 255.0  # the scene measure is a grey difference in 0-255


@dataclass(frozen=True)
class AppLimits:
    """What one job may ask for, so a shared app cannot be made to run for hours (``app.py`` flags)."""

    max_image_pixels: int = 3840 * 2160
    max_video_megabytes: float = 200.0
    max_video_seconds: float = 60.0
    max_video_pixels: int = 1920 * 1080
    # What a video job writes, whatever its header says: a few frames that cover seconds at a high
    # output rate are thousands of network frames. 14,400 is a minute of 30 fps video at 8x.
    max_output_frames: int = 14_400


def number_in(value: Any, what: str, low: float, high: float, *, kind: str = "a number") -> float:
    """``value`` as a finite float in [low, high], or an InputError naming ``what`` and the bounds."""
    refusal = InputError(f"{what} must be {kind} from {low:g} to {high:g}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise refusal from None
    if not (math.isfinite(number) and low <= number <= high):
        raise refusal
    return number


def whole_number(value: Any, what: str, low: int, high: int) -> int:
    """``value`` as an int in [low, high] (2.0 passes, 2.5 does not), or an InputError."""
    number = number_in(value, what, low, high, kind="a whole number")
    if number != int(number):
        raise InputError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return int(number)


def uploaded_file(path: Optional[str], which: str, upload_folder: Path) -> Optional[str]:
    """``path`` with its links resolved, when it is a file inside ``upload_folder`` (where Gradio
    keeps what was uploaded to this app); None stays None (the jobs say what is missing).

    The API passes on whatever path a client writes (Gradio checks only the paths it is told are
    its own files), so any other path is refused, with the same words whether or not it exists:
    the page neither reads a server's file nor tells which exist."""
    if not path:
        return None
    try:
        resolved = Path(os.path.realpath(path))
        inside = resolved.is_relative_to(os.path.realpath(upload_folder)) and resolved.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long, a folder that cannot be read
        inside = False
    if not inside:
        raise InputError(f"{which} is not a file uploaded to this app: upload it")
    return str(resolved)


def check_image_header(path: Optional[str], which: str, limits: AppLimits) -> Tuple[int, int]:
    """(height, width) of an image from its header (as ``utils.image_io.image_size``), refusing a
    missing one or one over ``limits``: a 12000x12000 PNG can be a few hundred KB on disk and
    430 MB decoded, so this comes first."""
    if not path:
        raise InputError(f"{which} is missing: give two images")
    height, width = image_size(path)
    if height * width > limits.max_image_pixels:
        raise InputError(f"{which} is {width}x{height}, over this app's limit of {limits.max_image_pixels:,} pixels")
    return height, width


@dataclass(frozen=True)
class VideoProbe:
    """What :func:`probe_video` learnt of an upload without decoding it."""

    width: int
    height: int
    seconds: float  # from the header, else from counting its packets
    frames: int  # packets of the video stream: one per frame
    rate: Fraction  # the stream's average frame rate (a video without one is refused)


def _over_seconds(seconds: Optional[float], limits: AppLimits) -> InputError:
    """The message for a video over the time limit; ``seconds`` None: counting stopped at the limit."""
    if seconds is None:
        return InputError(f"the video lasts more than this app's limit of {limits.max_video_seconds:g} s")
    return InputError(f"the video lasts {seconds:.1f} s, over this app's limit of {limits.max_video_seconds:g} s")


def _count_frames(packets: Iterable[av.Packet], rate: Fraction, limits: AppLimits) -> Tuple[int, float]:
    """(packets, seconds they span) of the video stream, demuxed but not decoded; stops with an
    InputError as soon as they pass the time limit, whatever the header said. A read error ends
    the count: the conversion yields what it can decode."""
    count, first, last = 0, None, None
    seconds = 0.0
    try:
        for packet in packets:
            count += 1
            if packet.pts is not None and packet.time_base:
                begin = float(packet.pts * packet.time_base)
                end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                first, last = begin if first is None else min(first, begin), end if last is None else max(last, end)
            seconds = max(last - first if first is not None else 0.0, count / float(rate))
            if seconds > limits.max_video_seconds:
                raise _over_seconds(None, limits)
    except av.error.FFmpegError:
        pass
    return count, seconds


def probe_video(path: Optional[str], limits: AppLimits) -> VideoProbe:
    """Size, duration and frame count of an upload, refusing what is not a video or is over
    ``limits``: the header's size and duration first (as :class:`video.sources.VideoFileSource`
    reads them for the conversion), then a count of its packets (a header may lack the duration
    or understate it), so a refused upload costs no decoding."""
    if not path or not Path(path).is_file():
        raise InputError("no video was given")
    name = Path(path).name
    megabytes = Path(path).stat().st_size / 1e6
    if megabytes > limits.max_video_megabytes:
        raise InputError(f"the video is {megabytes:.0f} MB, over this app's limit of {limits.max_video_megabytes:g} MB")
    try:
        source = VideoFileSource(path)
    except Exception:  # an InputError, or what PyAV raises for a file it cannot demux: all mean "not a video"
        raise InputError(f"{name} is not a video this app can read") from None
    with closing(source):
        if source.format_name.endswith("_pipe") or source.format_name == "image2":
            raise InputError(f"{name} is an image, not a video: interpolate two images in the Frames tab")
        info = source.info
        if info.width * info.height > limits.max_video_pixels:
            raise InputError(f"the video is {info.width}x{info.height}, over this app's limit of "
                             f"{limits.max_video_pixels:,} pixels a frame")
        seconds = float(info.end - info.start) if info.end is not None else 0.0
        if seconds > limits.max_video_seconds:
            raise _over_seconds(seconds, limits)
        frames, counted = _count_frames(source.packets(), info.rate, limits)
    return VideoProbe(info.width, info.height, max(seconds, counted), frames, info.rate)
