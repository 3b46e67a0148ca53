"""IFRNet's training losses, usable on their own.

* :class:`CharbonnierLoss` and :class:`CensusLoss` make the reconstruction loss.
* :class:`GeometryConsistencyLoss` compares the decoders' intermediate features with the encoder
  features of the ground-truth frame (the same census idea per feature channel).
* :class:`AdaptiveCharbonnierLoss` with :func:`robust_flow_weight` is the task-oriented flow
  distillation: pixels where the pseudo label disagrees with the network's own final flow get a
  more robust (lower power) penalty.

Every loss is a mean over every element, as in the reference release, so values match it.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "CharbonnierLoss",
    "CensusLoss",
    "GeometryConsistencyLoss",
    "AdaptiveCharbonnierLoss",
    "robust_flow_weight",
    "census_transform",
]


def _neighbour_differences(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """For each pixel of a one-channel map (N, 1, H, W), its patch_size**2 neighbours minus itself.

    Neighbours outside the image count as 0 (zero padding), as in the reference, whose identity-
    kernel convolution this reproduces exactly with padding and slicing.
    """
    radius = patch_size // 2
    height, width = x.shape[-2:]
    padded = F.pad(x, [radius] * 4)
    neighbours = [
        padded[:, :, dy : dy + height, dx : dx + width]
        for dy in range(patch_size)
        for dx in range(patch_size)
    ]
    return torch.cat(neighbours, 1) - x


def census_transform(x: torch.Tensor, patch_size: int, per_channel: bool) -> torch.Tensor:
    """Soft census (ternary) transform: normalised neighbour differences d / sqrt(0.81 + d^2).

    With ``per_channel=False`` the image is first reduced to grey (channel mean), giving
    patch_size**2 channels; with ``per_channel=True`` every channel is transformed on its own,
    giving C * patch_size**2 channels (channel-major), as the geometry loss needs.
    """
    batch, channels, height, width = x.shape
    if per_channel:
        diffs = _neighbour_differences(x.reshape(batch * channels, 1, height, width), patch_size)
        diffs = diffs.reshape(batch, channels * patch_size * patch_size, height, width)
    else:
        diffs = _neighbour_differences(x.mean(dim=1, keepdim=True), patch_size)
    return diffs / torch.sqrt(0.81 + diffs**2)


def _border_mask(x: torch.Tensor, border: int) -> torch.Tensor:
    """(B, 1, H, W) mask of ones with a ``border``-pixel frame of zeros."""
    batch, _, height, width = x.shape
    inner = torch.ones(batch, 1, height - 2 * border, width - 2 * border, dtype=x.dtype, device=x.device)
    return F.pad(inner, [border] * 4)


def _census_distance(tx: torch.Tensor, ty: torch.Tensor, border: int) -> torch.Tensor:
    """Robust distance between two census transforms, averaged over neighbours, border masked."""
    diff = tx - ty
    dist = (diff**2 / (0.1 + diff**2)).mean(dim=1, keepdim=True)
    return (dist * _border_mask(tx, border)).mean()


class CharbonnierLoss(nn.Module):
    """Charbonnier penalty sqrt(d^2 + 1e-6): a differentiable L1."""

    def __init__(self, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, diff: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        penalty = (diff**2 + self.eps) ** 0.5
        if mask is None:
            return penalty.mean()
        return (penalty * mask).mean() / (mask.mean() + 1e-9)


class CensusLoss(nn.Module):
    """Census (ternary) loss between a prediction and its target on grey 7x7 neighbourhoods.

    The target's transform is detached, as in the reference: only the prediction is pulled.
    """

    def __init__(self, *, patch_size: int = 7) -> None:
        super().__init__()
        self.patch_size = patch_size

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t_pred = census_transform(pred, self.patch_size, per_channel=False)
        t_target = census_transform(target, self.patch_size, per_channel=False).detach()
        return _census_distance(t_pred, t_target, self.patch_size // 2)


class GeometryConsistencyLoss(nn.Module):
    """Per-channel census loss between predicted intermediate features and the GT frame's features.

    Unlike :class:`CensusLoss` neither side is detached: the reference lets gradients reach the
    encoder through the ground-truth features too.
    """

    def __init__(self, *, patch_size: int = 3) -> None:
        super().__init__()
        self.patch_size = patch_size

    def forward(self, feat_pred: torch.Tensor, feat_target: torch.Tensor) -> torch.Tensor:
        t_pred = census_transform(feat_pred, self.patch_size, per_channel=True)
        t_target = census_transform(feat_target, self.patch_size, per_channel=True)
        return _census_distance(t_pred, t_target, self.patch_size // 2)


def robust_flow_weight(flow_pred: torch.Tensor, flow_label: torch.Tensor, beta: float = 0.3) -> torch.Tensor:
    """Per-pixel trust in a pseudo flow label: exp(-beta * EPE(prediction, label)), (B, 1, H, W).

    The prediction is detached: the weight steers the distillation, it is not itself trained.
    """
    epe = ((flow_pred.detach() - flow_label) ** 2).sum(dim=1, keepdim=True) ** 0.5
    return torch.exp(-beta * epe)


class AdaptiveCharbonnierLoss(nn.Module):
    """Generalised Charbonnier ((d^2 + eps^2) ^ (w / 2)).mean() with eps = 10^(-(10 w - 1) / 3).

    ``weight`` near 1 (label agrees) gives a near-L1 penalty with a small eps; near 0 (label
    disagrees) the power and the gradient vanish, so a wrong pseudo label cannot mislead.
    """

    def forward(self, diff: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        alpha = weight / 2
        epsilon = 10 ** (-(10 * weight - 1) / 3)
        return ((diff**2 + epsilon**2) ** alpha).mean()
