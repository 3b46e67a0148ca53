"""Deterministic "seeded" weights by the reference README's rule, so no weights need shipping.

For each state_dict key ``name`` the tensor is drawn from a generator seeded with crc32(name):
4-D kernels are scaled by 1/sqrt(fan_in), biases by 0.01, and everything else (the PReLU slopes)
becomes 0.25 + 0.05 x. The golden vectors were produced with exactly these weights.
"""
from __future__ import annotations

import math
import zlib
from pathlib import Path
from typing import Dict

import torch

from models import build_model
from models.lean_inference import LeanIFRNet
from models.network import IFRNet

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def seeded_state_dict(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    state = {}
    for name, tensor in model.state_dict().items():
        shape = tensor.shape
        x = torch.randn(shape, generator=torch.Generator().manual_seed(zlib.crc32(name.encode())))
        if len(shape) == 4:
            x = x / math.sqrt(shape[1] * shape[2] * shape[3])
        elif name.endswith(".bias"):
            x = x * 0.01
        else:
            x = 0.25 + 0.05 * x
        state[name] = x
    return state


def seeded_model(name: str, *, lean: bool = False, precision: torch.dtype = torch.float32) -> IFRNet:
    """The seeded weights in eval mode: the plain IFRNet, or with ``lean`` its lean sibling in
    ``precision``, built directly so that tests may run bfloat16 on any CPU (the factory refuses
    it where it is only emulated)."""
    model = build_model(name)
    model.load_state_dict(seeded_state_dict(model), strict=True)
    if lean:
        model = LeanIFRNet.sharing_weights(model, precision=precision)
    elif precision != torch.float32:
        raise ValueError("reduced precision is a choice of the lean model: pass lean=True")
    return model.eval()


def overflowing_model(name: str = "IFRNet_S") -> IFRNet:
    """Finite weights whose activations overflow to Inf and then NaN (as after a diverged step)."""
    broken = seeded_model(name)
    with torch.no_grad():
        for parameter in broken.parameters():
            parameter.mul_(1e3)
    return broken
