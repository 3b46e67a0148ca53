"""The one evaluation loop: read a sample, prepare it by its protocol, interpolate, score.

All benchmarks run through :func:`evaluate`; they differ only in their samples and
:class:`~evaluation.protocol.Protocol`. The timesteps of one sample (one for 2x, seven for an 8x
window) are predicted in a single batched call that encodes the input pair once. Scores are
computed as the authors compute them: on the float prediction (not rounded to 8 bits), frame by
frame against the real frames, and averaged over every scored frame (PSNR: over every frame not
predicted exactly, whose PSNR is infinite; those are counted apart).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from tqdm import tqdm

from evaluation.benchmark_sets import Sample
from evaluation.protocol import Protocol
from utils.errors import InputError
from utils.image_io import image_to_tensor, read_image
from utils.metrics import calculate_ie, calculate_psnr, calculate_ssim, count_exact, mean_psnr

__all__ = ["FrameScore", "SampleScore", "BenchmarkResult", "predict_sample", "evaluate"]


def _mean(metric: str, values: List[float]) -> float:
    """The average of one metric; PSNR leaves out exact frames (see :func:`utils.metrics.mean_psnr`)."""
    if metric == "psnr":
        return mean_psnr(values)
    return float(np.mean(values)) if values else float("nan")


@dataclass(frozen=True)
class FrameScore:
    """The scores of one predicted frame at timestep ``t``."""

    t: float
    psnr: float
    ssim: float
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

    @property
    def count(self) -> int:
        return len(self.samples)

    def mean(self, metric: str) -> float:
        return _mean(metric, [getattr(frame, metric) for sample in self.samples for frame in sample.frames])

    @property
    def exact_frames(self) -> int:
        """Frames predicted exactly (PSNR infinite), left out of the PSNR average."""
        return count_exact([frame.psnr for sample in self.samples for frame in sample.frames])

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
        shown = {"psnr": f"{self.psnr:.3f}", "ssim": f"{self.ssim:.4f}"}
        if self.with_ie:
            shown["ie"] = f"{self.ie:.3f}"
        return shown


_Loaded = Tuple[np.ndarray, np.ndarray, List[np.ndarray]]


def _load(sample: Sample, protocol: Protocol) -> _Loaded:
    """Read a sample's frames as uint8 RGB, centre-cropped if the protocol says so."""
    read = lambda path: protocol.crop(read_image(path), path)  # noqa: E731
    return read(sample.frame0), read(sample.frame1), [read(path) for _, path in sample.targets]


def _prefetched(samples: Sequence[Sample], protocol: Protocol) -> Iterator[Tuple[Sample, _Loaded]]:
    """Yield samples with their frames, decoding the next sample while the current one is evaluated."""
    if not samples:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_load, samples[0], protocol)
        for index, sample in enumerate(samples):
            loaded = pending.result()
            if index + 1 < len(samples):
                pending = pool.submit(_load, samples[index + 1], protocol)
            yield sample, loaded


@torch.inference_mode()
def predict_sample(
    model: torch.nn.Module,
    frame0: np.ndarray,
    frame1: np.ndarray,
    timesteps: Sequence[float],
    protocol: Protocol,
    device: torch.device,
    name: object = "sample",
) -> torch.Tensor:
    """The (T, 3, H, W) float predictions at ``timesteps`` for two uint8 frames, by ``protocol``.

    The input pair is padded, the network runs at the protocol's scale on a batch of T timesteps,
    and the predictions are cropped back to the frames' size.
    """
    if frame0.shape != frame1.shape:
        raise InputError(f"{name}: the two input frames differ in size ({frame0.shape[:2]} and {frame1.shape[:2]})")
    img0 = image_to_tensor(frame0).to(device)
    img1 = image_to_tensor(frame1).to(device)
    padder = protocol.padder(img0.shape, name)
    img0, img1 = padder.pad(img0, img1)
    embt = torch.tensor(list(timesteps), dtype=torch.float32, device=device).view(-1, 1, 1, 1)
    preds = model.inference(img0, img1, embt, scale_factor=protocol.scale_factor)
    return padder.unpad(preds)


def _score(pred: torch.Tensor, target: torch.Tensor, t: float, with_ie: bool) -> FrameScore:
    pred, target = pred.unsqueeze(0), target.unsqueeze(0)
    ie = float(calculate_ie(pred, target)) if with_ie else None
    return FrameScore(t, float(calculate_psnr(pred, target)), float(calculate_ssim(pred, target)), ie)


def evaluate(
    model: torch.nn.Module,
    samples: Sequence[Sample],
    protocol: Protocol,
    device: torch.device,
    *,
    description: str = "evaluating",
    progress: bool = True,
) -> BenchmarkResult:
    """Score ``model`` (in eval mode, on ``device``) on ``samples`` prepared by ``protocol``.

    A progress bar shows the running averages. Frames that cannot be read, and a prediction
    that is not finite, raise :class:`~utils.errors.InputError`.
    """
    result = BenchmarkResult(with_ie=protocol.with_ie)
    bar = tqdm(total=len(samples), desc=description, unit="sample", disable=not progress, dynamic_ncols=True)
    with bar:
        for sample, (frame0, frame1, targets) in _prefetched(samples, protocol):
            timesteps = [t for t, _ in sample.targets]
            preds = predict_sample(model, frame0, frame1, timesteps, protocol, device, sample.frame0)
            if not bool(torch.isfinite(preds).all()):  # scores would be NaN: stop at the first sample, not hours later
                raise InputError(
                    f"{sample.name}: the model's prediction is not finite (NaN or Inf); "
                    "the checkpoint's weights are probably corrupt"
                )
            with torch.inference_mode():
                truth = torch.cat([image_to_tensor(target) for target in targets]).to(device)
                if truth.shape != preds.shape:
                    raise InputError(
                        f"{sample.name}: target frames are {tuple(truth.shape[-2:])} but the inputs are "
                        f"{tuple(preds.shape[-2:])} (height, width); all frames of a sample must have one size"
                    )
                frames = tuple(_score(p, g, t, protocol.with_ie) for p, g, t in zip(preds, truth, timesteps))
            result.samples.append(SampleScore(sample.name, frames))
            bar.set_postfix(result.running(), refresh=False)
            bar.update(1)
    return result
