"""What reduced-precision inference costs in quality and gains in speed, against float32.

Quality: on the first frames of real clips at their own resolution, each consecutive triplet
(i, i+1, i+2) has its middle frame predicted from frames i and i+2 at every precision; the
uint8 outputs are scored by PSNR against the real middle frame and against the float32 output
(how far the low precision moves the result). Big Buck Bunny opens on a near-static scene, where
rounding shows most. Speed: every precision of one model timed in alternation on seeded frames,
so a change in the machine's load hits all alike. ``benchmarks/precision.py`` prints both.
"""
from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

import numpy as np
import torch
from tqdm import tqdm

from evaluation.baselines import frame_psnr
from evaluation.speed import build_timed_model, make_inputs, time_interleaved
from models.interpolator import Interpolator
from models.lean_inference import LeanIFRNet
from models.network import IFRNet
from video.sources import VideoFileSource

__all__ = ["PrecisionVariant", "ClipScores", "read_frames", "score_clip", "time_variants"]


@dataclass(frozen=True)
class PrecisionVariant:
    """One way to run the network: a compute dtype, and whether the decoders' output layers stay float32."""

    name: str
    dtype: torch.dtype
    float32_outputs: bool = True

    def apply(self, model: IFRNet) -> LeanIFRNet:
        """The lean model of this variant over ``model``'s weights (shared, not copied).

        Built directly, not by ``models.create_model``: this benchmark also measures bfloat16 on
        CPUs that only emulate it, which the factory (rightly, for the tools) refuses.
        """
        return LeanIFRNet.sharing_weights(model, precision=self.dtype, float32_outputs=self.float32_outputs)


@dataclass
class ClipScores:
    """Per variant, per triplet: PSNR (dB) against the real middle frame and against the float32 output."""

    truth: Dict[str, List[float]] = field(default_factory=dict)
    agreement: Dict[str, List[float]] = field(default_factory=dict)

    def mean_truth(self, name: str) -> float:
        return float(np.mean(self.truth[name]))

    def mean_agreement(self, name: str) -> float:
        """Mean PSNR against the float32 output; identical frames count as 100 dB."""
        return float(np.mean([min(value, 100.0) for value in self.agreement[name]]))


def read_frames(path: str, count: int) -> List[np.ndarray]:
    """The first ``count`` frames of a video file, RGB uint8 at the file's own size."""
    source = VideoFileSource(path)
    try:
        return [frame.image for frame in itertools.islice(source.frames(), count)]
    finally:
        source.close()


def score_clip(
    frames: Sequence[np.ndarray],
    model: IFRNet,
    variants: Sequence[PrecisionVariant],
    *,
    description: str = "",
    progress: bool = True,
) -> ClipScores:
    """Score every variant on the consecutive triplets of ``frames``; the first variant is the float32 reference."""
    interpolators: Dict[str, Interpolator] = {}
    for variant in variants:  # one model each over the same weights, cast once per variant
        interpolators[variant.name] = Interpolator(variant.apply(model), "cpu")
    scores = ClipScores({v.name: [] for v in variants}, {v.name: [] for v in variants})
    for i in tqdm(range(len(frames) - 2), desc=description, unit="triplet", disable=not progress, dynamic_ncols=True):
        frame0, middle, frame1 = frames[i], frames[i + 1], frames[i + 2]
        reference = None
        for variant in variants:
            output = interpolators[variant.name].interpolate(frame0, frame1, [0.5])[0]
            reference = output if reference is None else reference
            scores.truth[variant.name].append(frame_psnr(output, middle))
            scores.agreement[variant.name].append(frame_psnr(output, reference))
    return scores


def time_variants(
    model_name: str,
    state_dict: Dict[str, torch.Tensor],
    variants: Sequence[PrecisionVariant],
    *,
    height: int,
    width: int,
    runs: int,
    warmup: int,
) -> Dict[str, float]:
    """Median seconds of one CPU inference per variant, the variants taking turns."""
    device = torch.device("cpu")
    inputs = make_inputs(height, width, device)
    models = [variant.apply(build_timed_model(model_name, state_dict, device)) for variant in variants]
    calls = [lambda model=model: model.inference(*inputs) for model in models]
    times = time_interleaved(calls, runs=runs, warmup=warmup, device=device)
    return {variant.name: statistics.median(seconds) for variant, seconds in zip(variants, times)}
