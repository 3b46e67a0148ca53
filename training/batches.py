"""From a dataset batch to the model's training inputs, for one target per sample or several.

Every dataset yields ``(img0, imgt, img1, flow, embt)``. Vimeo90K has one target per sample
(imgt (B, 3, H, W), embt (B, 1, 1, 1)); GoPro 8x has seven (imgt (B, 7, 3, H, W), embt
(B, 7, 1, 1, 1)). As in the reference, a window's targets are all trained at once: the pair is
repeated once per target so the model sees B x 7 (pair, time, target) samples. ``flow`` with zero
channels means "no pseudo labels".
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import torch

__all__ = ["ModelInputs", "to_model_inputs"]


class ModelInputs(NamedTuple):
    """Arguments of ``model(img0, img1, embt, imgt, flow)``; one row per (pair, timestep)."""

    img0: torch.Tensor
    img1: torch.Tensor
    embt: torch.Tensor
    imgt: torch.Tensor
    flow: Optional[torch.Tensor]


def to_model_inputs(batch: Sequence[torch.Tensor], device: torch.device, use_flow: bool = True) -> ModelInputs:
    """Move a collated batch to ``device`` and flatten several targets per pair into the batch.

    ``use_flow=False`` drops the flow labels even when the batch has them (``--flow_loss off``).
    """
    img0, imgt, img1, flow, embt = (tensor.to(device, non_blocking=True) for tensor in batch)
    if imgt.dim() == 5:  # (B, T, 3, H, W): T targets per pair, pair-major order
        targets = imgt.shape[1]
        img0 = img0.repeat_interleave(targets, 0)
        img1 = img1.repeat_interleave(targets, 0)
        imgt = imgt.flatten(0, 1)
        embt = embt.flatten(0, 1)
        flow = flow.flatten(0, 1) if flow.dim() == 5 else flow.repeat_interleave(targets, 0)
    has_flow = use_flow and flow.shape[1] > 0
    return ModelInputs(img0, img1, embt, imgt, flow if has_flow else None)
