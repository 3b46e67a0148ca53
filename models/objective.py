"""IFRNet's training objective: the three loss terms of the paper (Sec. 3.2), weighted as published.

* reconstruction: Charbonnier + census between the predicted and the ground-truth frame;
* geometry consistency (weight 0.01): per-channel census between the decoders' intermediate
  features at 1/2, 1/4 and 1/8 and the ground-truth frame's encoder features there;
* task-oriented flow distillation (weight 0.01): the flows of levels 1/2, 1/4 and 1/8, upsampled,
  pulled towards the pseudo labels with a robust penalty whose power falls where the label
  disagrees with the network's own final flow (trust exp(-0.3 * EPE)).

The terms are returned separately (the training loop sums them and logs each); the individual
losses live in :mod:`models.losses`. ``IFRNet.forward`` calls :class:`IFRNetObjective`, which
keeps the authors' ``(pred, loss_rec, loss_geo, loss_dis)`` API.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import torch
import torch.nn as nn

from models.losses import (
    AdaptiveCharbonnierLoss,
    CensusLoss,
    CharbonnierLoss,
    GeometryConsistencyLoss,
    robust_flow_weight,
)
from utils.warp import resize

__all__ = ["IFRNetObjective", "LossTerms", "GEOMETRY_WEIGHT", "DISTILLATION_WEIGHT", "LABEL_TRUST_BETA"]

GEOMETRY_WEIGHT = 0.01
DISTILLATION_WEIGHT = 0.01  # per level and direction
LABEL_TRUST_BETA = 0.3  # exp(-beta * EPE): how fast trust in a pseudo label falls with its error


class LossTerms(NamedTuple):
    """The weighted terms, each a scalar tensor; their sum is what training minimises."""

    reconstruction: torch.Tensor
    geometry: torch.Tensor
    distillation: torch.Tensor


class IFRNetObjective(nn.Module):
    """The weighted reconstruction, geometry-consistency and distillation terms of one batch.

    A module without parameters or buffers, so holding it in the model adds no checkpoint key.
    """

    def __init__(self) -> None:
        super().__init__()
        self.charbonnier = CharbonnierLoss()
        self.census = CensusLoss(patch_size=7)
        self.geometry = GeometryConsistencyLoss(patch_size=3)
        self.distillation = AdaptiveCharbonnierLoss()

    def forward(
        self,
        pred: torch.Tensor,
        imgt: torch.Tensor,
        features: Sequence[torch.Tensor],
        target_features: Sequence[torch.Tensor],
        flows0: Sequence[torch.Tensor],
        flows1: Sequence[torch.Tensor],
        flow: Optional[torch.Tensor] = None,
    ) -> LossTerms:
        """``features``: predicted intermediate features at 1/2, 1/4, 1/8; ``target_features``:
        the ground truth's encoder pyramid (finest first); ``flows0``/``flows1``: flows t->0 and
        t->1 at full resolution, 1/2, 1/4, 1/8; ``flow``: pseudo labels (B, 4, H, W) or None,
        which makes the distillation term 0.
        """
        reconstruction = self.charbonnier(pred - imgt) + self.census(pred, imgt)
        geometry = GEOMETRY_WEIGHT * sum(self.geometry(features[i], target_features[i]) for i in range(3))
        if flow is None:
            distillation = torch.zeros_like(geometry)
        else:
            distillation = self.distillation_term(flows0, flows1, flow)
        return LossTerms(reconstruction, geometry, distillation)

    def distillation_term(
        self, flows0: Sequence[torch.Tensor], flows1: Sequence[torch.Tensor], flow: torch.Tensor
    ) -> torch.Tensor:
        """Distillation of levels 1/2 .. 1/8 towards the labels; the final flow only sets the trust."""
        if flow.dim() != 4 or flow.shape[1] != 4 or flow.shape[2:] != flows0[0].shape[2:]:
            raise ValueError(
                f"flow labels must be (B, 4, H, W) at the image size {tuple(flows0[0].shape[2:])}, "
                f"got {tuple(flow.shape)}"
            )
        label0, label1 = flow[:, 0:2], flow[:, 2:4]
        weight0 = robust_flow_weight(flows0[0], label0, beta=LABEL_TRUST_BETA)
        weight1 = robust_flow_weight(flows1[0], label1, beta=LABEL_TRUST_BETA)
        total = 0.0
        for level in (1, 2, 3):  # list index: 1/2, 1/4 and 1/8 of the full resolution
            scale = 2.0**level
            up0 = scale * resize(flows0[level], scale)
            up1 = scale * resize(flows1[level], scale)
            total = total + DISTILLATION_WEIGHT * (
                self.distillation(up0 - label0, weight0) + self.distillation(up1 - label1, weight1)
            )
        return total
