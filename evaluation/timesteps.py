"""Interpolation at every t on held-out real footage: windows (i, i+k), each in-between frame scored.

A 2x benchmark only asks for t = 0.5, so a model that ignores t (every 4x or 8x frame near the
middle) passes it. Here each held-out window of ``k + 1`` consecutive frames of a real clip (no
scene cut or repeated frame inside, :func:`~datasets.starter_data.clips.clip_triplet_starts`)
gives the inputs i and i + k and the real frames at t = j / k between them; every method predicts
all of them and PSNR is averaged per (clip, k, t). The free baselines:

- :func:`hold_nearest`: the nearer input (frame 0 at t = 0.5), what frame-rate conversion by
  repetition shows;
- :func:`linear_blend`: ``(1 - t) * frame0 + t * frame1``;
- :func:`dis_at_t`: OpenCV DIS flow, Super SloMo's flows at t, blended
  (:func:`~evaluation.baselines.dis_frames`).

Every method has one contract: two (H, W, 3) uint8 frames and the timesteps in, one uint8 frame
per timestep out, so each is scored on what a user would see.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Mapping, Sequence, Tuple

import numpy as np
import torch

from datasets.starter_data.clips import clip_triplet_starts, load_clip
from evaluation.baselines import average_interpolation, dis_frames
from evaluation.scoring import Predicted, score_predictions
from utils.image_io import image_to_tensor
from utils.metrics import count_exact, mean_psnr

__all__ = [
    "MultiFrameInterpolator",
    "hold_nearest",
    "linear_blend",
    "dis_at_t",
    "BASELINES",
    "HeldOutWindow",
    "held_out_windows",
    "TimestepRow",
    "score_timesteps",
]

MultiFrameInterpolator = Callable[[np.ndarray, np.ndarray, Sequence[float]], List[np.ndarray]]


def hold_nearest(frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]) -> List[np.ndarray]:
    """The nearer input frame for each t (frame 0 at t = 0.5)."""
    return [frame0.copy() if t <= 0.5 else frame1.copy() for t in timesteps]


def linear_blend(frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]) -> List[np.ndarray]:
    """``(1 - t) * frame0 + t * frame1`` for each t, rounded to uint8."""
    return [average_interpolation(frame0, frame1, t) for t in timesteps]


def dis_at_t(frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]) -> List[np.ndarray]:
    """OpenCV DIS flow interpolation at each t (one flow estimate per pair)."""
    return dis_frames(frame0, frame1, timesteps)


BASELINES: Dict[str, MultiFrameInterpolator] = {"hold": hold_nearest, "blend": linear_blend, "dis": dis_at_t}


@dataclass(frozen=True)
class HeldOutWindow:
    """Frames ``start .. start + span`` of a held-out clip part: inputs at both ends, the truth between."""

    clip: str
    start: int
    span: int
    frames: Tuple[np.ndarray, ...]

    @property
    def timesteps(self) -> List[float]:
        return [j / self.span for j in range(1, self.span)]


def held_out_windows(clip_name: str, span: int, stride: int = 1) -> List[HeldOutWindow]:
    """The held-out windows of ``span + 1`` regular frames of clip ``clip_name`` (``span`` even), every ``stride``-th."""
    if span < 2 or span % 2:
        raise ValueError(f"span must be an even number of at least 2, got {span}")
    clip = load_clip(clip_name)
    return [
        HeldOutWindow(clip_name, start, span, clip.frames[start : start + span + 1])
        for start in clip_triplet_starts(clip, span // 2, "heldout", stride)
    ]


@dataclass(frozen=True)
class TimestepRow:
    """Mean PSNR (dB) of each method at one (clip, span, t), over ``count`` windows.

    ``per_window`` keeps each window's PSNR by method; ``exact`` counts frames a method reproduced
    exactly (infinite PSNR, left out of its mean as :func:`utils.metrics.mean_psnr` does).
    """

    clip: str
    span: int
    t: float
    count: int
    psnr: Dict[str, float]
    per_window: Dict[str, List[float]]
    exact: Dict[str, int]


def _as_scored(frames: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.cat([image_to_tensor(frame).double() for frame in frames])


def score_timesteps(
    windows: Sequence[HeldOutWindow],
    methods: Mapping[str, MultiFrameInterpolator],
    *,
    description: str = "",
    progress: bool = True,
) -> List[TimestepRow]:
    """Score every method on every window of one clip and span; one row per t, in order of t.

    Each method runs once per window for all of its timesteps, through the shared scoring loop
    (:func:`evaluation.scoring.score_predictions`, PSNR on uint8 frames scaled to [0, 1]).
    """
    if not windows:
        return []
    clip, span = windows[0].clip, windows[0].span
    if any((window.clip, window.span) != (clip, span) for window in windows):
        raise ValueError("score_timesteps takes the windows of one clip and one span")
    timesteps = windows[0].timesteps

    def predicted(interpolate: MultiFrameInterpolator) -> Iterator[Predicted]:
        for window in windows:
            frame0, frame1 = window.frames[0], window.frames[-1]
            outputs = interpolate(frame0, frame1, timesteps)
            yield Predicted(f"{clip} {window.start}", timesteps, _as_scored(outputs), _as_scored(window.frames[1:-1]))

    per_t: Dict[str, List[List[float]]] = {}
    for name, interpolate in methods.items():
        result = score_predictions(predicted(interpolate), with_ssim=False, total=len(windows),
                                   description=f"{description} {name}".strip(), unit="window", progress=progress)
        per_t[name] = [[sample.frames[j].psnr for sample in result.samples] for j in range(len(timesteps))]
    return [
        TimestepRow(
            clip,
            span,
            t,
            len(windows),
            {name: mean_psnr(values[j]) for name, values in per_t.items()},
            {name: values[j] for name, values in per_t.items()},
            {name: count_exact(values[j]) for name, values in per_t.items() if count_exact(values[j])},
        )
        for j, t in enumerate(timesteps)
    ]
