"""The training flags' rules: which values are valid, and which a resumed run takes from its checkpoint.

Both are applied twice in a run: to the command line as parsed (so bad input fails before the
process group or the data), and again after ``--resume`` filled in the run's saved flags.
"""
from __future__ import annotations

import argparse
import math
from typing import Any, Dict, Iterable, List

from training.recipes import crop_pair
from utils.errors import InputError
from utils.padding import NETWORK_MULTIPLE

__all__ = ["NOT_INHERITED", "check_args", "inherit_saved_flags"]

# Flags that describe this process rather than the run: never taken from a resumed checkpoint.
NOT_INHERITED = frozenset(
    {"resume", "log_path", "overwrite", "max_steps", "device", "num_workers", "world_size", "local_rank", "notes", "explicit_flags"}
)


def check_args(args: argparse.Namespace) -> None:
    """Raise :class:`InputError` with one sentence for the first invalid flag value."""
    for name in ("epochs", "batch_size", "eval_batch_size", "log_interval"):
        if getattr(args, name) <= 0:
            raise InputError(f"--{name} must be positive, got {getattr(args, name)}")
    for name in ("num_workers", "eval_interval", "save_interval", "max_steps"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name} must not be negative, got {getattr(args, name)}")
    for name in ("lr_start", "lr_end"):  # inf passes "> 0" and nan fails every comparison silently
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"--{name} must be a positive finite number, got {value}")
    if len(args.crop_size) > 2:
        raise InputError(f"--crop_size takes one size or height width, got {len(args.crop_size)} values")
    height, width = crop_pair(args.crop_size)
    if height <= 0 or width <= 0 or height % NETWORK_MULTIPLE or width % NETWORK_MULTIPLE:
        raise InputError(f"--crop_size must be positive multiples of {NETWORK_MULTIPLE} (IFRNet halves the frames four times), "
                         f"got {height}x{width}")
    factor = getattr(args, "factor", None)  # GoPro's window: first frame, at least one target, last frame
    if factor is not None and factor < 2:
        raise InputError(f"--factor must be at least 2 (a window needs a frame between its first and last), got {factor}")
    eval_crop = getattr(args, "eval_crop_size", None)
    if eval_crop is not None:
        if len(eval_crop) > 2 or any(value < 0 for value in eval_crop):
            raise InputError(f"--eval_crop_size takes one or two sizes >= 0, got {' '.join(map(str, eval_crop))}")


def inherit_saved_flags(args: argparse.Namespace, saved: Dict[str, Any], explicit: Iterable[str]) -> List[str]:
    """On --resume, take the run's saved flags for every flag not given again; returns a note.

    Resuming then needs only ``--resume PATH``: the model width, schedule, crop and data stay
    those the run started with, instead of silently falling back to the script's defaults.
    """
    explicit = set(explicit)
    taken = []
    for name, value in saved.items():
        if name in NOT_INHERITED or name in explicit or not hasattr(args, name):
            continue
        if getattr(args, name) != value:
            setattr(args, name, value)
            taken.append(f"--{name} {' '.join(map(str, value)) if isinstance(value, list) else value}")
    return [f"flags taken from the resumed run: {' '.join(taken)}"] if taken else []
