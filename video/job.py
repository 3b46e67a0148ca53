"""A conversion job: its options (:class:`ConversionJob`, also the flags of ``interpolate_video.py``)
and the checks that run before anything heavy happens.

:func:`check_job` refuses bad flags and paths, opens the part of the input that --start/--duration
select (:class:`SourcePart`) and works out the output rate; the :class:`CheckedJob` it returns is
what :func:`video.convert.convert` runs. The input is opened once.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, List, Optional

import numpy as np

from utils.cli import option, whole_number_at_least
from utils.errors import InputError
from utils.output_checks import check_output_name
from utils.scene import DEFAULT_SCENE_THRESHOLD
from video.output import check_output_path, is_gif, output_is_folder
from video.pipes import PIPE_FORMATS, is_stdio, pipe_format
from video.sinks import IMAGE_FORMATS, VIDEO_FORMATS, check_encoder, default_codec
from video.sources import FrameSource, SourceFrame, SourceInfo, open_source
from video.timing import resampled_timesteps

__all__ = ["ConversionJob", "CheckedJob", "SourcePart", "InterpolateFn", "MAX_OUTPUT_FPS", "MIN_FPS", "FORMAT_CHOICES",
           "RAW_CODEC", "format_number", "parse_rate", "parse_seconds", "output_rate", "output_codec", "check_job"]

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
RAW_CODEC = "wrapped_avframe"  # what y4m holds: raw frames, as FFmpeg's y4m muxer takes them

# --format: a stream's (video.pipes.PIPE_FORMATS) or a batch's output suffix (a key of VIDEO_FORMATS).
FORMAT_CHOICES = tuple(dict.fromkeys([*PIPE_FORMATS, *(suffix[1:] for suffix in VIDEO_FORMATS)]))

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

    input: Path = option(
        type=Path,
        help="a video file, a folder of image frames (png, jpg, webp ...; natural name order), or - for a stream on "
        "standard input (y4m, nut, matroska: e.g. ffmpeg ... -f yuv4mpegpipe - | python interpolate_video.py --input -); "
        "a pipe runs in one piece (no --segment_seconds, no resume) and its audio is not kept; on the command line "
        "also several files, a folder of videos or a .txt file listing them (one per line): a batch, whose --output "
        "is a folder where each output keeps its input's name (with --image_format a folder of frames per input), "
        "and a rerun skips the finished ones")
    output: Path = option(
        type=Path,
        help="a video file (.mp4 .mkv .mov .webm .avi), an animated .gif, a folder for numbered frames (see "
        "--image_format), or - for a stream on standard output (y4m; see --format), e.g. piped into ffmpeg")
    format: Optional[str] = option(
        None, choices=FORMAT_CHOICES,
        help="the container when the output's name does not say it: of --output - (y4m, the default: raw frames that "
        "any ffmpeg reads; nut or mkv: encoded with --codec, and they carry a file input's audio), or of each output of "
        "a batch (default: the input's suffix)")
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
    output_name = "standard output (a stream)" if is_stdio(job.output) else str(job.output)
    if job.image_format is not None and not to_folder:
        raise InputError(f"--image_format applies to a folder output, not to {output_name}")
    if job.image_format is not None and job.image_format not in IMAGE_FORMATS:
        raise InputError(f"--image_format must be one of {', '.join(IMAGE_FORMATS)}, got {job.image_format!r}")
    if job.quality is not None and not 1 <= job.quality <= 100:
        raise InputError(f"--quality must be in 1-100, got {job.quality}")
    if job.quality is not None and (not to_folder or (job.image_format or "png") == "png"):
        target = "png frames (lossless)" if to_folder else f"{output_name} (see --crf for videos)"
        raise InputError(f"--quality applies to jpg and webp frames (--image_format jpg or webp), not to {target}")
    if job.start < 0:
        raise InputError(f"--start must be at least 0 seconds, got {format_number(job.start)}")
    if job.duration is not None and job.duration <= 0:
        raise InputError(f"--duration must be positive, got {format_number(job.duration)} seconds")
    if job.segment_seconds < 0:
        raise InputError(f"--segment_seconds must be at least 0, got {format_number(job.segment_seconds)}")
    if job.format is not None and not is_stdio(job.output):
        raise InputError(f"--format names the container of --output - (a stream) or of a batch's outputs; the suffix "
                         f"of {job.output} names this one's")
    if is_stdio(job.output):
        if pipe_format(job.format) == "y4m" and job.codec is not None:
            raise InputError("y4m carries raw frames: --codec applies to --format nut or mkv")


def output_codec(job: ConversionJob) -> str:
    """The video encoder of a video output: --codec, or the default for its container (raw frames
    for y4m on standard output)."""
    if is_stdio(job.output) and pipe_format(job.format) == "y4m":
        return RAW_CODEC
    return job.codec or default_codec(job.output)


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
    if not is_stdio(job.input) and not Path(job.input).exists():
        raise InputError(f"input not found: {job.input}")
    if not is_stdio(job.output):
        check_output_name(job.output)  # before the output is looked at: a name too long, a symlink loop
    to_folder = output_is_folder(job.output)
    _check_flags(job, to_folder)
    if Path(job.input).is_dir() and not MIN_FPS <= job.input_fps <= MAX_OUTPUT_FPS:
        raise InputError(f"--input_fps must be in {float(MIN_FPS):g}-{MAX_OUTPUT_FPS} fps, got {format_number(job.input_fps)}")
    check_output_path(job.output, job.input, job.overwrite)
    if not to_folder and not is_gif(job.output) and output_codec(job) != RAW_CODEC:
        check_encoder(output_codec(job), job.crf, default_codec(job.output))
    source = _open_part(job)
    try:
        return CheckedJob(job, source, output_rate(source.info, job.factor, job.fps))
    except BaseException:
        source.close()
        raise

