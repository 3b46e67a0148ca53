"""The starter set's multi-frame windows: 9 frames each, for training at every t (GoPro's 8x recipe).

The triplet set (:mod:`~datasets.starter_data.build`) only teaches t = 0.5, and a network trained on
it alone learns to ignore t (every 8x frame comes out near the middle). This set holds windows of
``factor + 1`` frames in the GoPro layout, so that ``train_gopro.py`` trains each window's inner
frames at t = k / factor, as the paper's 8x recipe does::

    <output>/train/<clip>_<start>/00000000.png ... 00000008.png    real footage, first 75% of each clip
    <output>/train/synthetic_<index>/00000000.png ...              synthetic scenes rendered at t = k/8
    <output>/test/<clip>_heldout_<start>/...                       held-out real windows (last 25%)
    <output>/test/synthetic_test_<index>/...
    <output>/starter_windows.json                                  the settings and the counts

Real windows are ``factor + 1`` consecutive frames with no scene cut or repeated frame among them
(:func:`~datasets.starter_data.clips.clip_triplet_starts`), so frame k is the true frame at
t = k / factor. Synthetic scenes move linearly in time and are rendered from the photographs at
each t (:func:`~datasets.starter_data.scenes.render_scene`), so their inner frames are exact.
Deterministic given the settings, resumable, and a folder built with other settings is refused.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import List, NamedTuple, Tuple, Union

import numpy as np
from tqdm import tqdm

from datasets.starter_data.build import BuildCounts, check_clip_names, check_previous_build, check_scene_settings, process_pool, write_text
from datasets.starter_data.clips import CLIPS, HOLDOUT_FRACTION, clip_triplet_starts, load_clip
from datasets.starter_data.scenes import PHOTOS, Size, render_scene, synthetic_scene
from utils.errors import InputError
from utils.image_io import write_image

__all__ = ["WINDOWS_MANIFEST_NAME", "WindowSettings", "window_frame_name", "build_starter_windows"]

WINDOWS_MANIFEST_NAME = "starter_windows.json"


@dataclass(frozen=True)
class WindowSettings:
    """Everything a window build depends on (recorded in the manifest)."""

    seed: int = 0
    factor: int = 8
    num_synthetic: int = 400
    num_synthetic_test: int = 20
    synthetic_size: Size = (448, 256)
    max_shift: float = 40.0
    real_stride: int = 1
    real_steps: Tuple[int, ...] = (1,)  # a window takes every step-th frame of a clip: spans of factor * step frames
    clips: Tuple[str, ...] = tuple(CLIPS)
    holdout_fraction: float = HOLDOUT_FRACTION

    def check(self) -> None:
        """InputError for settings that cannot build a usable set."""
        if self.factor < 2 or self.factor % 2:
            raise InputError(f"--factor must be an even number of at least 2, got {self.factor}")
        check_scene_settings(self.seed, self.num_synthetic, self.num_synthetic_test, self.synthetic_size, self.max_shift)
        if self.real_stride < 1:
            raise InputError(f"--real_stride must be positive, got {self.real_stride}")
        if not self.real_steps or min(self.real_steps) < 1:
            raise InputError(f"--real_steps must be positive, got {' '.join(map(str, self.real_steps))}")
        check_clip_names(self.clips)
        if not self.clips and (self.num_synthetic == 0 or self.num_synthetic_test == 0):
            raise InputError("without clips both --num_synthetic and --num_synthetic_test must be positive")


class WindowJob(NamedTuple):
    """One window to write into ``<split>/<name>``: synthetic scene ``index`` (``frames`` empty), or
    the clip frames themselves, taken by the plan (a worker never decodes a clip)."""

    split: str
    name: str
    index: int  # scene index, or the first frame of the clip window
    frames: Tuple[np.ndarray, ...] = ()


def window_frame_name(k: int) -> str:
    """File name of a window's frame ``k``: zero-padded so that name order is time order."""
    return f"{k:08d}.png"


def _plan(settings: WindowSettings) -> Tuple[List[WindowJob], BuildCounts]:
    jobs: List[WindowJob] = []
    summary = BuildCounts()
    for split, count, prefix, counts in (
        ("train", settings.num_synthetic, "synthetic", summary.train),
        ("test", settings.num_synthetic_test, "synthetic_test", summary.test),
    ):
        jobs.extend(WindowJob(split, f"{prefix}_{index:05d}", index) for index in range(count))
        counts["synthetic"] = count
    for clip_name in settings.clips:
        clip = load_clip(clip_name, settings.holdout_fraction)
        for step in settings.real_steps:
            # clip_triplet_starts' gap: a window is a triplet (i, i + span / 2, i + span) of regular frames.
            span = settings.factor * step
            half = span // 2
            kind = clip_name if step == 1 else f"{clip_name}_step{step}"
            starts = clip_triplet_starts(clip, half, "train", settings.real_stride)
            jobs.extend(WindowJob("train", f"{kind}_{start:04d}", start, clip.frames[start : start + span + 1 : step]) for start in starts)
            summary.train[kind] = len(starts)
            # Held-out windows start about every span frames: few overlap, most frames are scored once.
            held_out = clip_triplet_starts(clip, half, "heldout", span)
            jobs.extend(WindowJob("test", f"{kind}_heldout_{start:04d}", start, clip.frames[start : start + span + 1 : step]) for start in held_out)
            summary.test[f"{kind}_heldout"] = len(held_out)
    return jobs, summary


def _write_window(output: Path, settings: WindowSettings, job: WindowJob) -> bool:
    """Write the missing frames of one window; returns whether anything was written."""
    folder = output / job.split / job.name
    paths = [folder / window_frame_name(k) for k in range(settings.factor + 1)]
    if all(os.path.isfile(path) for path in paths):
        return False
    if job.frames:
        frames = job.frames
    else:
        scene = synthetic_scene(settings.seed, job.index, job.split, settings.synthetic_size, settings.max_shift)
        frames = [render_scene(scene, k / settings.factor) for k in range(settings.factor + 1)]
    folder.mkdir(parents=True, exist_ok=True)
    for path, frame in zip(paths, frames):
        write_image(path, frame)
    return True


def _manifest(settings: WindowSettings) -> dict:
    return {
        "settings": json.loads(json.dumps(asdict(settings))),
        "clips": {name: CLIPS[name].licence for name in settings.clips},
        "photos": PHOTOS,
    }


def build_starter_windows(
    output: Union[str, Path], settings: WindowSettings = WindowSettings(), *, num_workers: int = 0, progress: bool = True
) -> BuildCounts:
    """Write the window set to ``output`` (see the module docstring); returns the counts.

    Resumable (complete windows are kept; frames are written atomically) and refuses a folder
    built with other settings. ``num_workers`` processes render and write windows (0: this one).
    """
    settings.check()
    output = Path(output)
    manifest = _manifest(settings)
    check_previous_build(output / WINDOWS_MANIFEST_NAME, manifest)
    jobs, summary = _plan(settings)
    write = partial(_write_window, output, settings)
    try:
        output.mkdir(parents=True, exist_ok=True)
        with process_pool(num_workers) as pool:
            results = pool.imap(write, jobs, chunksize=4) if pool else map(write, jobs)
            for written in tqdm(results, total=len(jobs), desc="windows", unit="window", disable=not progress, dynamic_ncols=True):
                summary.written += written
                summary.skipped += not written
        manifest["counts"] = {"train": summary.train, "test": summary.test}
        write_text(output / WINDOWS_MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    except OSError as error:
        raise InputError(f"cannot write the starter windows to {output}: {error.strerror or error}") from None
    return summary
