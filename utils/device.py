"""Choosing the compute device from a ``--device auto|cpu|cuda`` flag."""
from __future__ import annotations

import argparse
import os
from typing import Optional

import torch

from utils.cli import whole_number_at_least
from utils.errors import InputError

__all__ = ["DEVICE_CHOICES", "resolve_device", "autotune_convolutions", "default_threads", "add_threads_argument", "use_threads"]

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


def default_threads() -> int:
    """The network's CPU threads by default: every core this process may run on.

    Idle threads spin while they wait for work unless OpenMP is told to let them sleep, and then
    two threads on a 2-core machine lost to one by up to 2.5x once another process competed for
    the cores. So each tool's script sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads OpenMP
    (which reads it once, then), and with it all cores were as fast as one thread under
    contention and 1.6x faster than one thread idle (docs/video.md, "Threads", has the figures)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N``: the CPU threads the network runs on, the same in the video tool and the demos."""
    default = default_threads()
    parser.add_argument("--threads", type=whole_number_at_least(1), default=default,
                        help=f"CPU threads the network runs on (default: every core, here {default}; waiting threads "
                        "sleep, so a busy machine loses nothing to them)")


def use_threads(threads: Optional[int]) -> None:
    """Run the network's CPU operations on ``threads`` threads (None: leave torch's choice). Process-wide,
    so scripts call it, never the library."""
    if threads is not None:
        torch.set_num_threads(threads)
