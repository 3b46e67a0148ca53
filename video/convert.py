"""One conversion from an input video (or frame folder) to a higher-rate output: the whole job.

``interpolate_video.py`` is argparse around :func:`convert`; tests and the benchmark call it
directly. It checks the paths before anything heavy happens, works out the output rate, opens the
source and the sink under a temporary name, runs the streaming pipeline with a progress bar, and
moves the result into place only on success.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, List, Optional

import numpy as np
from tqdm import tqdm

from utils.errors import InputError
from video.encoders import check_encoder, default_codec
from video.output import atomic_output, check_output_path, is_gif, output_is_folder
from video.part import SourcePart
from video.pipeline import PipelineStats, interpolate_stream
from video.scene import DEFAULT_SCENE_THRESHOLD
from video.sinks import IMAGE_FORMATS, FrameFolderSink, FrameSink, GifSink, VideoFileSink
from video.sources import FrameSource, SourceInfo, open_source
from video.timing import OutputClock

__all__ = ["ConversionJob", "MAX_OUTPUT_FPS", "parse_rate", "output_rate", "check_job", "convert"]

log = logging.getLogger("ifrnet.video")

# Above this an output rate is a typo (--fps 1e9 plans 240 million frames for a 6 s clip), not a
# use: 1000 fps covers 4x slow motion of 240 fps footage, past what players and encoders expect.
MAX_OUTPUT_FPS = 1000

InterpolateFn = Callable[[np.ndarray, np.ndarray, List[float]], List[np.ndarray]]


@dataclass
class ConversionJob:
    """Everything about one conversion except the model (passed to :func:`convert` as a function)."""

    input: Path
    output: Path
    factor: Optional[int] = 2
    fps: Optional[Fraction] = None  # a target rate instead of a factor
    input_fps: Fraction = Fraction(25)  # the rate a frame folder is played at
    codec: Optional[str] = None  # None: libx264 (libvpx-vp9 for .webm)
    crf: Optional[int] = 18
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD
    overwrite: bool = False
    strict: bool = False  # a video that ends before its header's frame count is an error, not a warning
    queue_size: int = 8
    progress: bool = True
    dedup: float = 0.0  # drop frames this close to the last kept one (0-255 grey difference); 0: off
    loop: bool = False  # interpolate from the last frame back to the first
    montage: bool = False  # the input frame on screen beside each output frame
    image_format: Optional[str] = None  # folder output: png (default), jpg or webp
    quality: int = 95  # jpg/webp folder output, 1-100
    start: Fraction = Fraction(0)  # seconds from the first frame
    duration: Optional[Fraction] = None  # seconds; None: to the end


def parse_rate(text: str) -> Fraction:
    """A frame rate from "60", "59.94" or "60000/1001", as an exact fraction."""
    try:
        rate = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"not a frame rate: {text!r} (examples: 60, 59.94, 60000/1001)") from None
    if rate <= 0:
        raise InputError(f"a frame rate must be positive, got {text}")
    return rate


def _check_output_rate(rate: Fraction, how: str) -> Fraction:
    if rate > MAX_OUTPUT_FPS:
        raise InputError(f"an output rate of {float(rate):g} fps ({how}) is over the limit of {MAX_OUTPUT_FPS} fps")
    return rate


def output_rate(info: SourceInfo, factor: Optional[int], fps: Optional[Fraction]) -> Fraction:
    """The output frame rate: ``fps`` when given, else the input's average rate times ``factor``;
    at most :data:`MAX_OUTPUT_FPS`."""
    if fps is not None:
        return _check_output_rate(Fraction(fps), "--fps")
    if factor is None or factor < 2:
        raise InputError(f"--factor must be an integer of at least 2, got {factor}")
    return _check_output_rate(info.rate * factor, f"--factor {factor} x {float(info.rate):g} fps")


def _check_flags(job: ConversionJob, to_folder: bool) -> None:
    """Flags that are wrong whatever the input."""
    if job.fps is None and (job.factor is None or job.factor < 2):
        raise InputError(f"--factor must be an integer of at least 2, got {job.factor}")
    if job.crf is not None and job.crf < 0:
        raise InputError(f"--crf must be at least 0, got {job.crf}")
    if job.dedup < 0:
        raise InputError(f"--dedup must be at least 0, got {job.dedup:g}")
    if job.image_format is not None and not to_folder:
        raise InputError(f"--image_format applies to a folder output; {job.output} is a file")
    if job.image_format is not None and job.image_format not in IMAGE_FORMATS:
        raise InputError(f"--image_format must be one of {', '.join(IMAGE_FORMATS)}, got {job.image_format!r}")
    if not 1 <= job.quality <= 100:
        raise InputError(f"--quality must be in 1-100, got {job.quality}")
    if job.start < 0:
        raise InputError(f"--start must be at least 0 seconds, got {float(job.start):g}")
    if job.duration is not None and job.duration <= 0:
        raise InputError(f"--duration must be positive, got {float(job.duration):g} seconds")


def _open_part(job: ConversionJob, *, strict: bool = False) -> FrameSource:
    """The input, or the part of it that --start/--duration select."""
    source = open_source(job.input, job.input_fps, strict=strict)
    if job.start == 0 and job.duration is None:
        return source
    try:
        return SourcePart(source, job.start, job.duration)
    except BaseException:
        source.close()
        raise


def check_job(job: ConversionJob) -> None:
    """The checks that need no decoding (paths, encoder, output rate from the input's header), so
    bad flags fail before the model is loaded; --start also decodes up to the part's first frame."""
    if not Path(job.input).exists():
        raise InputError(f"input not found: {job.input}")
    to_folder = output_is_folder(job.output)
    _check_flags(job, to_folder)
    check_output_path(job.output, job.input, job.overwrite)
    if not to_folder and not is_gif(job.output):
        check_encoder(job.codec or default_codec(job.output), job.crf, default_codec(job.output))
    source = _open_part(job)  # reads the header (and with --start, up to the part's first frame)
    try:
        output_rate(source.info, job.factor, job.fps)
    finally:
        source.close()


def _open_sink(job: ConversionJob, source: FrameSource, rate: Fraction, temp: Path) -> FrameSink:
    """The sink for the output's kind: a folder of images, a GIF, or a video with the input's tracks."""
    info = source.info
    width = info.width * (2 if job.montage else 1)
    if output_is_folder(job.output):
        return FrameFolderSink(temp, job.image_format or "png", job.quality)
    if is_gif(job.output):
        return GifSink(temp, rate)
    return VideoFileSink(
        temp,
        width=width,
        height=info.height,
        rate=rate,
        codec=job.codec or default_codec(job.output),
        crf=job.crf,
        tracks_from=source.media_path,
        tracks_shift=info.start,
        trim_start=job.start > 0,  # (a part's info.start is its first frame)
        tracks_end=info.end - info.start if job.duration is not None and info.end is not None else None,
    )


def _describe(info: SourceInfo, rate: Fraction) -> str:
    count = f"{info.frame_count} frames" if info.frame_count else "frames"
    return (f"{info.width}x{info.height}, {count} at {float(info.rate):.3f} fps -> "
            f"{float(rate):.3f} fps{'' if info.has_audio else ' (no audio)'}")


def convert(job: ConversionJob, interpolate: InterpolateFn) -> PipelineStats:
    """Run ``job`` with ``interpolate(frame0, frame1, timesteps) -> frames`` and return its stats."""
    check_job(job)
    source = _open_part(job, strict=job.strict)
    try:
        info = source.info
        rate = output_rate(info, job.factor, job.fps)
        clock = OutputClock(rate, origin=info.start, snap=info.snap)
        log.info("%s", _describe(info, rate))
        expected = clock.count_until(info.end) if info.end is not None else None
        if info.has_audio and (output_is_folder(job.output) or is_gif(job.output)):
            log.info("writing %s: the audio is not kept", "a GIF" if is_gif(job.output) else "frames to a folder")
        with atomic_output(job.output, overwrite=job.overwrite) as temp:
            sink = _open_sink(job, source, rate, temp)
            bar = tqdm(total=expected, unit="frame", desc="interpolating", disable=not job.progress, dynamic_ncols=True)
            try:
                stats = interpolate_stream(
                    source.frames(),
                    sink.write,
                    interpolate,
                    clock,
                    lambda: source.end_time,
                    scene_threshold=job.scene_threshold,
                    on_written=bar.update,
                    queue_size=job.queue_size,
                    source_name=str(job.input),
                    dedup_threshold=job.dedup,
                    loop=job.loop,
                    montage=job.montage,
                )
                sink.finish()
                if bar.total != bar.n:  # the header's count was off (e.g. a truncated file): end the bar full
                    bar.total = bar.n
                    bar.refresh()
            except BaseException:
                sink.abort()
                raise
            finally:
                bar.close()
    finally:
        source.close()
    if job.dedup > 0:
        log.info("--dedup %g dropped %d held frame(s) before interpolation", job.dedup, stats.duplicates_dropped)
    return stats
