"""The interpolators a conversion runs on: ``model_for(checked) -> (interpolate, model settings)``.

A run (one video, or a batch) asks for the weights each job's timesteps call for
(:func:`models.timestep_policy.datasets_for`); each set is loaded once for the whole run, either
in this process (:func:`local_models`) or on every worker of a pool (:class:`PooledModels`, whose
pool starts at the first job, so that bad flags and paths fail before any worker loads a model).
Either way the same lines are logged about the weights, and a bisection's time error is said once.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Tuple

from models.interpolator import Interpolator
from models.timestep_policy import approximation_note, datasets_for
from scale import Pool, WorkerContext, Workers, open_pool
from scale.pool import call_one
from utils.device import autotune_convolutions
from video.convert import CheckedJob
from video.parallel import WorkerModel

__all__ = ["ModelFor", "load_interpolator", "local_models", "WorkerModels", "PooledModels"]

log = logging.getLogger("ifrnet.video")

# What a run calls for each job: the job's interpolate function and its model's settings (the manifest's).
ModelFor = Callable[[CheckedJob], Tuple[Callable, Mapping[str, Any]]]
# A line to log: (level, text).
Note = Tuple[int, str]


def load_interpolator(options: Mapping[str, Any], dataset: Any, device: Any, progress: bool) -> Interpolator:
    """``Interpolator.load(**options)`` for ``dataset`` on ``device``, with the convolutions
    autotuned (every frame of a video has one size)."""
    interpolator = Interpolator.load(**options, device=device, dataset=dataset, progress=progress)
    autotune_convolutions(interpolator.device)
    return interpolator


def _notes(interpolator: Interpolator) -> List[Note]:
    """The lines said about the weights once they are loaded."""
    notes = [(logging.WARNING, interpolator.weights_note)] if interpolator.weights_note else []
    notes.append((logging.INFO, f"weights: {Path(interpolator.checkpoint).name}"))
    if interpolator.timestep_note:
        notes.append((logging.INFO if interpolator.timestep_mode == "bisect" else logging.WARNING, interpolator.timestep_note))
    return notes


def _log(notes: List[Note]) -> None:
    for level, line in notes:
        log.log(level, "%s", line)


def local_models(options: Mapping[str, Any], device: Any, progress: bool) -> ModelFor:
    """``model_for`` with the interpolators in this process; ``options`` are the arguments of
    :meth:`Interpolator.load` but the device and the dataset."""
    loaded: Dict[Hashable, Interpolator] = {}

    def model_for(checked: CheckedJob) -> Tuple[Callable, Mapping[str, Any]]:
        key = datasets_for(checked.timesteps)
        if key not in loaded:
            loaded[key] = load_interpolator(options, key, device, progress)
            _log(_notes(loaded[key]))
        interpolator = loaded[key]
        if checked.timesteps:
            interpolator.note_approximations([float(t) for t in checked.timesteps])
        return interpolator.interpolate, interpolator.frame_settings()

    return model_for


class WorkerModels:
    """A pool's factory: on a worker, the interpolator for a key (the datasets whose weights the
    timesteps call for) on the worker's device. Picklable: it holds the load arguments, not a model."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.options = dict(options)

    def __call__(self, dataset: Any, device: Any) -> Interpolator:
        interpolator = load_interpolator(self.options, dataset, device, progress=False)
        interpolator.approximation_noted = True  # the driver says it, for the whole job (PooledModels)
        return interpolator


def _describe(context: WorkerContext, dataset: Any) -> Tuple[Mapping[str, Any], List[Note], str]:
    """On a worker: its model's settings for ``dataset``, the notes about the weights, and the timestep mode."""
    interpolator = context.model(dataset)
    return interpolator.frame_settings(), _notes(interpolator), interpolator.timestep_mode


class PooledModels:
    """``model_for`` with the interpolators on the workers of a pool: the pool starts at the first
    job and stops at the end of the ``with`` block. The driver logs what a local run logs: the
    notes about each set of weights, and once, the largest time error of a bisection."""

    def __init__(self, workers: Workers, factory: WorkerModels) -> None:
        self.workers, self.factory = workers, factory
        self.pool: Optional[Pool] = None
        self.described: Dict[Hashable, Tuple[Mapping[str, Any], str]] = {}
        self.approximations_noted: set = set()

    def model_for(self, checked: CheckedJob) -> Tuple[Callable, Mapping[str, Any]]:
        if self.pool is None:
            self.pool = open_pool(self.workers, self.factory)
        key = datasets_for(checked.timesteps)
        if key not in self.described:
            settings, notes, mode = call_one(self.pool, _describe, key)
            _log(notes)
            self.described[key] = settings, mode
        settings, mode = self.described[key]
        if mode == "bisect" and checked.timesteps and key not in self.approximations_noted:
            note = approximation_note([float(t) for t in checked.timesteps])
            if note:  # as Interpolator.note_approximations says it: once per set of weights, on its logger
                self.approximations_noted.add(key)
                logging.getLogger("ifrnet.timesteps").warning("%s", note)
        return WorkerModel(self.pool, key), settings

    def __enter__(self) -> "PooledModels":
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.pool is not None:
            self.pool.close()
