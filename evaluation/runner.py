"""The benchmark run: read a sample, prepare it by its protocol, interpolate, score.

All benchmarks run through :func:`evaluate`; they differ only in their samples and
:class:`~evaluation.protocol.Protocol`. The timesteps of one sample (one for 2x, seven for an 8x
window) are predicted in a single batched call that encodes the input pair once. Scores are
computed as the authors compute them: on the float prediction (not rounded to 8 bits), frame by
frame against the real frames, and averaged over every scored frame (PSNR: over every frame not
predicted exactly, whose PSNR is infinite; those are counted apart), by
:func:`evaluation.scoring.score_predictions`, the loop shared with training's evaluation and the
baselines.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, List, Sequence, Tuple

import numpy as np
import torch

from evaluation.benchmark_sets import Sample
from evaluation.protocol import Protocol
from evaluation.scoring import BenchmarkResult, Predicted, score_predictions
from utils.errors import InputError
from utils.image_io import image_to_tensor, read_image

__all__ = ["predict_sample", "score_benchmark"]


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


def _predicted(
    model: torch.nn.Module, samples: Sequence[Sample], protocol: Protocol, device: torch.device
) -> Iterator[Predicted]:
    """Each sample's predictions at its timesteps with its real frames, as the scoring loop takes them."""
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
        yield Predicted(sample.name, timesteps, preds, truth)


def score_benchmark(
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
    return score_predictions(
        _predicted(model, samples, protocol, device), with_ie=protocol.with_ie, total=len(samples),
        description=description, progress=progress,
    )
