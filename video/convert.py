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
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, List, Mapping, Optional, Union

import numpy as np
from tqdm import tqdm

from utils.atomic import remove_stale_temporaries
from utils.cli import option, whole_number_at_least
from utils.errors import InputError
from utils.output_checks import check_output_name
from utils.scene import DEFAULT_SCENE_THRESHOLD
from video.output import STALE_AFTER_SECONDS, atomic_output, check_output_path, is_gif, output_is_folder
from video.orientation import Orientation
from video.passthrough import display_orientation
from video.pipeline import PipelineStats, StreamOptions, interpolate_stream
from video.segments import Manifest, SegmentFrames, SegmentProgress, work_folder
from video import segments
from video.sinks import IMAGE_FORMATS, VIDEO_FORMATS, FrameFolderSink, FrameSink, GifSink, VideoFileSink, check_encoder, default_codec
from video.sources import FrameSource, SourceFrame, SourceInfo, open_source
from video.timing import OutputClock, resampled_timesteps

__all__ = ["ConversionJob", "CheckedJob", "MAX_OUTPUT_FPS", "MIN_FPS", "format_number", "parse_rate", "parse_seconds",
           "output_rate",
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


def parse_seconds(text: str) -> Fraction:
    """A time in seconds ("2", "1.5"), exact; negative values are refused by the job's checks."""
    try:
        return Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise InputError(f"not a number of seconds: {text!r}") from None


@dataclass
class ConversionJob:
    """Everything about one conversion except the model (passed to :func:`convert` as a function).

    Each :func:`~utils.cli.option` field is also a flag of ``interpolate_video.py`` (same name,
    default and help); the other fields are for callers of the library.
    """

    input: Path = option(type=Path, help="a video file, or a folder of image frames (png, jpg, webp ...; natural name order)")
    output: Path = option(
        type=Path,
        help="a video file (.mp4 .mkv .mov .webm .avi), an animated .gif, or a folder for numbered frames (see --image_format)")
    factor: Optional[int] = option(
        2, type=whole_number_at_least(2), exclusive_group="rate",
        help="output rate = input rate x N; the originals stay at every N-th frame (default: 2)")
    fps: Optional[Fraction] = option(
        None, type=parse_rate, exclusive_group="rate",
        help="output frame rate instead of a factor (e.g. 60, 59.94, 60000/1001); each frame gets the timestep its "
        f"timestamp implies. At most {MAX_OUTPUT_FPS} fps, whether from --fps or --factor: more is a typo, not slow motion")
    input_fps: Fraction = option(Fraction(25), type=parse_rate,
                                 help="frame rate of a folder of frames (default: 25; ignored for video files)")
    codec: Optional[str] = option(
        None, help="video encoder (default: libx264; libvpx-vp9 for .webm); checked up front, e.g. h264_nvenc needs an NVIDIA GPU")
    crf: Optional[int] = option(
        18, type=int,
        help="constant-quality level, lower is better: 0-51 for x264/x265, 0-63 for VP9/SVT-AV1/AOM (default: 18)")
    scene_threshold: float = option(
        DEFAULT_SCENE_THRESHOLD, type=float,
        help="scene-cut threshold: mean absolute grey difference (0-255) of two consecutive frames, shrunk to ~64 px; "
        f"above it the in-between frames repeat the nearer original (default: {DEFAULT_SCENE_THRESHOLD:g}; 0 disables)")
    overwrite: bool = option(
        False, help="replace an existing output file, or in an existing output folder its numbered frames (other files "
        "stay); a folder output that holds the input is always refused")
    strict: bool = option(
        False, help="a video that ends before the frame count its header promises (truncated, damaged) is an error "
        "instead of a warning, and no output is written")
    queue_size: int = 8  # frames each pipeline queue holds: the memory bound
    progress: bool = True  # a progress bar (the tool's --no_progress and --quiet turn it off)
    dedup: float = option(
        0.0, type=float, metavar="T",
        help="drop frames that differ from the last kept one by less than T (mean absolute grey difference, 0-255, as "
        "--scene_threshold measures) before interpolating, so drawings held for 2-3 frames (animation, screen "
        "recordings) become motion; timing and frame count stay (default: 0, off; try 1)")
    loop: bool = option(False, help="also interpolate from the last frame back to the first, so the output loops without a jump")
    montage: bool = option(
        False, help="the input (each frame held) on the left and the result on the right, side by side, same timing")
    image_format: Optional[str] = option(None, choices=tuple(IMAGE_FORMATS),
                                         help="format of the frames of a folder output (default: png)")
    quality: Optional[int] = option(
        None, type=int, help="quality 1-100 of jpg/webp frames (default: 95); refused for png frames and video files")
    start: Fraction = option(
        Fraction(0), type=parse_seconds,
        help="begin this many seconds into the input (default: 0), e.g. for a quick look before a long run")
    duration: Optional[Fraction] = option(None, type=parse_seconds,
                                          help="process only this many seconds (default: to the end)")
    segment_seconds: Fraction = option(
        Fraction(10), type=parse_seconds,
        help="work in segments of about this many seconds (cut at the next key frame), each kept in a work folder "
        "beside the output as it finishes, so that a killed run resumes where it stopped when rerun; the output is "
        "the same frame for frame. 0: one piece (default: 10; --dedup, --loop and GIF outputs run in one piece)")


def format_number(value: Fraction) -> str:
    """``value`` as ``%g`` prints it, also past the range of a float (``--fps 1e400``), so that a
    refusal of an absurd value can say which value it refuses."""
    try:
        return f"{float(value):g}"
    except OverflowError:
        whole = str(abs(value.numerator) // value.denominator)
        return f"{'-' if value < 0 else ''}{int(whole[:6]) / 10**5:g}e+{len(whole) - 1}"


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
        self.stop = self._stop  # input time at which the part ends (None: the input's end)
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
    if job.segment_seconds < 0:
        raise InputError(f"--segment_seconds must be at least 0, got {format_number(job.segment_seconds)}")


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


def convert(job: Union[ConversionJob, CheckedJob], interpolate: InterpolateFn, *,
            model: Mapping[str, Any] = {}) -> PipelineStats:
    """Run ``job`` with ``interpolate(frame0, frame1, timesteps) -> frames`` and return its stats.

    ``job`` is checked here unless :func:`check_job` already did (a :class:`CheckedJob`: its open
    input is read from where the check left it, and closed at the end; it converts once). A job
    longer than one segment runs in segments (:mod:`video.segments`); ``model`` names what makes
    ``interpolate``'s frames (its settings, the weights' hash), so that a rerun resumes only with
    the same model.
    """
    checked = job if isinstance(job, CheckedJob) else check_job(job)
    boundaries = _segment_boundaries(checked)
    if len(boundaries) > 1:
        return _convert_in_segments(checked, interpolate, boundaries, model)
    job, source, rate = checked.job, checked.source, checked.rate
    try:
        if source.closed:
            raise ValueError("a checked job converts once: its input was read and closed")
        for stale in remove_stale_temporaries(Path(job.output).parent, output=job.output, older_than_s=STALE_AFTER_SECONDS):
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
                options = _stream_options(job, orientation)
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


def _stream_options(job: ConversionJob, orientation: Orientation) -> StreamOptions:
    """The pipeline's options: the job's fields of the same names, the orientation and the name."""
    shared = {item.name: getattr(job, item.name) for item in dataclasses.fields(StreamOptions) if hasattr(job, item.name)}
    return StreamOptions(**shared, orientation=orientation, source_name=_part_name(job))


def _part_name(job: ConversionJob) -> str:
    """The input, or the part of it that --start/--duration select, for messages."""
    if job.start == 0 and job.duration is None:
        return str(job.input)
    begin = f"{format_number(job.start)} s"
    end = "its end" if job.duration is None else f"{format_number(job.start + job.duration)} s"
    return f"the part of {job.input} from {begin} to {end} (--start/--duration)"


def _segment_boundaries(checked: CheckedJob) -> List[Fraction]:
    """Where the job's segments start (one boundary: it runs in one piece). --dedup (which frame
    is kept depends on the frames before) and --loop (the last pair needs the first frame) run in
    one piece, as does a GIF (its identical frames are merged across the whole animation)."""
    job, info = checked.job, checked.source.info
    if job.segment_seconds == 0 or job.dedup > 0 or job.loop or is_gif(job.output):
        return [info.start]
    return segments.plan_boundaries(Path(job.input), info.start, checked.source.stop, info.rate,
                                    job.segment_seconds, info.snap)


def _convert_in_segments(checked: CheckedJob, interpolate: InterpolateFn, boundaries: List[Fraction],
                         model: Mapping[str, Any]) -> PipelineStats:
    """Run the job one segment at a time, each committed to the work folder, resuming after the
    segments a killed run committed; then join them into the output and remove the work folder."""
    job, part, rate = checked.job, checked.source, checked.rate
    info = part.info
    clock = OutputClock(rate, origin=info.start, snap=info.snap)
    folder = work_folder(job.output)
    manifest = Manifest.of(job, model, boundaries)
    segments.check_resumable(folder, manifest, job.overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / segments.MANIFEST_NAME).exists():
        manifest.write(folder)
    to_folder = output_is_folder(job.output)
    suffix = "" if to_folder else Path(job.output).suffix.lower()
    done = segments.committed_segments(folder, len(boundaries), suffix)
    log.info("%s", _describe(info, rate))
    _warn_what_is_lost(job, info)
    log.info("%d segments (at %s s)%s", len(boundaries), ", ".join(f"{float(at - info.start):.2f}" for at in boundaries),
             f"; resuming after the {done} done in {folder}" if done else "")
    orientation = _upright(job, part)
    stop = part.stop
    part.close()  # each segment opens the input at its own key frame
    progress = SegmentProgress(len(boundaries), done)
    total = PipelineStats()
    started = time.perf_counter()
    for number in range(done, len(boundaries)):
        begin = boundaries[number]
        until = boundaries[number + 1] if number + 1 < len(boundaries) else None
        temp = folder / f"partial{suffix}"
        segments.remove_work_folder(temp) if temp.is_dir() else temp.unlink(missing_ok=True)
        if to_folder:
            sink: FrameSink = FrameFolderSink(temp, job.image_format or "png", job.quality or DEFAULT_QUALITY)
        else:
            width, height = orientation.shape(info.width, info.height)
            sink = VideoFileSink(temp, width=width * (2 if job.montage else 1), height=height, rate=rate,
                                 codec=job.codec or default_codec(job.output), crf=job.crf,
                                 format_name=VIDEO_FORMATS[suffix], colour=info.colour,
                                 first_index=clock.first_index_at(begin))
        frames = SegmentFrames(Path(job.input), job.input_fps, begin, until, stop, info.snap, strict=job.strict)
        options = dataclasses.replace(_stream_options(job, orientation), ends_at_last_frame=until is not None)
        try:
            stats = interpolate_stream(frames.frames(), sink.write, interpolate, clock, lambda: frames.end_time, options)
            sink.finish()
        except BaseException:
            sink.abort()
            raise
        segments.commit_segment(temp, folder, number, suffix)
        _add_stats(total, stats, first=number == 0)
        progress.segment_done()
    parts = [folder / segments.segment_name(number, suffix) for number in range(len(boundaries))]
    with atomic_output(job.output, overwrite=job.overwrite) as temp:
        if to_folder:
            segments.join_folder_segments(parts, temp)
        else:
            segments.join_video_segments(
                parts, temp, VIDEO_FORMATS[suffix], tracks_from=part.media_path, tracks_shift=info.start,
                trim_start=part.starts_late,
                tracks_end=info.end - info.start if job.duration is not None and info.end is not None else None,
                keep_display_matrix=orientation.is_identity)
    segments.remove_work_folder(folder)
    total.total_seconds = time.perf_counter() - started
    return total


def _add_stats(total: PipelineStats, stats: PipelineStats, first: bool) -> None:
    """Count a segment's stats into the job's (each boundary frame is in two segments)."""
    total.frames_in += stats.frames_in - (0 if first else 1)
    total.frames_out += stats.frames_out
    total.interpolated += stats.interpolated
    total.scene_cuts += stats.scene_cuts
    total.model_seconds += stats.model_seconds
