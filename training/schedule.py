"""The learning-rate schedule of IFRNet: cosine from lr_start to lr_end, stepped every iteration."""
from __future__ import annotations

import math

import torch

__all__ = ["cosine_lr", "set_lr"]


def cosine_lr(iteration: int, total_iterations: int, lr_start: float, lr_end: float) -> float:
    """Learning rate before optimiser step ``iteration`` (0-based) of ``total_iterations``.

    Half a cosine period: ``lr_start`` at iteration 0, ``lr_end`` at ``total_iterations``. It is a
    pure function of the iteration, so a resumed run continues on exactly the same curve.
    """
    if total_iterations <= 0:
        raise ValueError(f"total_iterations must be positive, got {total_iterations}")
    progress = min(max(iteration / total_iterations, 0.0), 1.0)
    return lr_end + (lr_start - lr_end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Put ``lr`` into every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = lr
