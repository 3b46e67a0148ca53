"""Evaluation during training: PSNR and SSIM of the predicted frames on a test split.

The split is sharded over the ranks (rank r scores items r, r + world, ...) and the sums are
combined, so every process does a share of the work and the result equals a single-process run.
Every target counts once (for GoPro, each of the seven frames of a window), as the paper scores
them. Sides that are not multiples of 16 are replicate-padded and cropped back. Frames are
scored by :func:`evaluation.scoring.score_predictions`, the loop the benchmarks use, and averaged
by the benchmarks' rule (:func:`utils.metrics.mean_psnr`): a frame predicted exactly has an
infinite PSNR and is left out of the PSNR mean and counted, so one such frame cannot make the
epoch's PSNR infinite and freeze the ``best`` checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from evaluation.scoring import Predicted, score_predictions
from training.batches import to_model_inputs
from training.stop import ignore_stop_signals
from utils.distributed import DistributedContext
from utils.metrics import count_exact, mean_psnr
from utils.padding import InputPadder

__all__ = ["EvalResult", "evaluate"]


@dataclass
class EvalResult:
    """Mean PSNR (dB; frames predicted exactly left out, ``exact_frames`` of them) and SSIM over
    ``count`` predicted frames, and a few (img0 | prediction | target) strips."""

    psnr: float
    ssim: float
    count: int
    samples: Optional[torch.Tensor] = None
    exact_frames: int = 0


def _predicted(
    model: torch.nn.Module, loader: DataLoader, device: torch.device, samples: List[torch.Tensor], sample_count: int
) -> Iterator[Predicted]:
    """Each batch's predictions with its real frames; the first ``sample_count`` strips go to ``samples``."""
    for index, batch in enumerate(loader):
        inputs = to_model_inputs(batch, device, use_flow=False)
        padder = InputPadder(inputs.img0.shape)  # to utils.padding.NETWORK_MULTIPLE
        img0, img1 = padder.pad(inputs.img0, inputs.img1)
        pred = padder.unpad(model.inference(img0, img1, inputs.embt, lean=True))
        for j in range(min(pred.shape[0], sample_count - len(samples))):
            samples.append(torch.cat([inputs.img0[j], pred[j], inputs.imgt[j]], 2).cpu())
        yield Predicted(f"batch {index}", inputs.embt.flatten().tolist(), pred, inputs.imgt)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    dataset: Dataset,
    context: DistributedContext,
    *,
    batch_size: int = 1,
    num_workers: int = 0,
    sample_count: int = 3,
) -> EvalResult:
    """Score ``model.inference`` on ``dataset`` (items as in :mod:`training.batches`)."""
    was_training = model.training
    model.eval()
    shard = Subset(dataset, range(context.rank, len(dataset), context.world_size))
    loader = DataLoader(shard, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=context.device.type == "cuda", worker_init_fn=ignore_stop_signals)
    samples: List[torch.Tensor] = []
    scores = score_predictions(_predicted(model, loader, context.device, samples, sample_count), progress=False)
    sums = torch.zeros(2, dtype=torch.float64)  # ssim, count: summed frame by frame, then over ranks
    psnrs: List[float] = []  # each frame's, gathered: the mean's rule needs to see the exact (inf) ones
    for frame in scores.frames():
        psnrs.append(frame.psnr)
        sums[0] += frame.ssim
        sums[1] += 1
    if context.initialized:
        sums = context.all_reduce_sum(sums.to(context.device)).cpu()
    psnrs = [value for rank_psnrs in context.all_gather_objects(psnrs) for value in rank_psnrs]
    model.train(was_training)
    count = int(sums[1])
    return EvalResult(
        psnr=mean_psnr(psnrs),
        ssim=float(sums[0] / max(count, 1)),
        count=count,
        samples=torch.stack(samples) if samples else None,
        exact_frames=count_exact(psnrs),
    )
