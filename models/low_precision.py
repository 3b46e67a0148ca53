"""Reduced-precision inference: which parts of IFRNet compute in bfloat16/float16, and why.

Nearly all of IFRNet's time goes into the convolutions of the encoder and of the decoders' first
layer and ResBlock; those run in the low precision, on weights cast once (:class:`CastLayers`).
Everything that carries geometry or becomes output pixels stays float32, because rounding it to
8 mantissa bits (bfloat16) is what made a blanket ``torch.autocast`` lose ~0.9 dB (2.4 dB on
near-static frames) while costing little time to keep exact:

* each decoder's last layer, the transposed convolution whose outputs are split into the flow
  residuals, the next intermediate feature, and at the finest level the mask logit and the RGB
  residual (``float32_outputs``; its input is cast up once per level). The README's precision
  table gives what keeping it float32 costs and gains;
* the flows, accumulated across levels in float32 (a bfloat16 flow of 60 px is only known to
  1/4 px), and the sampling positions and values of every warp of the encoder features;
* the merge: warping the float32 images, the mask blend, the residual, the mean and the clamp,
  all in :meth:`models.network.IFRNet.merge` outside the network.

The low-precision values only ever enter a convolution (the images are rounded only as the first
layer's input). The walk itself is :mod:`models.lean_inference`, which reads each layer's dtype
from its weights; the precision is chosen when a :class:`~models.lean_inference.LeanIFRNet` is
built (``models.create_model(..., precision="bf16")``).
"""
from __future__ import annotations

import copy
from typing import Optional, Tuple

import torch
import torch.nn as nn

from models.network import IFRNet

__all__ = ["CastLayers", "LAYER_NAMES"]

LAYER_NAMES = ("encoder", "decoder4", "decoder3", "decoder2", "decoder1")


def cast_layers(model: IFRNet, dtype: torch.dtype, *, float32_outputs: bool = True) -> nn.Module:
    """Copies of the model's encoder and decoders in ``dtype`` (the decoders' last layers float32 if asked)."""
    layers = nn.Module()
    for name in LAYER_NAMES:
        # channels_last weights, like the activations: no per-call reorder of each kernel.
        layer = copy.deepcopy(getattr(model, name)).to(dtype).to(memory_format=torch.channels_last)
        if float32_outputs and name != "encoder":
            layer.convblock[-1].float()
        layers.add_module(name, layer.eval())
    return layers.requires_grad_(False)


class CastLayers:
    """A model's layers cast to a compute dtype, cast again only when the model's weights change.

    The copies are keyed by every parameter's storage and version counter: loading a checkpoint,
    an optimiser step or moving the model to another device all change the key, so inference
    never runs on stale weights, and an unchanged model pays one cheap comparison per call.
    """

    def __init__(self, dtype: torch.dtype, *, float32_outputs: bool = True) -> None:
        if dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f"CastLayers is for bfloat16 or float16, got {dtype}")
        self.dtype = dtype
        self.float32_outputs = float32_outputs
        self._key: Optional[Tuple] = None
        self._layers: Optional[nn.Module] = None

    def layers(self, model: IFRNet) -> nn.Module:
        key = tuple((p.data_ptr(), p._version, p.device) for p in model.parameters())
        if key != self._key:
            self._layers, self._key = cast_layers(model, self.dtype, float32_outputs=self.float32_outputs), key
        return self._layers
