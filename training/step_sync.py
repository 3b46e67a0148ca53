"""What the ranks agree on after each forward pass: the losses to log, a non-finite loss, a stop request.

One all-reduce of five numbers per step, before the backward pass. So every rank logs the mean
loss over all ranks (not rank 0's alone), every rank learns that some rank's loss is not finite
and all stop together with the same sentence (a rank that stopped alone would leave the others
blocked in DDP's gradient all-reduce, across machines until the NCCL timeout), and every rank
sees a SIGTERM that reached any of them at the same step.

With CUDA AMP a non-finite loss is left to the GradScaler, which skips that step and lowers the
scale: an occasional float16 overflow is normal there and must not end the run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

import torch

from training.distributed import DistributedContext
from utils.errors import InputError

__all__ = ["LOSS_NAMES", "TrainingDiverged", "SharedStep", "share_step"]

LOSS_NAMES = ("loss_rec", "loss_geo", "loss_dis")


class TrainingDiverged(InputError):
    """The loss became NaN or infinite: the run cannot go on from here (one line, every rank)."""


@dataclass
class SharedStep:
    """The step as every rank sees it: losses averaged over ranks, and whether to stop after it."""

    losses: Dict[str, float]
    stop: bool


def share_step(
    context: DistributedContext,
    terms: Sequence[torch.Tensor],
    *,
    stop_requested: bool,
    iteration: int,
    overflow_left_to_scaler: bool,
) -> SharedStep:
    """All-reduce this rank's loss terms, a non-finite flag and a stop flag; raise if any rank diverged.

    Raises :class:`TrainingDiverged` on every rank alike when any rank's loss is NaN or infinite,
    unless ``overflow_left_to_scaler`` (CUDA AMP).
    """
    values = torch.stack([term.detach().float().reshape(()) for term in terms])
    flags = torch.tensor([0.0 if bool(torch.isfinite(values).all()) else 1.0, 1.0 if stop_requested else 0.0], device=values.device)
    shared = context.all_reduce_sum(torch.cat([values, flags])).cpu().tolist()
    diverged, stop = int(shared[len(terms)]), shared[len(terms) + 1] > 0
    if diverged and not overflow_left_to_scaler:
        where = f"on {diverged} of {context.world_size} processes" if context.world_size > 1 else ""
        raise TrainingDiverged(
            f"the loss became NaN or infinite at iteration {iteration}{' ' + where if where else ''}; "
            "lower --lr_start, or continue from the last checkpoint with --resume"
        )
    means = [value / context.world_size for value in shared[: len(terms)]]
    return SharedStep(losses=dict(zip(LOSS_NAMES, means)), stop=stop)
