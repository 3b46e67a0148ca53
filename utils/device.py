"""Choosing the compute device from a ``--device auto|cpu|cuda`` flag."""
from __future__ import annotations

import torch

from utils.errors import InputError

__all__ = ["DEVICE_CHOICES", "resolve_device", "autotune_convolutions"]

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
