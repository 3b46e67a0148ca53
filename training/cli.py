"""Command line of the training scripts: the shared flags, each recipe's own, and argument checks.

The authors' launch lines (``python -m torch.distributed.launch --nproc_per_node=4
train_vimeo90k.py --world_size 4``) still work: ``--world_size`` and ``--local_rank`` are accepted
and ignored with a note, because the launcher's environment already says how many processes there
are and which one this is.
"""
from __future__ import annotations

import argparse
from typing import List, Optional

from models import MODEL_NAMES
from training.init import INIT_SCHEMES
from training.recipes import Recipe, crop_pair
from utils.device import DEVICE_CHOICES
from utils.errors import InputError

__all__ = ["build_parser", "parse_args", "main"]


def build_parser(recipe: Recipe) -> argparse.ArgumentParser:
    """All flags of a recipe's training script, with the recipe's defaults."""
    d = recipe.defaults
    parser = argparse.ArgumentParser(
        description=recipe.description
        + " Runs as one process (python SCRIPT), on several GPUs (torchrun --nproc_per_node=N SCRIPT) "
        "or machines (torchrun --nnodes=M --node_rank=R --rdzv_endpoint=HOST:PORT SCRIPT).",
    )
    add = parser.add_argument
    add("--data_root", default=d["data_root"], help=f"dataset folder (default: {d['data_root']})")
    add("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add("--epochs", type=int, default=d["epochs"], help=f"epochs; the cosine schedule spans all of them (default: {d['epochs']})")
    add("--batch_size", type=int, default=d["batch_size"], help=f"samples per process and step (default: {d['batch_size']})")
    add("--lr_start", type=float, default=1e-4, help="learning rate at the first iteration (default: 1e-4)")
    add("--lr_end", type=float, default=1e-5, help="learning rate at the last iteration (default: 1e-5)")
    add("--crop_size", type=int, nargs="+", default=d["crop_size"], metavar="SIZE",
        help="training crop, one size or height width, multiples of 16 (default: 224)")
    add("--num_workers", type=int, default=4, help="data-loading processes per training process (default: 4)")
    add("--eval_interval", type=int, default=d["eval_interval"],
        help=f"evaluate on the test split every N epochs and after the last; 0 never (default: {d['eval_interval']})")
    add("--eval_batch_size", type=int, default=d["eval_batch_size"], help=f"test samples per batch (default: {d['eval_batch_size']})")
    add("--log_path", default=None,
        help=f"folder for checkpoints, train.log and TensorBoard events (default: runs/{recipe.name}_<model_name>, "
        "or the --resume checkpoint's folder)")
    add("--log_interval", type=int, default=100, help="iterations between log lines and TensorBoard points (default: 100)")
    add("--save_interval", type=int, default=1000,
        help="also save the latest checkpoint every N iterations inside an epoch; 0 only at epoch ends (default: 1000)")
    add("--resume", default=None, metavar="PATH",
        help="continue from a training checkpoint (checkpoint_latest.pth) at its iteration, learning rate and "
        "RNG state, with the run's saved flags unless given again; a plain weights file starts a new schedule "
        "from those weights")
    add("--init", choices=INIT_SCHEMES, default="pytorch",
        help="starting weights of a run from scratch: pytorch (PyTorch's defaults, as the authors) or kaiming "
        "(He-normal for PReLU, small decoder outputs; learns motion far sooner in short runs) (default: pytorch)")
    add("--amp", action="store_true", help="mixed precision (float16 with loss scaling on CUDA, bfloat16 on CPU)")
    add("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available (default: auto)")
    add("--seed", type=int, default=1234, help="seed of weights, shuffling and augmentation; rank r uses seed + r (default: 1234)")
    add("--max_steps", type=int, default=0, help="stop after this many optimiser steps in this run, for smoke tests; 0 no limit")
    recipe.add_arguments(parser)
    legacy = parser.add_argument_group("accepted for the authors' command lines, ignored")
    legacy.add_argument("--world_size", type=int, default=None, help="ignored: the launcher sets the number of processes")
    legacy.add_argument("--local_rank", "--local-rank", type=int, default=None, help="ignored: the launcher sets LOCAL_RANK")
    return parser


def _check(args: argparse.Namespace) -> None:
    positive = ("epochs", "batch_size", "eval_batch_size", "log_interval")
    for name in positive:
        if getattr(args, name) <= 0:
            raise InputError(f"--{name} must be positive, got {getattr(args, name)}")
    for name in ("num_workers", "eval_interval", "save_interval", "max_steps"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name} must not be negative, got {getattr(args, name)}")
    if not (args.lr_start > 0 and args.lr_end > 0):
        raise InputError(f"learning rates must be positive, got --lr_start {args.lr_start} --lr_end {args.lr_end}")
    if len(args.crop_size) > 2:
        raise InputError(f"--crop_size takes one size or height width, got {len(args.crop_size)} values")
    height, width = crop_pair(args.crop_size)
    if height <= 0 or width <= 0 or height % 16 or width % 16:
        raise InputError(f"--crop_size must be positive multiples of 16 (IFRNet halves the frames four times), got {height}x{width}")


# Flags that describe this process rather than the run: never taken from a resumed checkpoint.
_NOT_INHERITED = frozenset({"resume", "log_path", "max_steps", "device", "num_workers", "world_size", "local_rank", "notes"})


def _explicit_flags(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> set:
    """Destinations the command line sets itself (parsed again with every default suppressed)."""
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))


def _inherit_saved_flags(args: argparse.Namespace, explicit: set) -> List[str]:
    """On --resume, take the run's saved flags for every flag not given again; returns a note.

    Resuming then needs only ``--resume PATH``: the model width, schedule, crop and data stay
    those the run started with, instead of silently falling back to the script's defaults.
    """
    from training.checkpoint import load_training_checkpoint

    saved = load_training_checkpoint(args.resume).args
    taken = []
    for name, value in saved.items():
        if name in _NOT_INHERITED or name in explicit or not hasattr(args, name):
            continue
        if getattr(args, name) != value:
            setattr(args, name, value)
            taken.append(f"--{name} {' '.join(map(str, value)) if isinstance(value, list) else value}")
    return [f"flags taken from the resumed run: {' '.join(taken)}"] if taken else []


def parse_args(recipe: Recipe, argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check the flags; notes (ignored legacy flags, flags inherited on --resume) go into ``args.notes``."""
    args = build_parser(recipe).parse_args(argv)
    notes = _inherit_saved_flags(args, _explicit_flags(build_parser(recipe), argv)) if args.resume else []
    _check(args)
    if args.world_size is not None:
        notes.append("--world_size is ignored: torchrun/torch.distributed.launch set the number of processes")
    if args.local_rank is not None:
        notes.append("--local_rank is ignored: the launcher passes LOCAL_RANK in the environment")
    args.notes = notes
    return args


def main(recipe: Recipe, argv: Optional[List[str]] = None) -> None:
    """Entry point of a training script (wrap it with utils.cli.run_cli)."""
    from training.engine import train  # torch.distributed and the models load only after parsing

    train(parse_args(recipe, argv), recipe)
