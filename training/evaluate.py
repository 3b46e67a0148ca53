"""Evaluation during training: PSNR and SSIM of the predicted frames on a test split.

The split is sharded over the ranks (rank r scores items r, r + world, ...) and the sums are
combined, so every process does a share of the work and the result equals a single-process run.
Every target counts once (for GoPro, each of the seven frames of a window), as the paper scores
them. Sides that are not multiples of 16 are replicate-padded and cropped back. Frames are
scored by :func:`evaluation.scoring.score_predictions`, the loop the benchmarks use, and averaged
by the benchmarks' rule (:func:`utils.metrics.mean_psnr`): a frame predicted exactly has an
infinite PSNR and is left out of the PSNR mean and counted, so one such frame cannot make the
epoch's PSNR infinite and freeze the ``best`` checkpoint.

Two things end it early, checked before each batch so neither waits for the whole split (minutes
on Vimeo90K's 3,782 triplets): a stop request (SIGTERM, Ctrl-C), after which the result is marked
``interrupted``, and a prediction that is not finite, which raises :class:`EvaluationDiverged`
(a "PSNR nan" would otherwise be logged and training go on). Ranks share both in the one final
all-reduce, so every rank ends the same way without waiting in a collective the others skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from evaluation.scoring import Predicted, score_predictions
from training.batches import to_model_inputs
from training.stop import ignore_stop_signals
from training.distributed import DistributedContext
from utils.errors import InputError
from utils.metrics import count_exact, mean_psnr
from utils.padding import InputPadder

__all__ = ["EvalResult", "EvaluationDiverged", "evaluate_epoch"]


class EvaluationDiverged(InputError):
    """The model predicted NaN or infinite values on the test split: training cannot go on from these weights."""


@dataclass
class EvalResult:
    """Mean PSNR (dB) and SSIM over ``count`` predicted frames, and a few (img0 | prediction | target) strips."""

    psnr: float
    ssim: float
    count: int
    samples: Optional[torch.Tensor] = None
    interrupted: bool = False  # a stop request ended it early: the scores cover part of the split only
    exact_frames: int = 0  # predicted exactly (PSNR infinite): left out of ``psnr``


@dataclass
class _Ended:
    """Why this rank's loop ended early, if it did."""

    stopped: bool = False
    non_finite: bool = False


def _predicted(
    model: torch.nn.Module, loader: DataLoader, device: torch.device, samples: List[torch.Tensor], sample_count: int,
    should_stop: Callable[[], bool], ended: _Ended,
) -> Iterator[Predicted]:
    """Each batch's predictions with its real frames; the first ``sample_count`` strips go to ``samples``.

    Ends early, noting why in ``ended``, on a stop request or a prediction that is not finite.
    """
    for index, batch in enumerate(loader):
        if should_stop():
            ended.stopped = True
            return
        inputs = to_model_inputs(batch, device, use_flow=False)
        padder = InputPadder(inputs.img0.shape)  # to utils.padding.NETWORK_MULTIPLE
        img0, img1 = padder.pad(inputs.img0, inputs.img1)
        pred = padder.unpad(model.inference(img0, img1, inputs.embt))
        if not bool(torch.isfinite(pred).all()):
            ended.non_finite = True
            return
        for j in range(min(pred.shape[0], sample_count - len(samples))):
            samples.append(torch.cat([inputs.img0[j], pred[j], inputs.imgt[j]], 2).cpu())
        yield Predicted(f"batch {index}", inputs.embt.flatten().tolist(), pred, inputs.imgt)


@torch.no_grad()
def evaluate_epoch(
    model: torch.nn.Module,
    dataset: Dataset,
    context: DistributedContext,
    *,
    batch_size: int = 1,
    num_workers: int = 0,
    sample_count: int = 3,
    should_stop: Callable[[], bool] = lambda: False,
) -> EvalResult:
    """Score ``model.inference`` on ``dataset`` (items as in :mod:`training.batches`); the trainer
    passes the lean sibling over the trained layers (``LeanIFRNet.sharing_weights``).

    ``should_stop`` is asked before each batch; once it is true on any rank the result is
    ``interrupted``. A non-finite prediction on any rank raises :class:`EvaluationDiverged`.
    """
    was_training = model.training
    model.eval()
    shard = Subset(dataset, range(context.rank, len(dataset), context.world_size))
    loader = DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=context.device.type == "cuda", worker_init_fn=ignore_stop_signals)
    samples: List[torch.Tensor] = []
    ended = _Ended()
    try:
        scores = score_predictions(_predicted(model, loader, context.device, samples, sample_count, should_stop, ended),
                                   progress=False)
    finally:
        model.train(was_training)
    # ssim, count (summed frame by frame), then ranks that stopped and that met a non-finite prediction
    sums = torch.zeros(4, dtype=torch.float64)
    psnrs: List[float] = []  # each frame's, gathered: the mean's rule needs to see the exact (inf) ones
    for frame in scores.frames():
        psnrs.append(frame.psnr)
        sums[0] += frame.ssim
        sums[1] += 1
    sums[2], sums[3] = float(ended.stopped), float(ended.non_finite)
    if context.initialized:
        sums = context.all_reduce_sum(sums.to(context.device)).cpu()
    if sums[3]:
        where = f" on {int(sums[3])} of {context.world_size} processes" if context.world_size > 1 else ""
        raise EvaluationDiverged(
            f"evaluation: the model's prediction is not finite (NaN or Inf){where}, so its PSNR would be NaN; "
            "lower --lr_start and continue from an earlier checkpoint with --resume"
        )
    psnrs = [value for rank_psnrs in context.all_gather_objects(psnrs) for value in rank_psnrs]
    count = int(sums[1])
    return EvalResult(
        psnr=mean_psnr(psnrs),
        ssim=float(sums[0] / max(count, 1)),
        count=count,
        samples=torch.stack(samples) if samples else None,
        interrupted=bool(sums[2]),
        exact_frames=count_exact(psnrs),
    )
