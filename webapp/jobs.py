"""The web app's two jobs without any web framework: frames from a pair of images, and a video.

Gradio (:mod:`webapp.ui`) only turns page inputs into calls of :func:`run_frames_job` and
:func:`run_video_job` and their :class:`~utils.errors.InputError` into messages on the page; tests
call these functions directly. Every job writes into a fresh folder of its own inside the app's
own folder of the work folder (:func:`outputs_folder`: the only folder the server serves, and the
only one whose old job folders are removed); a job that fails or is cancelled removes its folder,
so nothing is left behind.

The video job is ``interpolate_video.py``'s conversion: the same :class:`video.convert.ConversionJob`
and one :func:`video.convert.convert` call, with the model wrapped so that progress is reported,
the frames it makes are held to the app's limit, and a cancellation stops the run at the next
batch of frames. The network runs at most the tools' batch of timesteps at a time, as the CLI does.
"""
from __future__ import annotations

import dataclasses
import math
import shutil
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from models.checkpoint import CHECKPOINT_DIR
from models.interpolator import TOOLS_BATCH_SIZE, Interpolator, check_same_size
from models.timestep_policy import datasets_for
from utils.download import is_url
from utils.errors import InputError
from utils.image_io import read_image
from apps.pair_outputs import interpolate_pair
from utils.visualize import FIELD_NAMES
from video.convert import ConversionJob, convert, parse_rate
from video.timing import resampled_timesteps
from webapp.limits import (
    CRF_RANGE,
    MAX_FACTOR,
    MAX_IN_BETWEEN,
    MAX_SCENE_THRESHOLD,
    AppLimits,
    check_image_header,
    number_in,
    probe_video,
    whole_number,
)
from webapp.messages import public_message

__all__ = [
    "ModelChoice",
    "ModelCache",
    "JobCancelled",
    "outputs_folder",
    "FramesResult",
    "VideoOptions",
    "timesteps_for",
    "run_frames_job",
    "run_video_job",
]

FIELD_CAPTIONS = {"flow_t0": "flow t->0", "flow_t1": "flow t->1", "mask": "merge mask (white: from image 0)",
                  "residual": "residual"}
@dataclass(frozen=True)
class ModelChoice:
    """Which network a job runs: the options of :class:`models.interpolator.Interpolator` the page offers."""

    model_name: str = "IFRNet"
    dataset: str = "auto"  # whose published weights: Vimeo90K, GoPro, or auto (by the job's timesteps)
    scale_factor: str = "auto"
    precision: str = "fp32"  # a precision of utils.precision_choice: fp32, bf16 (CPUs with native bfloat16), fp16 (CUDA)
    timesteps: str = "auto"  # how a pair's timesteps are run: a mode of models.timestep_policy

    def datasets(self, timesteps: Optional[Sequence[float]]) -> Tuple[str, ...]:
        """The published weights to load for a job of these timesteps (None: not known), in order:
        ``dataset`` itself, or for "auto" what :func:`models.timestep_policy.datasets_for` picks."""
        return datasets_for(timesteps) if self.dataset == "auto" else (self.dataset,)


class ModelCache:
    """Keeps the last loaded :class:`Interpolator` and lets one job at a time use it.

    Loading takes seconds and a published checkpoint may be downloaded first, so the model is kept
    between jobs of the same choice. ``lock`` serialises the jobs: the queue of the page runs one
    at a time already, this also covers direct calls and a cancelled job still winding down.
    """

    def __init__(self, device: str = "auto", *, offline: bool = False, checkpoint: Optional[str] = None) -> None:
        self.device, self.offline, self.checkpoint = device, offline, checkpoint
        self.lock = threading.Lock()
        self._key: Optional[Tuple[ModelChoice, Tuple[str, ...]]] = None
        self._interpolator: Optional[Interpolator] = None

    def get(self, choice: ModelChoice, timesteps: Optional[Sequence[float]]) -> Interpolator:
        """The interpolator for ``choice`` and a job of ``timesteps`` (None: not known in advance),
        which pick the published weights when ``choice.dataset`` is "auto" (call with :attr:`lock` held)."""
        key = (choice, choice.datasets(timesteps))
        if self._key != key:
            self._key, self._interpolator = None, None  # free the old model first; a failed load keeps nothing
            self._interpolator = Interpolator.load(choice.model_name, self.checkpoint, self.device,
                                                   scale_factor=choice.scale_factor, precision=choice.precision,
                                                   dataset=key[1], other_variant=True, offline=self.offline,
                                                   timesteps=choice.timesteps, batch_size=TOOLS_BATCH_SIZE)
            self._key = key
        return self._interpolator

    @property
    def server_folders(self) -> List[Path]:
        """The server's folders that weights and their errors name (the checkpoints folder, the
        ``--checkpoint`` file's), which the page shows by file name only."""
        given = [Path(self.checkpoint).parent] if self.checkpoint and not is_url(self.checkpoint) else []
        return [CHECKPOINT_DIR] + given


def weights_description(interpolator: Interpolator, models: ModelCache) -> str:
    """One line for the page: which weights ran, and the note when it fell back to the starter
    ones; files by name, without the server's folders."""
    described = f"{interpolator.model_name} with weights {Path(interpolator.checkpoint).name}"
    for note in (interpolator.weights_note, interpolator.timestep_note):
        if note:
            described = f"{described}. Note: {note}"
    return public_message(described, {}, models.server_folders)


class JobCancelled(Exception):
    """Raised inside a job whose cancel event was set; the job's folder is removed."""


KEEP_RESULTS_SECONDS = 3600  # finished jobs' folders older than this go when a new job starts
OUTPUTS_FOLDER_NAME = "ifrnet-app-outputs"


def outputs_folder(work_dir: Path) -> Path:
    """The app's own folder inside the work folder, which holds the jobs' folders and nothing else:
    the server serves it (and not what else the work folder holds), and only in it are old job
    folders removed (not folders of the same names that someone else keeps in the work folder)."""
    return Path(work_dir) / OUTPUTS_FOLDER_NAME


@contextmanager
def job_folder(work_dir: Path, kind: str) -> Iterator[Path]:
    """A fresh folder for one job in :func:`outputs_folder`, removed if the job fails or is cancelled.

    Call it with the model's lock held: finished jobs' folders over an hour old are removed first
    (a long-running app must not fill the disk; the page keeps its own copies of what it shows),
    and only a job holding the lock can be running.
    """
    outputs = outputs_folder(work_dir)
    outputs.mkdir(parents=True, exist_ok=True)
    for old in outputs.iterdir():
        if old.is_dir() and old.name.startswith(("frames-", "video-")) and time.time() - old.stat().st_mtime > KEEP_RESULTS_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=outputs))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def timesteps_for(count: Any, timestep: Any = None) -> List[float]:
    """``count`` evenly spaced in-between times, or the single ``timestep`` when given (the page
    sends 0 or nothing for "use the count"); both within the page's bounds, whatever a client sends."""
    t = number_in(timestep, "the timestep", 0, 1) if timestep not in (None, "") else 0.0
    if t == 1.0:
        raise InputError(f"the timestep must lie strictly between 0 and 1, got {timestep}")
    if t > 0.0:
        return [t]
    count = whole_number(count, "the number of in-between frames", 1, MAX_IN_BETWEEN)
    return [k / (count + 1) for k in range(1, count + 1)]


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
    """Interpolate ``timesteps`` between two image files and write the results into a new folder.

    Both images are checked from their headers before either is decoded, and before the model is
    loaded (seconds, or a download): their sizes by the interpolator's own rule."""
    size0, size1 = check_image_header(image0, "the first image", limits), check_image_header(image1, "the second image", limits)
    check_same_size(size0, size1)
    frame0, frame1 = read_image(image0), read_image(image1)
    with models.lock, job_folder(work_dir, "frames") as folder:
        interpolator = models.get(choice, timesteps)
        # the demos' run (apps/demo.py): the same frames and files
        written = interpolate_pair(interpolator, folder, frame0, frame1, timesteps, visualize=visualize,
                                   gif_name="preview.gif")
        archive = folder / "frames.zip"
        with zipfile.ZipFile(archive, "w") as bundle:
            for path in written.frames:
                bundle.write(path, path.name)
        pictures = [(path, f"t={t:.3f}: {FIELD_CAPTIONS[name]}")
                    for t, paths in zip(timesteps, written.fields) for name, path in zip(FIELD_NAMES, paths)]
    return FramesResult(folder, written.frames, written.gif, archive, pictures, weights_description(interpolator, models))


_JOB_DEFAULTS = {item.name: item.default for item in dataclasses.fields(ConversionJob)}


@dataclass(frozen=True)
class VideoOptions:
    """The options of ``interpolate_video.py`` the page offers: fields of
    :class:`~video.convert.ConversionJob` with the same names and defaults, checked against the
    page's bounds when made: an API client can send any value (``factor=100``).

    A target ``fps`` replaces the factor; it may ask for up to :data:`MAX_FACTOR` times the video's
    rate, which :func:`run_video_job` checks once it knows the rate."""

    factor: Any = _JOB_DEFAULTS["factor"]  # a whole number from 2 to MAX_FACTOR (None with a target fps)
    fps: Any = None  # a target rate ("60", "59.94", "60000/1001") instead of the factor; a Fraction once made
    scene_threshold: Any = _JOB_DEFAULTS["scene_threshold"]  # 0 (off) to 255; None: the tool's default
    crf: Any = _JOB_DEFAULTS["crf"]  # H.264 quality, CRF_RANGE

    def __post_init__(self) -> None:
        fps = str(self.fps).strip() if self.fps is not None else ""
        object.__setattr__(self, "fps", parse_rate(fps) if fps else None)
        if self.fps is None or self.factor is not None:
            object.__setattr__(self, "factor", whole_number(self.factor, "the factor", 2, MAX_FACTOR))
        threshold = _JOB_DEFAULTS["scene_threshold"] if self.scene_threshold is None else self.scene_threshold
        object.__setattr__(self, "scene_threshold", number_in(threshold, "the scene-cut threshold", 0, MAX_SCENE_THRESHOLD))
        object.__setattr__(self, "crf", whole_number(self.crf, "the quality (CRF)", *CRF_RANGE))

    def job(self, video: Path, output: Path) -> ConversionJob:
        """The conversion of ``video`` into ``output`` with these options (a target fps replaces
        the factor), without a progress bar (the page shows its own) and in one piece: a job of
        the page is not resumed, so segments would only cost their joining."""
        chosen = {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        if self.fps is not None:
            chosen["factor"] = None
        return ConversionJob(input=video, output=output, progress=False, segment_seconds=Fraction(0), **chosen)


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
    MP4 and the weights' description.

    Progress is reported in [0, 1) after each pair of frames, out of the frames counted by
    :func:`~webapp.limits.probe_video`, and 1 at the end. A job's work is the frames it writes,
    not the frames it reads (two frames seconds apart at 1000 fps are thousands of network
    frames): before the model loads, the output's frames (the video's duration, from its header or
    its packets' timestamps, at the output rate) are held to ``limits.max_output_frames``; while
    decoding, the frames the network is asked for are counted against that limit and the pairs
    against the time limit, should the probe have missed some."""
    probe = probe_video(video, limits)
    if options.fps is not None and options.fps > MAX_FACTOR * probe.rate:
        raise InputError(f"a target of {float(options.fps):g} fps is over {MAX_FACTOR}x the video's "
                         f"{float(probe.rate):g} fps, this app's limit")
    rate = options.fps if options.fps is not None else probe.rate * options.factor
    planned = math.ceil(probe.seconds * rate)
    if planned > limits.max_output_frames:
        raise InputError(f"the result would have {planned:,} frames ({probe.seconds:.1f} s at {float(rate):g} fps), "
                         f"over this app's limit of {limits.max_output_frames:,}")
    pairs = max(1, probe.frames - 1)
    most_pairs = math.ceil(limits.max_video_seconds * probe.rate)  # the probe refuses a video without a rate
    done, made = [0], [0]  # pairs interpolated, frames the network was asked for

    def report(fraction: float) -> None:
        if on_progress is not None:
            on_progress(fraction)

    with models.lock, job_folder(work_dir, "video") as folder:
        timesteps = resampled_timesteps(rate / probe.rate)
        interpolator = models.get(choice, timesteps)
        if timesteps:
            interpolator.note_approximations([float(t) for t in timesteps])

        def interpolate(frame0: np.ndarray, frame1: np.ndarray, timesteps: List[float]) -> List[np.ndarray]:
            done[0] += 1
            if done[0] > most_pairs:
                raise InputError(f"the video runs past this app's limit of {limits.max_video_seconds:g} s: "
                                 "stopped there")
            made[0] += len(timesteps)
            if made[0] > limits.max_output_frames:
                raise InputError(f"the result runs past this app's limit of {limits.max_output_frames:,} frames: "
                                 "stopped there")
            frames: List[np.ndarray] = []
            for start in range(0, len(timesteps), interpolator.batch_size):  # a cancel is seen between batches
                if cancel is not None and cancel.is_set():
                    raise JobCancelled("the video job was cancelled")
                frames += interpolator.interpolate(frame0, frame1, timesteps[start : start + interpolator.batch_size])
            report(min(0.99, done[0] / pairs))
            return frames

        output = folder / f"{Path(video).stem}_interpolated.mp4"
        convert(options.job(Path(video), output), interpolate)
    report(1.0)
    return output, weights_description(interpolator, models)
