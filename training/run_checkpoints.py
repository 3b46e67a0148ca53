"""Training checkpoints that resume exactly, and plain weights files next to them.

A training checkpoint is a dict readable with ``torch.load(..., weights_only=True)``: the model
weights, optimiser and AMP scaler states, the position (epoch, step within the epoch, global
iteration), the best evaluation score, the run's arguments as a plain dict and every rank's RNG
states. Beside it goes a bare ``state_dict`` that the demos and benchmarks load directly.

Files in ``--log_path`` for a tag (``latest`` or ``best``):
``checkpoint_<tag>.pth`` (resume with ``--resume``) and ``<model_name>_<tag>.pth`` (weights only).
Both are written atomically and as a pair: both files are complete on disk before either is
renamed into place, the weights first, so an interrupted save or a full disk never leaves a broken
file behind nor a ``checkpoint_best.pth`` whose weights file is missing or older. A checkpoint also
names its recipe (``vimeo90k``, ``gopro``): resuming it with the other training script is refused.
"""
from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np
import torch

from utils.atomic import atomic_writer, full_disk_is_one_line
from utils.errors import InputError
from utils.weights_file import WeightsFileError, load_weights_file

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainingState",
    "checkpoint_paths",
    "plain_args",
    "capture_rng_state",
    "restore_rng_state",
    "save_training_checkpoint",
    "load_training_checkpoint",
    "check_recipe",
]

CHECKPOINT_FORMAT = "ifrnet-training-1"


@dataclass
class TrainingState:
    """Where a run stands; ``optimizer`` is None for a weights-only file (training restarts at 0)."""

    model: Dict[str, torch.Tensor]
    optimizer: Optional[Dict[str, Any]] = None
    scaler: Optional[Dict[str, Any]] = None
    epoch: int = 0
    epoch_step: int = 0
    iteration: int = 0
    iters_per_epoch: int = 0
    best_score: float = float("-inf")
    args: Dict[str, Any] = field(default_factory=dict)
    rng: List[Dict[str, Any]] = field(default_factory=list)
    recipe: Optional[str] = None  # the training recipe's name; None when unknown (a plain weights file)

    @property
    def weights_only(self) -> bool:
        return self.optimizer is None


def checkpoint_paths(log_path: Union[str, Path], model_name: str, tag: str) -> Tuple[Path, Path]:
    """(training checkpoint, plain weights) paths of ``tag`` in ``log_path``."""
    log_path = Path(log_path)
    return log_path / f"checkpoint_{tag}.pth", log_path / f"{model_name}_{tag}.pth"


def plain_args(args: Mapping[str, Any]) -> Dict[str, Any]:
    """Arguments as str/int/float/bool/None/lists only, so weights_only loading accepts them."""

    def plain(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        return str(value)

    return {str(key): plain(value) for key, value in args.items()}


def capture_rng_state() -> Dict[str, Any]:
    """This process's Python, NumPy, torch and CUDA RNG states in weights_only-loadable types."""
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "python": {"version": int(version), "state": [int(x) for x in python_state], "gauss": python_gauss},
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state` (CUDA states only when as many devices are present)."""
    torch.set_rng_state(state["torch"].cpu())
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["state"]), python_state["gauss"]))


# Below this much free space a failed torch.save is reported as a full disk.
_NEARLY_FULL_BYTES = 256 * 2**20


def _torch_save(obj: Any, handle: Any, path: Path) -> None:
    """``torch.save`` whose failure to write (torch's ``[enforce fail at inline_container.cc]``
    RuntimeError, or ENOSPC from the handle) is one line naming ``path``; a full disk says so."""
    try:
        with full_disk_is_one_line(path):
            torch.save(obj, handle)
    except RuntimeError as error:
        text = str(error)
        if "inline_container" not in text and "PytorchStreamWriter" not in text:
            raise
        free = shutil.disk_usage(path.parent).free
        if free < _NEARLY_FULL_BYTES:
            raise InputError(f"cannot write {path}: no space left on device ({free / 2**20:.0f} MiB free)") from None
        reason = " ".join(text.split())[:200]
        raise InputError(f"cannot write {path}: torch could not write it ({reason})") from None


def save_training_checkpoint(
    log_path: Union[str, Path], model_name: str, tag: str, state: TrainingState
) -> Tuple[Path, Path]:
    """Write the training checkpoint and the plain weights of ``tag`` as a pair; returns both paths.

    Both are written in full before either is renamed into place (the weights first), so a failed
    save (a full disk: one :class:`InputError`) keeps the previous pair and never leaves the
    training checkpoint without its weights file.
    """
    training_path, weights_path = checkpoint_paths(log_path, model_name, tag)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "recipe": state.recipe,
        "model": state.model,
        "optimizer": state.optimizer,
        "scaler": state.scaler,
        "epoch": int(state.epoch),
        "epoch_step": int(state.epoch_step),
        "iteration": int(state.iteration),
        "iters_per_epoch": int(state.iters_per_epoch),
        "best_score": float(state.best_score),
        "args": plain_args(state.args),
        "rng": state.rng,
    }
    # Context managers exit innermost first: the weights file is renamed into place before the checkpoint.
    with atomic_writer(training_path) as training_handle, atomic_writer(weights_path) as weights_handle:
        _torch_save(state.model, weights_handle, weights_path)
        _torch_save(payload, training_handle, training_path)
    return training_path, weights_path


# Checkpoints written before the recipe was recorded: each recipe has a flag only it saves.
_RECIPE_ONLY_FLAGS = {"flow_loss": "vimeo90k", "eval_crop_size": "gopro"}


def _recipe_of(checkpoint: Mapping[str, Any]) -> Optional[str]:
    if checkpoint.get("recipe"):
        return str(checkpoint["recipe"])
    for flag, recipe in _RECIPE_ONLY_FLAGS.items():
        if flag in (checkpoint.get("args") or {}):
            return recipe
    return None


def check_recipe(state: TrainingState, recipe: str, path: Union[str, Path]) -> None:
    """Refuse to resume another recipe's run: its position, schedule and best score mean nothing here.

    A plain weights file has no recipe and is fine (training starts a new schedule from it).
    """
    if state.weights_only or state.recipe is None or state.recipe == recipe:
        return
    path = Path(path)
    tag = path.stem[len("checkpoint_"):] if path.stem.startswith("checkpoint_") else "latest"
    weights = checkpoint_paths(path.parent, str(state.args.get("model_name", "<model_name>")), tag)[1]
    raise InputError(
        f"--resume {path} is a checkpoint of a {state.recipe} run, not {recipe}: resume it with "
        f"train_{state.recipe}.py, or start a new {recipe} schedule from its weights with --resume {weights}"
    )


def load_training_checkpoint(path: Union[str, Path]) -> TrainingState:
    """Read a checkpoint written by :func:`save_training_checkpoint`, or a plain state_dict.

    Raises :class:`InputError` with one sentence for a missing, unreadable or foreign file.
    """
    from models.checkpoint import extract_state_dict  # the weights part accepts every known layout

    path = Path(path)
    if not path.is_file():
        raise InputError(f"--resume checkpoint not found: {path}")
    try:
        checkpoint = load_weights_file(path)
    except WeightsFileError as error:
        raise InputError(f"cannot read --resume checkpoint {path}: {error}") from None
    if not isinstance(checkpoint, Mapping):
        raise InputError(f"--resume checkpoint {path} holds no dict")
    try:
        weights = extract_state_dict(checkpoint)
    except InputError as error:
        raise InputError(f"--resume checkpoint {path}: {error}") from None
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        return TrainingState(model=weights)
    return TrainingState(
        model=weights,
        optimizer=checkpoint["optimizer"],
        scaler=checkpoint.get("scaler"),
        epoch=int(checkpoint["epoch"]),
        epoch_step=int(checkpoint["epoch_step"]),
        iteration=int(checkpoint["iteration"]),
        iters_per_epoch=int(checkpoint["iters_per_epoch"]),
        best_score=float(checkpoint["best_score"]),
        args=dict(checkpoint.get("args") or {}),
        rng=list(checkpoint.get("rng") or []),
        recipe=_recipe_of(checkpoint),
    )
