"""Test-time augmentation: the prediction averaged with the prediction on a transformed pair.

A network's errors are not symmetric: a flow it estimates badly in one direction it may estimate
well mirrored. Running it once more on the pair turned by 180 degrees (flipped horizontally and
vertically, which turns every motion direction around) and turning that prediction back gives a
second, partly independent estimate of the same frame; their mean has less error. It costs one
more forward pass: about twice the time, and the same peak memory (the passes run one after
the other).

Why the 180-degree turn: on held-out real frames (``python benchmarks/video_tta.py`` prints the
variants side by side; figures in the README) it gained more than a horizontal flip or swapping the
frames in time (t -> 1 - t) and as much as a vertical flip, within noise. Of those two it is the one
that reverses motion along both axes, so what the second pass sees differs from the first whatever
the direction of motion (a vertical flip leaves a horizontal pan as it was).
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch
from torch import nn

__all__ = ["TRANSFORMS", "DEFAULT_TTA", "averaged_inference", "TestTimeAugmented"]

# Each transform: (img0, img1, embt) -> the pair and timesteps to run, and how to undo it on the
# prediction. Flips are their own inverse; the time swap needs no undo.
TRANSFORMS: Dict[str, tuple] = {
    "hflip": (lambda a, b, t: (a.flip(-1), b.flip(-1), t), lambda p: p.flip(-1)),
    "vflip": (lambda a, b, t: (a.flip(-2), b.flip(-2), t), lambda p: p.flip(-2)),
    "rot180": (lambda a, b, t: (a.flip(-2, -1), b.flip(-2, -1), t), lambda p: p.flip(-2, -1)),
    "time": (lambda a, b, t: (b, a, 1 - t), lambda p: p),
    "rot180_time": (lambda a, b, t: (b.flip(-2, -1), a.flip(-2, -1), 1 - t), lambda p: p.flip(-2, -1)),
}
DEFAULT_TTA = ("rot180",)


def averaged_inference(
    model: nn.Module,
    img0: torch.Tensor,
    img1: torch.Tensor,
    embt: torch.Tensor,
    scale_factor: float = 1.0,
    transforms: Sequence[str] = DEFAULT_TTA,
) -> torch.Tensor:
    """``model.inference`` averaged over the plain pair and each of ``transforms`` (names in
    :data:`TRANSFORMS`), each prediction mapped back before averaging."""
    total = model.inference(img0, img1, embt, scale_factor=scale_factor).float()
    for name in transforms:
        forward, undo = TRANSFORMS[name]
        a, b, t = forward(img0, img1, embt)
        total += undo(model.inference(a, b, t, scale_factor=scale_factor).float())
    return total / (1 + len(transforms))


class TestTimeAugmented(nn.Module):
    """A model whose ``inference`` is :func:`averaged_inference` over ``model``: for code that takes
    any model with the IFRNet ``inference`` signature (the benchmarks' evaluation loop)."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, model: nn.Module, transforms: Sequence[str] = DEFAULT_TTA) -> None:
        super().__init__()
        if isinstance(transforms, str):  # one name, not a sequence of its characters
            transforms = (transforms,)
        unknown = [name for name in transforms if name not in TRANSFORMS]
        if unknown:
            raise ValueError(f"unknown test-time transforms {unknown}; choose from {sorted(TRANSFORMS)}")
        self.model = model
        self.transforms = tuple(transforms)

    def inference(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor, scale_factor: float = 1.0) -> torch.Tensor:
        return averaged_inference(self.model, img0, img1, embt, scale_factor, self.transforms)
