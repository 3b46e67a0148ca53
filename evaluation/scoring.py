"""The one scoring loop: predicted frames against real ones, frame by frame, with running averages.

Every place that scores interpolated frames runs through :func:`score_predictions`: the benchmark
runner (:mod:`evaluation.runner`), the evaluation during training (:mod:`training.evaluate`) and
the model and the training-free baselines at every t (:mod:`evaluation.timesteps`). They differ only in how they produce
the :class:`Predicted` items (reading files by a protocol, a sharded DataLoader, uint8 frames from
an interpolator) and in which metrics they ask for. Scores are kept per frame, so an average is
always over every scored frame, as the authors report (PSNR leaves out frames predicted exactly,
whose PSNR is infinite; :attr:`BenchmarkResult.exact_frames` counts them).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from utils.errors import InputError
from utils.metrics import calculate_ie, calculate_psnr, calculate_ssim, count_exact, mean_psnr

__all__ = ["FrameScore", "SampleScore", "BenchmarkResult", "Predicted", "score_frame", "score_predictions"]


def _mean(metric: str, values: List[float]) -> float:
    """The average of one metric; PSNR leaves out exact frames (see :func:`utils.metrics.mean_psnr`)."""
    if metric == "psnr":
        return mean_psnr(values)
    return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True)
class FrameScore:
    """The scores of one predicted frame at timestep ``t`` (``None`` for a metric not asked for)."""

    t: float
    psnr: float
    ssim: Optional[float] = None
    ie: Optional[float] = None

    def to_dict(self, with_ie: bool) -> Dict[str, float]:
        entry = {"t": self.t, "psnr": self.psnr, "ssim": self.ssim}
        if with_ie:
            entry["ie"] = self.ie
        return entry


@dataclass(frozen=True)
class SampleScore:
    """A sample's name and the scores of each of its predicted frames."""

    name: str
    frames: Tuple[FrameScore, ...]

    def mean(self, metric: str) -> float:
        return _mean(metric, [getattr(frame, metric) for frame in self.frames])

    def to_dict(self, with_ie: bool) -> Dict[str, object]:
        """The JSON entry: name and means, plus per-timestep scores when there are several frames."""
        entry: Dict[str, object] = {"name": self.name, "psnr": self.mean("psnr"), "ssim": self.mean("ssim")}
        if with_ie:
            entry["ie"] = self.mean("ie")
        if len(self.frames) > 1:
            entry["frames"] = [frame.to_dict(with_ie) for frame in self.frames]
        return entry


@dataclass
class BenchmarkResult:
    """Per-sample scores of one run; averages are over all scored frames, as the authors report."""

    with_ie: bool
    samples: List[SampleScore] = field(default_factory=list)
    with_ssim: bool = True

    @property
    def count(self) -> int:
        return len(self.samples)

    def frames(self) -> Iterator[FrameScore]:
        """Every scored frame, sample by sample, in scoring order."""
        for sample in self.samples:
            yield from sample.frames

    def mean(self, metric: str) -> float:
        return _mean(metric, [getattr(frame, metric) for frame in self.frames()])

    @property
    def exact_frames(self) -> int:
        """Frames predicted exactly (PSNR infinite), left out of the PSNR average."""
        return count_exact([frame.psnr for frame in self.frames()])

    @property
    def psnr(self) -> float:
        return self.mean("psnr")

    @property
    def ssim(self) -> float:
        return self.mean("ssim")

    @property
    def ie(self) -> Optional[float]:
        return self.mean("ie") if self.with_ie else None

    def running(self) -> Dict[str, str]:
        """The running averages shown next to the progress bar."""
        shown = {"psnr": f"{self.psnr:.3f}"}
        if self.with_ssim:
            shown["ssim"] = f"{self.ssim:.4f}"
        if self.with_ie:
            shown["ie"] = f"{self.ie:.3f}"
        return shown


@dataclass(frozen=True)
class Predicted:
    """One sample's predictions and real frames, (T, 3, H, W) each, at ``timesteps`` (T values)."""

    name: str
    timesteps: Sequence[float]
    predictions: torch.Tensor
    targets: torch.Tensor


def score_frame(pred: torch.Tensor, target: torch.Tensor, t: float, *, with_ssim: bool = True, with_ie: bool = False) -> FrameScore:
    """The metrics of one (3, H, W) prediction against its (3, H, W) real frame, both in [0, 1]."""
    pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    ssim = float(calculate_ssim(pred, target)) if with_ssim else None
    ie = float(calculate_ie(pred, target)) if with_ie else None
    return FrameScore(t, float(calculate_psnr(pred, target)), ssim, ie)


@torch.inference_mode()
def score_predictions(
    predicted: Iterable[Predicted],
    *,
    with_ssim: bool = True,
    with_ie: bool = False,
    total: Optional[int] = None,
    description: str = "evaluating",
    unit: str = "sample",
    progress: bool = True,
) -> BenchmarkResult:
    """Score every frame of every item of ``predicted``, in order; a progress bar shows the running averages.

    PSNR is always computed, SSIM and IE when asked for. Predictions and targets of different
    sizes raise :class:`~utils.errors.InputError` naming the sample.
    """
    result = BenchmarkResult(with_ie=with_ie, with_ssim=with_ssim)
    bar = tqdm(predicted, total=total, desc=description, unit=unit, disable=not progress, dynamic_ncols=True)
    with bar:
        for item in bar:
            if item.targets.shape != item.predictions.shape:
                raise InputError(
                    f"{item.name}: target frames are {tuple(item.targets.shape[-2:])} but the inputs are "
                    f"{tuple(item.predictions.shape[-2:])} (height, width); all frames of a sample must have one size"
                )
            frames = tuple(
                score_frame(pred, target, t, with_ssim=with_ssim, with_ie=with_ie)
                for pred, target, t in zip(item.predictions, item.targets, item.timesteps)
            )
            result.samples.append(SampleScore(item.name, frames))
            bar.set_postfix(result.running(), refresh=False)
    return result
