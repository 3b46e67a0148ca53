"""Writing the starter set: the plan of triplets, their frames and labels, the lists and the manifest.

Resumable and deterministic: every file is a function of the settings and the seed, written
atomically, and a folder built with other settings is refused rather than mixed.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from tqdm import tqdm

from datasets.flow_labels import flo_is_complete, pending_flow_labels, write_flow_labels
from datasets.starter_data.clips import CLIPS, HOLDOUT_FRACTION, SourceClip, clip_triplet_starts, load_clip
from datasets.starter_data.scenes import PHOTOS, Size, synthetic_scene, triplet_flow_labels, triplet_frames
from datasets.vimeo90k import triplet_paths
from utils.atomic import atomic_writer
from utils.errors import InputError
from utils.flow_io import write_flo
from utils.image_io import write_image
from utils.padding import centre_offsets

__all__ = ["MANIFEST_NAME", "check_scene_settings", "check_clip_names", "check_previous_build", "process_pool", "write_text", "SYNTHETIC_LABELS", "StarterSettings", "BuildCounts", "BuildSummary", "SceneJob", "FootageJob", "build_starter_dataset"]


MANIFEST_NAME = "starter_dataset.json"
SYNTHETIC_LABELS = ("exact", "dis")


def check_scene_settings(seed: int, num_synthetic: int, num_synthetic_test: int, synthetic_size: Size, max_shift: float) -> None:
    """InputError for synthetic-scene settings no build can use (the triplet and the window sets share them)."""
    if num_synthetic < 0 or num_synthetic_test < 0:
        raise InputError("--num_synthetic and --num_synthetic_test must not be negative")
    if min(synthetic_size) < 32:
        raise InputError(f"--synthetic_size must be at least 32x32, got {synthetic_size[0]}x{synthetic_size[1]}")
    if not 0 <= max_shift < math.inf:  # also refuses NaN, which numpy's sampler rejects with a traceback
        raise InputError(f"--max_shift must be a finite number of pixels, not negative, got {max_shift}")
    if seed < 0:  # numpy seeds are non-negative
        raise InputError(f"--seed must not be negative, got {seed}")


def check_clip_names(clips: Sequence[str]) -> None:
    """InputError naming the first clip that is not one of :data:`CLIPS`."""
    unknown = [name for name in clips if name not in CLIPS]
    if unknown:
        raise InputError(f"unknown clip {unknown[0]!r}; expected some of {', '.join(CLIPS)}")


@dataclass(frozen=True)
class StarterSettings:
    """Everything a build depends on (recorded in the manifest)."""

    seed: int = 0
    num_synthetic: int = 3000
    num_synthetic_test: int = 100
    synthetic_size: Size = (448, 256)
    max_shift: float = 24.0
    real_gaps: Tuple[int, ...] = (1, 2)
    real_stride: int = 1
    real_repeat: int = 3
    clips: Tuple[str, ...] = tuple(CLIPS)
    holdout_fraction: float = HOLDOUT_FRACTION
    synthetic_labels: str = "exact"  # flow labels of synthetic scenes: "exact" (from the scene) or "dis"

    def check(self) -> None:
        """InputError for settings that cannot build a usable set."""
        check_scene_settings(self.seed, self.num_synthetic, self.num_synthetic_test, self.synthetic_size, self.max_shift)
        if self.synthetic_labels not in SYNTHETIC_LABELS:
            raise InputError(f"--synthetic_labels must be one of {', '.join(SYNTHETIC_LABELS)}, got {self.synthetic_labels!r}")
        if not self.real_gaps or min(self.real_gaps) < 1 or self.real_stride < 1 or self.real_repeat < 1:
            raise InputError("--real_gaps, --real_stride and --real_repeat must be positive")
        check_clip_names(self.clips)
        for name in self.clips:
            width, height = CLIPS[name].size
            if self.synthetic_size[0] > width or self.synthetic_size[1] > height:
                raise InputError(
                    f"--synthetic_size {self.synthetic_size[0]}x{self.synthetic_size[1]} is larger than the {name} clip "
                    f"({width}x{height}), whose held-out test triplets are cropped to it"
                )
        if not self.clips and (self.num_synthetic == 0 or self.num_synthetic_test == 0):
            raise InputError("without clips both --num_synthetic and --num_synthetic_test must be positive (train and test lists need triplets)")


@dataclass
class BuildCounts:
    """Samples of a build (triplets or windows) by kind and split; ``written`` excludes what was already on disk."""

    train: Dict[str, int] = field(default_factory=dict)
    test: Dict[str, int] = field(default_factory=dict)
    written: int = 0
    skipped: int = 0


@dataclass
class BuildSummary(BuildCounts):
    """Triplet counts of a build; ``written`` (frames) and ``flow_labels`` exclude what was already on disk."""

    flow_labels: int = 0


class SceneJob(NamedTuple):
    """One synthetic triplet to write: scene ``index`` of ``split`` ("train" or "test")."""

    name: str
    split: str
    index: int


class FootageJob(NamedTuple):
    """One real triplet to write: its three frames, taken from the clip the plan decoded (a worker
    never decodes a clip; pickling three frames costs far less than a decode of the whole clip)."""

    name: str
    frames: Tuple[np.ndarray, np.ndarray, np.ndarray]


def _footage_job(name: str, clip: SourceClip, start: int, gap: int, crop: Optional[Size] = None) -> FootageJob:
    """The triplet of frames ``start + k * gap`` of ``clip``, centre-cropped to ``crop`` (width, height) if given."""
    frames = [clip.frames[start + k * gap] for k in range(3)]
    if crop is not None:
        width, height = crop
        top, left = centre_offsets(frames[0].shape[:2], (height, width))
        frames = [frame[top : top + height, left : left + width] for frame in frames]
    return FootageJob(name, tuple(frames))


def _write_job(output: Path, settings: StarterSettings, exact_labels: bool, job: Union[SceneJob, FootageJob]) -> Tuple[bool, bool]:
    """Write what is missing of one triplet; returns whether its frames and its labels were written.

    That is its three frames, and with ``exact_labels`` the flow labels of a synthetic training
    scene, computed from the scene itself (the DIS pass then finds them complete and skips them).
    """
    frame_paths, flow_paths = triplet_paths(output, job.name)
    frames_due = not all(os.path.isfile(path) for path in frame_paths)
    height, width = settings.synthetic_size[::-1]
    synthetic_train = isinstance(job, SceneJob) and job.split == "train"
    labels_due = exact_labels and synthetic_train and not all(flo_is_complete(path, (height, width)) for path in flow_paths)
    if not (frames_due or labels_due):
        return False, False
    if isinstance(job, SceneJob):
        scene = synthetic_scene(settings.seed, job.index, job.split, settings.synthetic_size, settings.max_shift)
        frames = triplet_frames(scene) if frames_due else ()
        labels = triplet_flow_labels(scene) if labels_due else ()
    else:
        frames, labels = job.frames, ()
    for path, frame in zip(frame_paths, frames):
        write_image(path, frame)
    for path, flow in zip(flow_paths, labels):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_flo(path, flow)
    return frames_due, labels_due


def _plan(settings: StarterSettings) -> Tuple[List[Union[SceneJob, FootageJob]], List[str], List[str], BuildSummary]:
    """The triplets to write and the two lists, without rendering anything yet."""
    jobs: List[Union[SceneJob, FootageJob]] = []
    train: List[str] = []
    test: List[str] = []
    summary = BuildSummary()
    for split, count, folder, names in (
        ("train", settings.num_synthetic, "synthetic", train),
        ("test", settings.num_synthetic_test, "synthetic_test", test),
    ):
        for index in range(count):
            jobs.append(SceneJob(f"{folder}/{index:05d}", split, index))
            names.append(jobs[-1].name)
    summary.train["synthetic"] = settings.num_synthetic
    summary.test["synthetic"] = settings.num_synthetic_test
    for clip_name in settings.clips:
        clip = load_clip(clip_name, settings.holdout_fraction)
        for gap in settings.real_gaps:
            starts = clip_triplet_starts(clip, gap, "train", settings.real_stride)
            for start in starts:
                jobs.append(_footage_job(f"{clip_name}_gap{gap}/{start:04d}", clip, start, gap))
                train.extend([jobs[-1].name] * settings.real_repeat)
            summary.train[f"{clip_name}_gap{gap}"] = len(starts)
        starts = clip_triplet_starts(clip, 2, "heldout", settings.real_stride)
        for start in starts:
            jobs.append(_footage_job(f"{clip_name}_heldout/{start:04d}", clip, start, 2, settings.synthetic_size))
            test.append(jobs[-1].name)
        summary.test[f"{clip_name}_heldout"] = len(starts)
    return jobs, train, test, summary


def _manifest(settings: StarterSettings) -> dict:
    return {
        "settings": json.loads(json.dumps(asdict(settings))),  # tuples become lists, as read back
        "clips": {name: CLIPS[name].licence for name in settings.clips},
        "photos": PHOTOS,
    }


def check_previous_build(path: Path, manifest: dict) -> None:
    """InputError when the manifest at ``path`` records other settings: a folder is never mixed."""
    output = path.parent
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{path} is unreadable; delete {output} or choose another --output") from None
    if previous != manifest["settings"]:
        changed = sorted(key for key in manifest["settings"] if previous.get(key) != manifest["settings"][key])
        raise InputError(
            f"{output} was built with other settings ({', '.join(changed)} differ); delete it or choose another --output"
        )


def write_text(path: Path, text: str) -> None:
    with atomic_writer(path) as handle:
        handle.write(text.encode())


def build_starter_dataset(
    output: Union[str, Path],
    settings: StarterSettings = StarterSettings(),
    *,
    with_flow: bool = True,
    num_workers: int = 0,
    progress: bool = True,
) -> BuildSummary:
    """Write the starter set to ``output`` (see the module docstring); returns the counts.

    Resumable: triplets whose three frames exist are kept (every file is written atomically), and
    a folder built with other settings is refused rather than mixed. With ``with_flow`` the DIS
    flow labels of the train split are written too: exact ones for synthetic scenes (unless
    ``settings.synthetic_labels`` is "dis") and DIS ones, as ``generate_flow.py --estimator dis``
    writes them, for the rest.
    ``num_workers`` processes render and write triplets and read frames for the flow (0: this one).
    """
    settings.check()
    output = Path(output)
    manifest = _manifest(settings)
    check_previous_build(output / MANIFEST_NAME, manifest)
    jobs, train, test, summary = _plan(settings)  # decodes the clips here, once; the jobs carry their frames
    write = partial(_write_job, output, settings, with_flow and settings.synthetic_labels == "exact")
    try:
        output.mkdir(parents=True, exist_ok=True)
        with process_pool(num_workers) as pool:
            results = pool.imap(write, jobs, chunksize=8) if pool else map(write, jobs)
            for frames_written, labels_written in tqdm(
                results, total=len(jobs), desc="triplets", unit="triplet", disable=not progress, dynamic_ncols=True
            ):
                summary.written += frames_written
                summary.skipped += not frames_written
                summary.flow_labels += labels_written
        write_text(output / "tri_trainlist.txt", "\n".join(train) + "\n")
        write_text(output / "tri_testlist.txt", "\n".join(test) + "\n")
        manifest["counts"] = {"train": summary.train, "test": summary.test}
        write_text(output / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    except OSError as error:
        raise InputError(f"cannot write the starter set to {output}: {error.strerror or error}") from None
    if with_flow:
        summary.flow_labels += _write_dis_labels(output, num_workers, progress)
    return summary


@contextmanager
def process_pool(num_workers: int):
    """A process pool of ``num_workers`` (None for 0); rendering and PNG compression are CPU-bound.

    Workers are spawned, not forked: a child forked after OpenCV has started its thread pool
    deadlocks in its first OpenCV call. Jobs carry the clip frames they write: no worker decodes a clip.
    """
    if num_workers <= 0:
        yield None
        return
    with multiprocessing.get_context("spawn").Pool(num_workers, initializer=_single_threaded_worker) as pool:
        yield pool


def _single_threaded_worker() -> None:
    """The workers are the parallelism; OpenCV's own threads would only oversubscribe the cores."""
    import cv2

    cv2.setNumThreads(1)


def _write_dis_labels(output: Path, num_workers: int, progress: bool) -> int:
    """DIS flow labels (t -> 0, t -> 1) for the train split, skipping complete ones."""
    from models.flow_estimators import build_estimator

    jobs, _ = pending_flow_labels(output, ["train"])
    if not jobs:
        return 0
    return write_flow_labels(jobs, build_estimator("dis"), batch_size=4, num_workers=num_workers, progress=progress)
