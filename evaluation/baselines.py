"""Interpolation baselines that need no training, and the PSNR of a frame against the real one.

A learned interpolator is only worth shipping if it beats what anyone gets for free, so the
starter weights are compared (``benchmarks/starter_eval.py``) with:

- :func:`average_interpolation`: the blend ``(1 - t) * frame0 + t * frame1``. It is exact where
  nothing moves and gives a double exposure where something does.
- :func:`dis_interpolation`: classical flow-based interpolation with OpenCV's DIS optical flow
  (Kroeger et al. 2016, the ``medium`` preset, on grey frames). The flows from the middle frame
  to the outer ones, which backward warping needs, are not observable, so they are approximated
  from the two flows between the outer frames as Super SloMo does (Jiang et al. 2018, eq. 4)::

      F_t->0 = -(1 - t) t F_0->1 + t^2 F_1->0
      F_t->1 = (1 - t)^2 F_0->1 - t (1 - t) F_1->0

  i.e. assuming linear motion and that a point's flow at its position at t is its flow at the
  same pixel in the nearer frame; combining both directions cancels much of the error where the
  motion field varies. Both frames are backward-warped (``utils.warp.warp``, the network's own
  warp) and blended with weights (1 - t, t); without occlusion reasoning, as a plain baseline.

All interpolators here share the contract of :meth:`models.interpolator.Interpolator.interpolate`
for one timestep: two (H, W, 3) uint8 RGB frames in, one (H, W, 3) uint8 frame out, so every
method is scored on the 8-bit frames a user would see.
"""
from __future__ import annotations

from functools import lru_cache
from typing import List, Sequence

import numpy as np
import torch

from models.flow_estimators import middle_flows
from utils.image_io import image_to_tensor, tensor_to_image
from utils.metrics import calculate_psnr
from utils.warp import warp

__all__ = ["average_interpolation", "dis_interpolation", "dis_frames", "middle_flows", "frame_psnr"]


def _check_frames(frame0: np.ndarray, frame1: np.ndarray, t: float) -> None:
    if frame0.shape != frame1.shape or frame0.ndim != 3 or frame0.shape[2] != 3:
        raise ValueError(f"expected two (H, W, 3) frames of one size, got {frame0.shape} and {frame1.shape}")
    if frame0.dtype != np.uint8 or frame1.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frame0.dtype} and {frame1.dtype}")
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")


def average_interpolation(frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> np.ndarray:
    """The blend ``(1 - t) * frame0 + t * frame1``, rounded to uint8."""
    _check_frames(frame0, frame1, t)
    blend = (1.0 - t) * frame0.astype(np.float32) + t * frame1.astype(np.float32)
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


@lru_cache(maxsize=4)
def _dis(preset: str):
    from models.flow_estimators import DISFlow

    return DISFlow(preset)


def dis_frames(frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float], *, preset: str = "medium") -> List[np.ndarray]:
    """The frames at ``timesteps`` by DIS optical flow (estimated once), Super SloMo's middle flows and blending."""
    for t in timesteps:
        _check_frames(frame0, frame1, t)
    flow_01, flow_10 = _dis(preset)([frame0, frame1], [frame1, frame0])
    as_tensor = lambda flow: torch.from_numpy(np.ascontiguousarray(flow)).permute(2, 0, 1).unsqueeze(0)  # noqa: E731
    image0, image1 = image_to_tensor(frame0), image_to_tensor(frame1)
    frames = []
    for t in timesteps:
        flow_t0, flow_t1 = middle_flows(flow_01, flow_10, t)
        frames.append(tensor_to_image((1.0 - t) * warp(image0, as_tensor(flow_t0)) + t * warp(image1, as_tensor(flow_t1))))
    return frames


def dis_interpolation(frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5, *, preset: str = "medium") -> np.ndarray:
    """The frame at ``t`` by DIS optical flow, Super SloMo's middle-flow approximation and blending."""
    return dis_frames(frame0, frame1, [t], preset=preset)[0]


def _as_scored(frame: np.ndarray) -> torch.Tensor:
    """A uint8 (H, W, 3) frame as the (1, 3, H, W) double tensor in [0, 1] that PSNR is computed on."""
    return image_to_tensor(frame).double()


def frame_psnr(prediction: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two uint8 (H, W, 3) frames, scaled to [0, 1] (in double precision)."""
    return float(calculate_psnr(_as_scored(prediction), _as_scored(target)))
