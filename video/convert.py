"""One conversion from an input video (or frame folder) to a higher-rate output: the whole job.

``interpolate_video.py`` is argparse around :func:`check_job` and :func:`convert`; the web app,
tests and the benchmarks call :func:`convert` directly. :func:`check_job` refuses bad flags and
paths before anything heavy happens, opens the part of the input that --start/--duration select
(:class:`SourcePart`) and works out the output rate; :func:`convert` runs that :class:`CheckedJob`:
it opens the sink under a temporary name, runs the streaming pipeline with a progress bar, and
moves the result into place only on success. The input is opened once.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Union

import numpy as np
from tqdm import tqdm

from utils.atomic import check_output_name
from utils.errors import InputError
from utils.scene import DEFAULT_SCENE_THRESHOLD
from video.output import atomic_output, check_output_path, is_gif, output_is_folder, remove_stale_outputs
from video.orientation import Orientation
from video.passthrough import display_orientation
from video.pipeline import PipelineStats, StreamOptions, interpolate_stream
from video.sinks import IMAGE_FORMATS, FrameFolderSink, FrameSink, GifSink, VideoFileSink, check_encoder, default_codec
from video.sources import FrameSource, SourceFrame, SourceInfo, open_source
from video.timing import OutputClock, resampled_timesteps

__all__ = ["ConversionJob", "CheckedJob", "MAX_OUTPUT_FPS", "MIN_FPS", "format_number", "parse_rate", "output_rate",
           "check_job", "convert"]

log = logging.getLogger("ifrnet.video")

# Above this an output rate is a typo (--fps 1e9 plans 240 million frames for a 6 s clip), not a
# use: 1000 fps covers 4x slow motion of 240 fps footage, past what players and encoders expect.
MAX_OUTPUT_FPS = 1000
# Below this a rate is a typo too (--input_fps 1e-9 is a frame every 30 years): one frame every 100
# s is what GIF's per-frame delay (at most 655 s) and the containers' time bases still hold.
MIN_FPS = Fraction(1, 100)
# "29.970029970029973" means 30000/1001: decimals are read as the simplest fraction this close, so
# that time bases stay within what the containers store (32-bit numerators and denominators).
_RATE_DENOMINATOR = 100000

DEFAULT_QUALITY = 95  # of jpg/webp frames

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
    quality: Optional[int] = None  # jpg/webp folder output, 1-100; None: DEFAULT_QUALITY
    start: Fraction = Fraction(0)  # seconds from the first frame
    duration: Optional[Fraction] = None  # seconds; None: to the end


def format_number(value: Fraction) -> str:
    """``value`` as ``%g`` prints it, also past the range of a float (``--fps 1e400``), so that a
    refusal of an absurd value can say which value it refuses."""
    try:
        return f"{float(value):g}"
    except OverflowError:
        whole = str(abs(value.numerator) // value.denominator)
        return f"{'-' if value < 0 else ''}{int(whole[:6]) / 10**5:g}e+{len(whole) - 1}"


def parse_rate(text: str) -> Fraction:
    """A frame rate from "60", "59.94" or "60000/1001", as an exact fraction."""
    try:
        rate = Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"not a frame rate: {text!r} (examples: 60, 59.94, 60000/1001)") from None
    if rate <= 0:
        raise InputError(f"a frame rate must be positive, got {text}")
    if rate < MIN_FPS:
        raise InputError(f"a frame rate of {text} is below the lowest accepted, {float(MIN_FPS):g} fps (a frame every 100 s)")
    return rate.limit_denominator(_RATE_DENOMINATOR)


class SourcePart:
    """The frames of ``source`` from ``start`` seconds (counted from its first frame) for
    ``duration`` seconds (None: to the end); a :class:`~video.sources.FrameSource` itself, so the
    rest of the conversion does not know it sees a part: the output starts at the first frame at or
    after ``start`` and the last frame is held until ``start + duration`` (or the input's end).

    A whole input is a part too (``start`` 0): its first *decoded* frame is the output's time 0.
    That is not always the header's start: a file cut mid-GOP cannot decode the frames before its
    first key frame, and an AVI's first stamp is often one frame late.

    The first frame is decoded on opening, so ``info.start`` is its exact timestamp and a ``start``
    past the last frame fails here, before the model loads. ``start`` >= 0 and ``duration`` > 0 are
    the job's flags, checked before the input is opened (:func:`_check_flags`).
    """

    def __init__(self, source: FrameSource, start: Fraction = Fraction(0), duration: Optional[Fraction] = None) -> None:
        self._source = source
        self._closed = False
        self.media_path: Optional[Path] = source.media_path
        inner = source.info
        begin = inner.start + Fraction(start)
        self._begin = begin
        self._stop = begin + Fraction(duration) if duration is not None else None
        if start > 0:
            source.seek(begin)
        self._frames = iter(source.frames())
        if start > 0:
            self._first = next((f for f in self._frames if f.time >= begin - inner.snap), None)
        else:  # the whole input: whatever frame decodes first
            self._first = next(self._frames, None)
        if self._first is None and start == 0:
            raise InputError(f"no frame could be decoded from {getattr(source, 'path', 'the input')}")
        if self._first is None:
            length = f" (it lasts about {float(inner.end - inner.start):.2f} s)" if inner.end is not None else ""
            raise InputError(f"--start {format_number(start)} s is past the last frame of the input{length}")
        end = inner.end if self._stop is None or (inner.end is not None and inner.end < self._stop) else self._stop
        count = round((end - self._first.time) * inner.rate) if end is not None else None
        height, width = self._first.image.shape[:2]  # every frame's size (a video's header may give another)
        self.info = dataclasses.replace(inner, width=width, height=height, start=self._first.time, end=end,
                                        frame_count=count)
        # The first frame comes after the input's header start (--start, or frames that cannot be
        # decoded): the other tracks are cut to the part too.
        self.lead = self._first.time - inner.start  # seconds skipped before the first frame
        self.starts_late = self.lead > inner.snap
        self.end_time: Optional[Fraction] = None

    def frames(self) -> Iterator[SourceFrame]:
        """The part's frames; sets ``end_time`` after the last one, and says in one line when the
        input ended before ``duration`` did."""
        yield self._first
        for frame in self._frames:
            if self._stop is not None and frame.time >= self._stop - self.info.snap:
                self.end_time = self._stop
                return
            yield frame
        inner_end = self._source.end_time
        self.end_time = inner_end if self._stop is None or (inner_end is not None and inner_end < self._stop) else self._stop
        if self._stop is not None and self.end_time < self._stop - self.info.snap:
            log.info("--duration %s s goes past the end of the input: the part is %.2f s long",
                     format_number(self._stop - self._begin), float(self.end_time - self._begin))

    def seek(self, time: Fraction) -> None:
        raise NotImplementedError("a part of an input is read from its start only")

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the input; a second call does nothing (a :class:`CheckedJob` and :func:`convert` both close it)."""
        if not self._closed:
            self._closed = True
            self._source.close()


def _check_output_rate(rate: Fraction, how: str) -> Fraction:
    if rate < MIN_FPS:
        raise InputError(f"an output rate of {format_number(rate)} fps ({how}) is below the limit of {float(MIN_FPS):g} fps")
    if rate > MAX_OUTPUT_FPS:
        raise InputError(f"an output rate of {format_number(rate)} fps ({how}) is over the limit of {MAX_OUTPUT_FPS} fps")
    return rate


def output_rate(info: SourceInfo, factor: Optional[int], fps: Optional[Fraction]) -> Fraction:
    """The output frame rate: ``fps`` when given, else the input's average rate times ``factor``;
    at most :data:`MAX_OUTPUT_FPS`. Without ``fps``, ``factor`` is the job's, already checked to be
    at least 2 (:func:`_check_flags`)."""
    if fps is not None:
        return _check_output_rate(Fraction(fps), "--fps")
    return _check_output_rate(info.rate * factor, f"--factor {factor} x {float(info.rate):g} fps")


def _check_flags(job: ConversionJob, to_folder: bool) -> None:
    """Flags that are wrong whatever the input."""
    if job.fps is None and (job.factor is None or job.factor < 2):
        raise InputError(f"--factor must be an integer of at least 2, got {job.factor}")
    if job.crf is not None and job.crf < 0:
        raise InputError(f"--crf must be at least 0, got {job.crf}")
    # Both are grey-level differences on the 0-255 scale (utils.scene); NaN would compare false
    # everywhere and switch the feature off without a word.
    for flag, value in (("--dedup", job.dedup), ("--scene_threshold", job.scene_threshold)):
        if not 0 <= value <= 255:
            raise InputError(f"{flag} must be at least 0 and at most 255 (a grey-level difference), got {value:g}")
    if job.image_format is not None and not to_folder:
        raise InputError(f"--image_format applies to a folder output; {job.output} is a file")
    if job.image_format is not None and job.image_format not in IMAGE_FORMATS:
        raise InputError(f"--image_format must be one of {', '.join(IMAGE_FORMATS)}, got {job.image_format!r}")
    if job.quality is not None and not 1 <= job.quality <= 100:
        raise InputError(f"--quality must be in 1-100, got {job.quality}")
    if job.quality is not None and (not to_folder or (job.image_format or "png") == "png"):
        target = "png frames (lossless)" if to_folder else f"{job.output} (see --crf for videos)"
        raise InputError(f"--quality applies to jpg and webp frames (--image_format jpg or webp), not to {target}")
    if job.start < 0:
        raise InputError(f"--start must be at least 0 seconds, got {format_number(job.start)}")
    if job.duration is not None and job.duration <= 0:
        raise InputError(f"--duration must be positive, got {format_number(job.duration)} seconds")


def _open_part(job: ConversionJob) -> SourcePart:
    """The part of the input that --start/--duration select (by default all of it), from its first
    decoded frame on."""
    source = open_source(job.input, job.input_fps, strict=job.strict)
    try:
        return SourcePart(source, job.start, job.duration)
    except BaseException:
        source.close()
        raise


@dataclass
class CheckedJob:
    """A job whose flags, paths and encoder passed, with its input open at the part's first frame
    and its output rate worked out: what :func:`convert` runs. Made by :func:`check_job`.

    It exists so the input is opened (and decoded up to --start) once: the tool checks the job
    before it loads the model and converts it after. Use it as a context manager: the input is
    closed on leaving, also when the model never loads; :func:`convert` closes it too.
    """

    job: ConversionJob
    source: SourcePart
    rate: Fraction

    @property
    def timesteps(self) -> Optional[List[Fraction]]:
        """The timesteps the in-between frames will need, for choosing the weights, or None when
        they cannot be known before the run: --dedup joins input intervals of any length."""
        if self.job.dedup > 0:
            return None
        return resampled_timesteps(self.rate / self.source.info.rate)

    def close(self) -> None:
        self.source.close()

    def __enter__(self) -> "CheckedJob":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def check_job(job: ConversionJob) -> CheckedJob:
    """Check ``job`` before the model is loaded, so that bad flags and paths fail in a second: the
    flags, the paths, the encoder, then the input's header and the output rate; with --start the
    input is also decoded up to the part's first frame. Returns the job with its input open."""
    if not Path(job.input).exists():
        raise InputError(f"input not found: {job.input}")
    check_output_name(job.output)  # before the output is looked at: a name too long, a symlink loop
    to_folder = output_is_folder(job.output)
    _check_flags(job, to_folder)
    if Path(job.input).is_dir() and not MIN_FPS <= job.input_fps <= MAX_OUTPUT_FPS:
        raise InputError(f"--input_fps must be in {float(MIN_FPS):g}-{MAX_OUTPUT_FPS} fps, got {format_number(job.input_fps)}")
    check_output_path(job.output, job.input, job.overwrite)
    if not to_folder and not is_gif(job.output):
        check_encoder(job.codec or default_codec(job.output), job.crf, default_codec(job.output))
    source = _open_part(job)
    try:
        return CheckedJob(job, source, output_rate(source.info, job.factor, job.fps))
    except BaseException:
        source.close()
        raise


def _upright(job: ConversionJob, source: SourcePart) -> Orientation:
    """How the written frames are turned and mirrored to look as a player shows the input. A phone
    video is stored sideways (or mirrored) and shown through its display matrix: a video output
    keeps the matrix, but images and GIFs have none (they would be sideways), and a montage's halves
    side by side as stored would be seen one above the other. A matrix that is not a quarter turn
    or a mirror (a tilt) is not applied to those, with a warning: images and GIFs are written as
    stored, and a montage keeps the matrix, so a player tilts its two halves together."""
    keeps_matrix = not (job.montage or output_is_folder(job.output) or is_gif(job.output))
    if keeps_matrix or source.media_path is None:
        return Orientation()
    orientation = display_orientation(source.media_path)
    if orientation is None:
        log.warning("warning: %s has a display matrix that is not a quarter turn or a mirror; %s", job.input,
                    "the montage keeps it (the player tilts both halves)" if job.montage
                    else "the frames are written as stored")
        return Orientation()
    return orientation


def _open_sink(job: ConversionJob, source: SourcePart, rate: Fraction, temp: Path,
               orientation: Orientation = Orientation()) -> FrameSink:
    """The sink for the output's kind: a folder of images, a GIF, or a video with the input's tracks;
    ``orientation``: how the frames were turned and mirrored (made upright, :func:`_upright`)."""
    info = source.info
    width, height = orientation.shape(info.width, info.height)
    width *= 2 if job.montage else 1
    if output_is_folder(job.output):
        return FrameFolderSink(temp, job.image_format or "png", job.quality or DEFAULT_QUALITY)
    if is_gif(job.output):
        return GifSink(temp, rate)
    return VideoFileSink(
        temp,
        width=width,
        height=height,
        rate=rate,
        codec=job.codec or default_codec(job.output),
        crf=job.crf,
        tracks_from=source.media_path,
        tracks_shift=info.start,
        trim_start=source.starts_late,  # (a part's info.start is its first frame)
        tracks_end=info.end - info.start if job.duration is not None and info.end is not None else None,
        colour=info.colour,
        keep_display_matrix=orientation.is_identity,
    )


def _describe(info: SourceInfo, rate: Fraction) -> str:
    count = f"{info.frame_count} frames" if info.frame_count else "frames"
    return (f"{info.width}x{info.height}, {count} at {float(info.rate):.3f} fps -> "
            f"{float(rate):.3f} fps{'' if info.has_audio else ' (no audio)'}")


def convert(job: Union[ConversionJob, CheckedJob], interpolate: InterpolateFn) -> PipelineStats:
    """Run ``job`` with ``interpolate(frame0, frame1, timesteps) -> frames`` and return its stats.

    ``job`` is checked here unless :func:`check_job` already did (a :class:`CheckedJob`: its open
    input is read from where the check left it, and closed at the end; it converts once).
    """
    checked = job if isinstance(job, CheckedJob) else check_job(job)
    job, source, rate = checked.job, checked.source, checked.rate
    try:
        if source.closed:
            raise ValueError("a checked job converts once: its input was read and closed")
        for stale in remove_stale_outputs(job.output):
            log.info("removed %s, a temporary output left by a run that was killed", stale)
        info = source.info
        clock = OutputClock(rate, origin=info.start, snap=info.snap)
        log.info("%s", _describe(info, rate))
        _warn_what_is_lost(job, info)
        if source.starts_late and job.start == 0:
            log.info("the first frame that decodes is %.3f s into the video stream (cut mid-GOP?): the output starts there",
                     float(source.lead))
        expected = clock.count_until(info.end) if info.end is not None else None
        if info.has_audio and (output_is_folder(job.output) or is_gif(job.output)):
            log.info("writing %s: the audio is not kept", "a GIF" if is_gif(job.output) else "frames to a folder")
        with atomic_output(job.output, overwrite=job.overwrite) as temp:
            orientation = _upright(job, source)
            sink = _open_sink(job, source, rate, temp, orientation)
            bar = tqdm(total=expected, unit="frame", desc="interpolating", disable=not job.progress, dynamic_ncols=True)
            try:
                options = StreamOptions(scene_threshold=job.scene_threshold, dedup_threshold=job.dedup, loop=job.loop,
                                        montage=job.montage, orientation=orientation, queue_size=job.queue_size,
                                        source_name=_part_name(job))
                stats = interpolate_stream(source.frames(), sink.write, interpolate, clock, lambda: source.end_time,
                                           options, on_written=bar.update)
                sink.finish()
                saved = sink.frames_saved if isinstance(sink, GifSink) else None  # identical frames merged
                if saved is not None and saved != stats.frames_out:
                    log.info("the GIF holds %d frames: identical consecutive frames of the %d written were merged "
                             "into longer ones (same timing)", saved, stats.frames_out)
                    stats.frames_out = saved
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
    if stats.loop_seam_cut:
        log.info("--loop: the last and the first frame differ like a scene cut (counted as one): the seam repeats "
                 "them instead of blending")
    if job.dedup > 0 and stats.frames_in == 1:
        log.warning("warning: --dedup %g dropped all %d frames after the first (a static clip at this threshold): "
                    "the output holds that frame", job.dedup, stats.duplicates_dropped)
    elif job.dedup > 0:
        log.info("--dedup %g dropped %d held frame(s) before interpolation", job.dedup, stats.duplicates_dropped)
    return stats


def _warn_what_is_lost(job: ConversionJob, info: SourceInfo) -> None:
    """Say in one line each what of the input's pixels does not reach the output: bit depth, colour
    tags (the network works on 8-bit RGB). Transparency is said by the source once a frame has
    some (:class:`video.sources.VideoFileSource`); image frames with transparent pixels are refused
    instead (utils.image_io): there is no video file to fall back on."""
    video_out = not output_is_folder(job.output) and not is_gif(job.output)
    if info.bit_depth > 8:
        kept = f"with its colour tags ({info.colour.describe()})" if video_out and info.colour else "without its colour tags"
        log.warning("warning: %s is %d-bit; the output is 8-bit (the network works on 8-bit frames), %s",
                    job.input, info.bit_depth, kept)
    elif info.colour is not None and not video_out:
        log.warning("warning: %s has colour tags (%s) that %s cannot hold", job.input, info.colour.describe(),
                    "a GIF" if is_gif(job.output) else "image frames")


def _part_name(job: ConversionJob) -> str:
    """The input, or the part of it that --start/--duration select, for messages."""
    if job.start == 0 and job.duration is None:
        return str(job.input)
    begin = f"{format_number(job.start)} s"
    end = "its end" if job.duration is None else f"{format_number(job.start + job.duration)} s"
    return f"the part of {job.input} from {begin} to {end} (--start/--duration)"
