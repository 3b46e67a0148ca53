"""Which encoder writes the output, and whether it can run here, checked before any work.

FFmpeg builds list encoders they cannot open on this machine (``h264_nvenc`` without an NVIDIA
GPU), and pass a --crf beyond an encoder's range on to it; both are caught here up front.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Optional, Union

import av

from utils.errors import InputError

__all__ = ["CRF_RANGES", "default_codec", "video_encoder", "check_encoder", "pick_pixel_format", "encodable_rate"]

log = logging.getLogger("ifrnet.video")

# Encoders that take a constant-quality --crf, with the range each accepts (FFmpeg itself lets
# larger values through to x264, which then clamps them: a silently different quality).
CRF_RANGES = {"libx264": (0, 51), "libx265": (0, 51), "libvpx": (4, 63), "libvpx-vp9": (0, 63),
              "libsvtav1": (0, 63), "libaom-av1": (0, 63)}


def default_codec(path: Union[str, Path]) -> str:
    """The encoder used when --codec is not given: VP9 for WebM, H.264 (libx264) otherwise."""
    return "libvpx-vp9" if Path(path).suffix.lower() == ".webm" else "libx264"


def video_encoder(codec: str) -> av.Codec:
    """FFmpeg's video encoder called ``codec``; an unknown name or an audio encoder is an InputError."""
    try:
        encoder = av.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError):
        raise InputError(f"unknown video encoder {codec!r} (try libx264, libx265, libvpx-vp9, mpeg4)") from None
    if encoder.type != "video":
        raise InputError(f"{codec!r} is not a video encoder")
    return encoder


def check_encoder(codec: str, crf: Optional[int], default: str) -> None:
    """Fail now, before the model loads, if ``codec`` cannot run here (e.g. a GPU encoder on a
    machine without that GPU: FFmpeg knows it but cannot open it) or ``crf`` is outside its range.

    The encoder is opened once on a tiny frame size, which is what tells a missing GPU apart.
    """
    encoder = video_encoder(codec)
    if crf is not None and encoder.name in CRF_RANGES:
        low, high = CRF_RANGES[encoder.name]
        if not low <= crf <= high:
            raise InputError(f"--crf {crf} is outside the range of {encoder.name} ({low}-{high}, lower is better)")
    context = av.CodecContext.create(encoder)
    context.width = context.height = 64
    context.pix_fmt = pick_pixel_format(encoder, 64, 64)
    context.time_base = Fraction(1, 25)
    context.framerate = Fraction(25)
    try:
        context.open()
    except av.error.FFmpegError as error:
        reason = getattr(error, "strerror", None) or error
        advice = f"leave out --codec to use {default}" if codec != default else "check your FFmpeg build"
        raise InputError(f"the encoder {codec} cannot be used on this machine ({reason}); {advice}") from None


def pick_pixel_format(codec: av.Codec, width: int, height: int) -> str:
    """yuv420p where possible (plays everywhere); 4:4:4 for odd sizes, which 4:2:0 cannot hold."""
    formats = [f.name for f in (codec.video_formats or [])]
    even = width % 2 == 0 and height % 2 == 0
    if "yuv420p" in formats and even:
        return "yuv420p"
    for name in ("yuv444p", "gbrp", "rgb24"):
        if name in formats:
            log.info("frame size %dx%d is odd: encoding %s with %s", width, height, codec.name, name)
            return name
    if formats:
        return formats[0]
    raise InputError(f"encoder {codec.name} takes no pixel format this tool can produce")


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
