"""Command line of the training scripts: the shared flags, each recipe's own, and argument checks.

The authors' launch lines (``python -m torch.distributed.launch --nproc_per_node=4
train_vimeo90k.py --world_size 4``) still work: ``--world_size`` and ``--local_rank`` are accepted
and ignored with a note, because the launcher's environment already says how many processes there
are and which one this is.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from models import MODEL_NAMES
from training.flags import check_args
from training.weight_init import INIT_SCHEMES
from training.recipes import Recipe
from utils.device import DEVICE_CHOICES

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
    add("--overwrite", action="store_true",
        help="start a new run in a --log_path that holds an earlier run's checkpoints, replacing them "
        "(without it such a run is refused; --resume continues the earlier run instead)")
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


def _explicit_flags(parser: argparse.ArgumentParser, argv: Optional[List[str]]) -> List[str]:
    """Destinations the command line sets itself (parsed again with every default suppressed)."""
    for action in parser._actions:
        action.default = argparse.SUPPRESS
    return sorted(vars(parser.parse_args(argv)))


def parse_args(recipe: Recipe, argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse and check the flags; notes (ignored legacy flags) go into ``args.notes``.

    The flags given on the command line are kept in ``args.explicit_flags``: with ``--resume``
    the engine fills in the others from the checkpoint once rank 0 has read it (the file may
    exist on node 0 only) and checks them again.
    """
    args = build_parser(recipe).parse_args(argv)
    args.explicit_flags = _explicit_flags(build_parser(recipe), argv)
    check_args(args)
    notes = []
    if args.world_size is not None:
        notes.append("--world_size is ignored: torchrun/torch.distributed.launch set the number of processes")
    if args.local_rank is not None:
        notes.append("--local_rank is ignored: the launcher passes LOCAL_RANK in the environment")
    args.notes = notes
    return args


def main(recipe: Recipe, argv: Optional[List[str]] = None) -> None:
    """Entry point of a training script (wrap it with utils.cli.run_cli).

    A run stopped by SIGTERM or Ctrl-C (after saving ``latest``) ends with one line on stderr and
    exit code 128 + the signal number (143 for SIGTERM, 130 for Ctrl-C), as a killed program would.
    """
    from training.engine import train  # torch.distributed and the models load only after parsing
    from training.stop import TrainingStopped

    args = parse_args(recipe, argv)
    try:
        train(args, recipe)
    except TrainingStopped as stopped:
        print(f"{os.path.basename(sys.argv[0]) or 'train'}: {stopped}", file=sys.stderr)
        sys.exit(stopped.exit_code)
