"""The run's folder (--log_path): where it is, whether it can be written, and what an earlier run left.

Checked by rank 0 before any data is read or any model built, so a bad ``--log_path`` costs a
second, not a run: a path that is a file or lies under a file, a folder that cannot be written,
and a folder holding an earlier run's checkpoints that a new run would replace (refused unless
``--overwrite``; ``--resume`` continues that run instead). Hidden partial files of saves that a
killed run never finished are removed here too.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import List

from training.recipes import Recipe
from utils.atomic import remove_stale_temporaries
from utils.output_checks import check_output_folder
from utils.errors import InputError

__all__ = ["default_log_path", "prepare_log_folder"]


def default_log_path(args: argparse.Namespace, recipe: Recipe) -> Path:
    """--log_path if given; else the --resume checkpoint's folder; else runs/<recipe>_<model>."""
    if args.log_path is not None:
        return Path(args.log_path)
    if args.resume is not None:
        return Path(args.resume).resolve().parent
    return Path("runs") / f"{recipe.name}_{args.model_name}"


def _ensure_writable_folder(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise InputError(f"--log_path {path} is a file, not a folder; pass a folder for the run's checkpoints and logs")
    check_output_folder(path, "--log_path", create=True)


def prepare_log_folder(path: Path, *, resuming: bool, overwrite: bool) -> List[str]:
    """Check and create the run's folder; returns notes for the log.

    Raises :class:`InputError` with one sentence when the folder cannot serve the run, or when it
    holds an earlier run's checkpoints and this is a new run without ``--overwrite``.
    """
    _ensure_writable_folder(path)
    notes = []
    earlier = sorted(p.name for p in path.glob("checkpoint_*.pth"))
    if earlier and not resuming:
        if not overwrite:
            raise InputError(
                f"--log_path {path} holds an earlier run's checkpoints ({', '.join(earlier)}): continue that run "
                f"with --resume {path / 'checkpoint_latest.pth'}, or replace it with --overwrite"
            )
        notes.append(f"--overwrite: this run replaces the earlier run's {', '.join(earlier)} in {path}")
    removed = remove_stale_temporaries(path)
    if removed:
        notes.append(f"removed {len(removed)} partial file(s) of an interrupted save: {', '.join(p.name for p in removed)}")
    return notes
