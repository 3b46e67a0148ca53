"""What one job of the web app may ask for, checked on the server before any work is done.

The page's sliders stop at their bounds, but the API endpoints (``/frames``, ``/video``) take any
value a client sends: every parameter is checked here against the bounds the page offers (the
page is built from the same constants), and every upload against :class:`AppLimits` from what its
header says, before a pixel is decoded. A video's header may not say how long it is (a WebM
written to a pipe has no duration), so its packets are counted too, stopping at the limit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Optional, Tuple

import av

from utils.errors import InputError
from utils.image_io import image_size
from video.encoders import CRF_RANGES

__all__ = [
    "AppLimits",
    "MAX_IN_BETWEEN",
    "MAX_FACTOR",
    "CRF_RANGE",
    "MAX_SCENE_THRESHOLD",
    "whole_number",
    "number_in",
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
    rate: Optional[Fraction]  # the stream's average frame rate, when it has one


def _over_seconds(seconds: Optional[float], limits: AppLimits) -> InputError:
    """The message for a video over the time limit; ``seconds`` None: counting stopped at the limit."""
    if seconds is None:
        return InputError(f"the video lasts more than this app's limit of {limits.max_video_seconds:g} s")
    return InputError(f"the video lasts {seconds:.1f} s, over this app's limit of {limits.max_video_seconds:g} s")


def _count_frames(container: av.container.InputContainer, stream: av.video.stream.VideoStream,
                  rate: Optional[Fraction], limits: AppLimits) -> Tuple[int, float]:
    """(packets, seconds they span) of the video stream, demuxed but not decoded (a 200 MB file in
    well under a second); stops with an InputError as soon as they pass the time limit, whatever
    the header said. A read error ends the count: the conversion yields what it can decode."""
    time_base = float(stream.time_base) if stream.time_base else 0.0
    count, first, last = 0, None, None
    try:
        for packet in container.demux(stream):
            if not packet.size:  # the demuxer's final empty packet
                continue
            count += 1
            if packet.pts is not None and time_base:
                begin, end = packet.pts * time_base, (packet.pts + (packet.duration or 0)) * time_base
                first, last = begin if first is None else min(first, begin), end if last is None else max(last, end)
            seconds = max(last - first if first is not None else 0.0, count / float(rate) if rate else 0.0)
            if seconds > limits.max_video_seconds:
                raise _over_seconds(None, limits)
    except av.error.FFmpegError:
        pass
    return count, max(last - first if first is not None else 0.0, count / float(rate) if rate else 0.0)


def probe_video(path: Optional[str], limits: AppLimits) -> VideoProbe:
    """Size, duration and frame count of an upload, refusing what is not a video or is over
    ``limits``: the header's size and duration first, then a count of its packets (a header may
    lack the duration or understate it), so a refused upload costs no decoding."""
    if not path or not Path(path).is_file():
        raise InputError("no video was given")
    name = Path(path).name
    megabytes = Path(path).stat().st_size / 1e6
    if megabytes > limits.max_video_megabytes:
        raise InputError(f"the video is {megabytes:.0f} MB, over this app's limit of {limits.max_video_megabytes:g} MB")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{name} holds no video stream")
            if container.format.name.endswith("_pipe") or container.format.name == "image2":
                raise InputError(f"{name} is an image, not a video: interpolate two images in the Frames tab")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > limits.max_video_pixels:
                raise InputError(f"the video is {width}x{height}, over this app's limit of {limits.max_video_pixels:,} pixels a frame")
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = (container.duration or 0) / av.time_base
            if seconds > limits.max_video_seconds:
                raise _over_seconds(seconds, limits)
            rate = stream.average_rate or stream.guessed_rate
            frames, counted = _count_frames(container, stream, Fraction(rate) if rate else None, limits)
    except InputError:
        raise
    except Exception:  # PyAV raises several types for files it cannot demux: all mean "not a video"
        raise InputError(f"{name} is not a video this app can read") from None
    return VideoProbe(width, height, max(seconds, counted), frames, Fraction(rate) if rate else None)
