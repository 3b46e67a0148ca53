"""Choosing the compute device from a ``--device auto|cpu|cuda`` flag."""
from __future__ import annotations

import argparse
from typing import Optional

import torch

from utils.cli import whole_number_at_least
from utils.errors import InputError

__all__ = ["DEVICE_CHOICES", "resolve_device", "autotune_convolutions", "add_threads_argument", "use_threads"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` takes CUDA when present and the CPU otherwise; ``cuda`` without a GPU is an error.

    ``cuda:N`` is accepted too for machines with several GPUs.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise InputError("--device cuda was requested but no CUDA device is available; use --device cpu or auto")
        return torch.device(name)
    raise InputError(f"unknown device {name!r}; expected one of {', '.join(DEVICE_CHOICES)}")


def autotune_convolutions(device: torch.device) -> None:
    """On CUDA, let cuDNN time its convolution algorithms once per input size and keep the fastest.

    The setting is process-wide, so scripts decide it, never a library constructor: it pays off
    for many calls on frames of one size (a video, a timing run) and costs timing runs for a
    single call. Nothing changes on the CPU.
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: the CPU threads the network runs on, the same in the video tool and the demos.

    The default leaves torch's choice: every core (unless ``OMP_NUM_THREADS`` or the caller says
    otherwise). Idle OpenMP threads spin while they wait for work unless told to sleep, and two
    threads on a 2-core machine then lost to one by up to 2.5x once other processes competed for
    the cores; so each tool's script sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads OpenMP
    (which reads it once, then). With it, all cores were as fast as one thread beside a busy
    process and 1.66x faster than one thread idle (docs/video.md, "Threads", has the figures).
    """
    parser.add_argument("--threads", type=whole_number_at_least(1), default=None,
                        help=f"CPU threads the network runs on (default: torch's, every core, here {torch.get_num_threads()}; "
                        "threads waiting for work sleep, so a busy machine loses nothing to them)")


def use_threads(threads: Optional[int]) -> None:
    """Run the network's CPU operations on ``threads`` threads (None: leave torch's choice). Process-wide,
    so scripts call it, never the library."""
    if threads is not None:
        torch.set_num_threads(threads)
