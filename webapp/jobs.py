"""The web app's two jobs without any web framework: frames from a pair of images, and a video.

Gradio (:mod:`webapp.ui`) only turns page inputs into calls of :func:`run_frames_job` and
:func:`run_video_job` and their :class:`~utils.errors.InputError` into messages on the page; tests
call these functions directly. Every job writes into a fresh folder of its own under the app's
work folder; a job that fails or is cancelled removes that folder, so nothing is left behind.

The video job is ``interpolate_video.py``'s conversion: the same :class:`video.convert.ConversionJob`
and one :func:`video.convert.convert` call, with the model wrapped so that progress is reported
and a cancellation stops the run at the next pair of frames.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import av
import numpy as np

from models.interpolator import Interpolator
from utils.visualize import write_field_images
from utils.errors import InputError
from utils.image_io import read_image, save_gif, write_image
from utils.visualize import FIELD_NAMES
from video.convert import ConversionJob, convert, parse_rate

__all__ = [
    "AppLimits",
    "ModelChoice",
    "ModelCache",
    "JobCancelled",
    "FramesResult",
    "VideoOptions",
    "timesteps_for",
    "run_frames_job",
    "probe_video",
    "run_video_job",
]

FIELD_CAPTIONS = {"flow_t0": "flow t->0", "flow_t1": "flow t->1", "mask": "merge mask (white: from image 0)",
                  "residual": "residual"}
MAX_IN_BETWEEN = 31  # frames requested at once: 32x slow motion of one pair is plenty for a preview


@dataclass(frozen=True)
class AppLimits:
    """What one job may ask for, so a shared app cannot be made to run for hours (``app.py`` flags)."""

    max_image_pixels: int = 3840 * 2160
    max_video_megabytes: float = 200.0
    max_video_seconds: float = 60.0
    max_video_pixels: int = 1920 * 1080


@dataclass(frozen=True)
class ModelChoice:
    """Which network a job runs: the options of :class:`models.interpolator.Interpolator` the page offers."""

    model_name: str = "IFRNet"
    dataset: str = "Vimeo90K"  # whose published weights: Vimeo90K or GoPro
    scale_factor: str = "auto"
    precision: str = "fp32"  # a precision of utils.precision: fp32, bf16 (CPUs with native bfloat16), fp16 (CUDA)


class ModelCache:
    """Keeps the last loaded :class:`Interpolator` and lets one job at a time use it.

    Loading takes seconds and a published checkpoint may be downloaded first, so the model is kept
    between jobs of the same choice. ``lock`` serialises the jobs: the queue of the page runs one
    at a time already, this also covers direct calls and a cancelled job still winding down.
    """

    def __init__(self, device: str = "auto", *, offline: bool = False, checkpoint: Optional[str] = None) -> None:
        self.device, self.offline, self.checkpoint = device, offline, checkpoint
        self.lock = threading.Lock()
        self._key: Optional[ModelChoice] = None
        self._interpolator: Optional[Interpolator] = None

    def get(self, choice: ModelChoice) -> Interpolator:
        """The interpolator for ``choice`` (call with :attr:`lock` held)."""
        if self._key != choice:
            self._key, self._interpolator = None, None  # free the old model first; a failed load keeps nothing
            self._interpolator = Interpolator.load(choice.model_name, self.checkpoint, self.device,
                                              scale_factor=choice.scale_factor, precision=choice.precision,
                                              dataset=choice.dataset, offline=self.offline)
            self._key = choice
        return self._interpolator


def weights_description(interpolator: Interpolator) -> str:
    """One line for the page: which weights ran, and the note when it fell back to the starter ones."""
    described = f"{interpolator.model_name} with weights {Path(interpolator.checkpoint).name}"
    return f"{described}. Note: {interpolator.weights_note}" if interpolator.weights_note else described


class JobCancelled(Exception):
    """Raised inside a job whose cancel event was set; the job's folder is removed."""


KEEP_RESULTS_SECONDS = 3600  # finished jobs' folders older than this go when a new job starts


@contextmanager
def job_folder(work_dir: Path, kind: str) -> Iterator[Path]:
    """A fresh folder for one job, removed if the job fails or is cancelled.

    Call it with the model's lock held: finished jobs' folders over an hour old are removed first
    (a long-running app must not fill the disk; the page keeps its own copies of what it shows),
    and only a job holding the lock can be running.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    for old in work_dir.iterdir():
        if old.is_dir() and old.name.startswith(("frames-", "video-")) and time.time() - old.stat().st_mtime > KEEP_RESULTS_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=work_dir))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def timesteps_for(count: int, timestep: Optional[float] = None) -> List[float]:
    """``count`` evenly spaced in-between times, or the single ``timestep`` when given."""
    if timestep is not None:
        if not 0.0 < float(timestep) < 1.0:
            raise InputError(f"the timestep must lie strictly between 0 and 1, got {timestep}")
        return [float(timestep)]
    if not 1 <= int(count) <= MAX_IN_BETWEEN:
        raise InputError(f"the number of in-between frames must be from 1 to {MAX_IN_BETWEEN}, got {count}")
    return [k / (int(count) + 1) for k in range(1, int(count) + 1)]


@dataclass
class FramesResult:
    """What the frames job wrote: the frames, a GIF of the whole sequence, a zip of the PNGs, and
    (on request) each frame's pictures of flows, mask and residual."""

    folder: Path
    frames: List[Path]
    preview: Path
    archive: Path
    fields: List[Tuple[Path, str]]  # (image, caption)
    weights: str


def _read_frame(path: Optional[str], which: str, limits: AppLimits) -> np.ndarray:
    if not path:
        raise InputError(f"{which} is missing: give two images")
    frame = read_image(path)
    height, width = frame.shape[:2]
    if height * width > limits.max_image_pixels:
        raise InputError(f"{which} is {width}x{height}, over this app's limit of {limits.max_image_pixels:,} pixels")
    return frame


def run_frames_job(
    image0: str,
    image1: str,
    timesteps: Sequence[float],
    choice: ModelChoice,
    models: ModelCache,
    work_dir: Path,
    *,
    limits: AppLimits = AppLimits(),
    visualize: bool = False,
) -> FramesResult:
    """Interpolate ``timesteps`` between two image files and write the results into a new folder."""
    frame0, frame1 = _read_frame(image0, "the first image", limits), _read_frame(image1, "the second image", limits)
    if frame0.shape != frame1.shape:
        raise InputError(f"the two images differ in size: {frame0.shape[1]}x{frame0.shape[0]} and "
                         f"{frame1.shape[1]}x{frame1.shape[0]} (width x height); give two frames of one video")
    with models.lock, job_folder(work_dir, "frames") as folder:
        interpolator = models.get(choice)
        if visualize:
            frames, fields = interpolator.interpolate_with_fields(frame0, frame1, timesteps)
        else:
            frames, fields = interpolator.interpolate(frame0, frame1, timesteps), []
        paths = []
        for t, frame in zip(timesteps, frames):
            paths.append(folder / f"interp_t{t:.3f}.png")
            write_image(paths[-1], frame)
        sequence = [frame0, *frames, frame1]
        preview = folder / "preview.gif"
        save_gif(preview, sequence, duration_ms=max(20, 1000 // len(sequence)))
        archive = folder / "frames.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in paths:
                bundle.write(path, path.name)
        pictures: List[Tuple[Path, str]] = []
        for t, frame, frame_fields in zip(timesteps, frames, fields):
            written = write_field_images(folder / f"interp_t{t:.3f}", frame0, frame, frame1, frame_fields)
            pictures.extend((path, f"t={t:.3f}: {FIELD_CAPTIONS[name]}") for name, path in zip(FIELD_NAMES, written))
    return FramesResult(folder, paths, preview, archive, pictures, weights_description(interpolator))


def probe_video(path: str, limits: AppLimits) -> Tuple[int, int, float, Optional[int]]:
    """(width, height, seconds, frame count or None) of an upload, refusing what is not a video or
    is over ``limits``; reads the header only, so a refused upload costs nothing."""
    if not path or not Path(path).is_file():
        raise InputError("no video was given")
    megabytes = Path(path).stat().st_size / 1e6
    if megabytes > limits.max_video_megabytes:
        raise InputError(f"the video is {megabytes:.0f} MB, over this app's limit of {limits.max_video_megabytes:g} MB")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{Path(path).name} holds no video stream")
            if container.format.name.endswith("_pipe") or container.format.name == "image2":
                raise InputError(f"{Path(path).name} is an image, not a video: interpolate two images in the Frames tab")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            else:
                seconds = (container.duration or 0) / av.time_base
            rate = stream.average_rate
            frames = stream.frames or (round(seconds * rate) if rate else None)
    except InputError:
        raise
    except Exception:  # PyAV raises several types for files it cannot demux: all mean "not a video"
        raise InputError(f"{Path(path).name} is not a video this app can read") from None
    if width * height > limits.max_video_pixels:
        raise InputError(f"the video is {width}x{height}, over this app's limit of {limits.max_video_pixels:,} pixels a frame")
    if seconds > limits.max_video_seconds:
        raise InputError(f"the video lasts {seconds:.1f} s, over this app's limit of {limits.max_video_seconds:g} s")
    return width, height, seconds, frames


@dataclass(frozen=True)
class VideoOptions:
    """The options of ``interpolate_video.py`` the page offers (same meanings and defaults)."""

    factor: Optional[int] = 2
    fps: Optional[str] = None  # a target rate ("60", "59.94", "60000/1001") instead of the factor
    scene_threshold: Optional[float] = None  # None: the tool's default
    crf: int = 18


def run_video_job(
    video: str,
    options: VideoOptions,
    choice: ModelChoice,
    models: ModelCache,
    work_dir: Path,
    *,
    limits: AppLimits = AppLimits(),
    on_progress: Optional[Callable[[float], None]] = None,
    cancel: Optional[threading.Event] = None,
) -> Tuple[Path, str]:
    """Convert ``video`` as ``interpolate_video.py`` would into a new folder; returns the output
    MP4 and the weights' description. Progress is reported in [0, 1] after each pair of frames."""
    _, _, _, frame_count = probe_video(video, limits)
    fps: Optional[Fraction] = parse_rate(options.fps) if options.fps else None
    pairs = max(1, (frame_count or 0) - 1)
    done = [0]
    with models.lock, job_folder(work_dir, "video") as folder:
        interpolator = models.get(choice)

        def interpolate(frame0: np.ndarray, frame1: np.ndarray, timesteps: List[float]) -> List[np.ndarray]:
            if cancel is not None and cancel.is_set():
                raise JobCancelled("the video job was cancelled")
            frames = interpolator.interpolate(frame0, frame1, timesteps)
            done[0] += 1
            if on_progress is not None:
                on_progress(min(1.0, done[0] / pairs))
            return frames

        output = folder / f"{Path(video).stem}_interpolated.mp4"
        job = ConversionJob(input=Path(video), output=output, factor=None if fps else options.factor, fps=fps,
                            crf=options.crf, progress=False,
                            **({} if options.scene_threshold is None else {"scene_threshold": float(options.scene_threshold)}))
        convert(job, interpolate)
    return output, weights_description(interpolator)
