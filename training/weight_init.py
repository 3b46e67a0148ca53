"""Weight initialisation schemes for a training run that starts from scratch.

``pytorch`` keeps PyTorch's default initialisation, which is what the authors' release trains
from. It works at their scale (hundreds of thousands of iterations on GPUs), but the default
uniform(±1/sqrt(fan_in)) weights shrink activations by about 1/sqrt(3) per layer: the encoder's
features start tiny, so the warping and distillation gradients that should teach the decoders to
find motion are tiny too, and a short run sits at zero flow and an even blend (the frame average).

``kaiming`` draws every convolution from He et al.'s normal distribution for a PReLU of slope
0.25 (the layers' initial slope), so activations keep their scale through the pyramid, and zeroes
the biases. Each decoder's last layer, which emits flows, mask, residual and features, is then
scaled by ``output_gain`` (0.1) so the network starts close to "no motion, even blend" instead of
from random flows of many pixels. The measurements behind this choice are in the starter model
card (``checkpoints/starter/README.md``, Training).

Only the starting point differs: architecture, state-dict keys and losses are the paper's.
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["INIT_SCHEMES", "initialise_weights"]

INIT_SCHEMES = ("pytorch", "kaiming")
_PRELU_INITIAL_SLOPE = 0.25


def _fan_in(layer: nn.Module) -> float:
    """Inputs feeding one output value; a stride-s transposed conv sees 1/s^2 of its kernel taps."""
    weight = layer.weight
    if isinstance(layer, nn.ConvTranspose2d):
        taps = weight.shape[0] * weight.shape[2] * weight.shape[3]
        return taps / (layer.stride[0] * layer.stride[1])
    return float(weight.shape[1] * weight.shape[2] * weight.shape[3])


@torch.no_grad()
def initialise_weights(model: nn.Module, scheme: str = "pytorch", *, output_gain: float = 0.1) -> nn.Module:
    """Re-initialise ``model`` in place by ``scheme`` (see the module docstring) and return it.

    Uses the global torch RNG, so a seeded run draws the same weights every time.
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown initialisation {scheme!r}; choose one of {', '.join(INIT_SCHEMES)}")
    if scheme == "pytorch":
        return model
    gain = math.sqrt(2.0 / (1.0 + _PRELU_INITIAL_SLOPE**2))
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            layer.weight.normal_(0.0, gain / math.sqrt(_fan_in(layer)))
            if layer.bias is not None:
                layer.bias.zero_()
    for name, child in model.named_children():
        if name.startswith("decoder"):
            last = [layer for layer in child.modules() if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d))][-1]
            last.weight.mul_(output_gain)
    return model
