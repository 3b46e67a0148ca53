"""Memory-lean inference: :class:`LeanIFRNet`, IFRNet with the same weights and values, less memory.

Full-resolution inference is dominated by a few tensors of ~100 channels at half the frame size
(0.8 GB each at 4K). The plain layers of :mod:`models.network` hold an input and an output of that
size at every step, a ResBlock three. This sibling walks the same modules differently:

* channels_last layout throughout (several times faster for oneDNN and cuDNN convolutions), the
  decoder inputs concatenated straight into that layout, the warped features sampled into it;
* PReLU activations overwrite their input, and the ResBlock's channel-preserving 3x3
  convolutions are computed band by band over their own input (:mod:`models.lean_ops`), so a
  ResBlock holds two such tensors and never three;
* every input is released as soon as it is consumed (handed over in a one-element list, since
  a tensor held by the caller's variable would live until the call returns).

:class:`LeanIFRNet` subclasses the plain :class:`~models.network.IFRNet` and replaces only its
network pass (``predict_fields``): this module imports :mod:`models.network`, never the reverse,
and the two share every module and checkpoint key. ``models.create_model`` builds it (its default;
``lean=False`` gives the plain class). Results equal the plain path's up to float rounding (``tests/test_lean_inference.py``).
Writing in place breaks autograd, so :func:`lean_fields` refuses to run while gradients are
recorded, and :class:`LeanIFRNet` then runs the plain pass (training's forward is the plain one).

Reduced precision (bfloat16 on CPUs that have it, float16 on CUDA) is chosen when a LeanIFRNet
is built: this same walk over copies of the layers cast once by :mod:`models.low_precision`; the
dtype of each layer's weights says what it computes in. Every decoder output is brought back to
float32 where it is split, so the flows accumulate across levels, and warping, the mask and the
residual run, in float32; the low-precision values only ever enter a convolution. With float32
weights every cast below is a no-op and the values are bit for bit those of the float32 path.
"""
from __future__ import annotations

import functools
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from models.lean_ops import conv3x3_, prelu_
from models.low_precision import CastLayers
from models.network import Fields, IFRNet, ResBlock, Width
from utils.warp import resize, warp

__all__ = ["LeanIFRNet", "LEAN_PRECISIONS", "lean_fields", "cat_channels_last"]

# What LeanIFRNet's convolutions may compute in. Which of them a device runs fast (and may be
# asked for) is decided once, by models.create_model (utils.precision_choice.resolve_precision).
LEAN_PRECISIONS = (torch.float32, torch.bfloat16, torch.float16)


class LeanIFRNet(IFRNet):
    """IFRNet whose ``inference`` runs the memory-lean walk of this module, in ``precision``.

    ``precision`` (float32, bfloat16 or float16) is what the convolutions compute in; flows, warps
    and the merge stay float32 (:mod:`models.low_precision` says why). ``float32_outputs=False``
    also rounds each decoder's output layer, an experiment of ``benchmarks/precision.py``. Both
    are fixed when the model is built, as timm's ``Attention`` fixes ``fused_attn``: a model's path
    and precision are read from its type and construction, never from a per-call switch.
    """

    def __init__(self, width: Width, *, precision: torch.dtype = torch.float32, float32_outputs: bool = True) -> None:
        super().__init__(width)
        if precision not in LEAN_PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(map(str, LEAN_PRECISIONS))}, got {precision}")
        # A plain attribute (adds no checkpoint key); the cast copies are made on first use and
        # again only when the weights change.
        self._cast_layers: Optional[CastLayers] = (
            None if precision == torch.float32 else CastLayers(precision, float32_outputs=float32_outputs))

    @property
    def precision(self) -> torch.dtype:
        """The dtype the convolutions of ``inference`` compute in."""
        return torch.float32 if self._cast_layers is None else self._cast_layers.dtype

    def predict_fields(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> Fields:
        """The lean pass; under autograd (a caller that forgot ``no_grad``) the plain float32 pass,
        since the lean one writes over activations that autograd would need."""
        if torch.is_grad_enabled():
            return super().predict_fields(img0, img1, embt)
        layers = None if self._cast_layers is None else self._cast_layers.layers(self)
        return Fields(*lean_fields(self, img0, img1, embt, layers=layers))


def lean_fields(
    model: IFRNet, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor, *, layers: Optional[nn.Module] = None
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``model.predict_fields`` computed lean: flows t->0, t->1, mask and residual (centred inputs).

    ``layers`` holds the encoder and decoders to run: the model's own (default), or copies cast to
    a lower precision (:class:`models.low_precision.CastLayers`). The fields come back float32.
    """
    if torch.is_grad_enabled():
        raise RuntimeError(
            "lean inference overwrites activations in place, which autograd cannot differentiate; "
            "run it under torch.no_grad() or torch.inference_mode(), or use the plain models.network.IFRNet"
        )
    batch = img0.shape[0]
    # The images only feed the first convolution here (the merge warps the float32 originals).
    layers = model if layers is None else layers
    dtype = _weight_dtype(layers.encoder.pyramid1[0][0])
    images = [torch.cat([img0, img1], 0).to(dtype).contiguous(memory_format=torch.channels_last)]
    del img0, img1
    feats0, feats1 = model.split_pyramid(_encode(layers, images), batch, 2)
    feats0, feats1 = model.share_pair(feats0, embt.shape[0]), model.share_pair(feats1, embt.shape[0])
    return _decode(layers, feats0, feats1, embt)


def _encode(model: nn.Module, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
    features = []
    x = inputs.pop()  # the images are released by the first convolution
    for level in model.encoder.levels():
        for conv_prelu in level:
            x = _conv_prelu(conv_prelu, x)
        features.append(x)
    return features


def _decode(model: nn.Module, feats0: List[torch.Tensor], feats1: List[torch.Tensor], embt: torch.Tensor):
    """``IFRNet.decode`` keeping only what the next level needs, and consuming the pyramids."""
    f0_4, f1_4 = feats0[3], feats1[3]
    batch, _, height, width = f0_4.shape
    dtype = _weight_dtype(model.decoder4.convblock[0][0])
    inputs = [cat_channels_last([f0_4, f1_4, embt.expand(batch, 1, height, width)], dtype)]
    out = _decoder(model.decoder4.convblock, inputs)
    # Both flows travel as one contiguous (B, 4, H, W) tensor: one resize per level, and bilinear
    # resizing runs several times faster on contiguous maps than on the decoder's channels_last.
    flows, feature = out[:, 0:4].contiguous(), out[:, 4:]
    for level in (3, 2, 1):
        convblock = getattr(model, f"decoder{level}").convblock
        inputs = [_decoder_input(feature, feats0[level - 1], feats1[level - 1], flows[:, 0:2], flows[:, 2:4],
                                 _weight_dtype(convblock[0][0]))]
        feats0[level - 1] = feats1[level - 1] = None  # this level's encoder features are used up
        del feature, out
        out = _decoder(convblock, inputs)
        # The flow residuals are added to float32 accumulators: rounding the accumulated flow to
        # 8 mantissa bits would move pixels by up to 1/4 px at 60 px of motion. (2 * up + residual
        # is the plain path's residual + 2 * up: the doubling is exact and addition commutes.)
        flows = resize(flows, 2.0).mul_(2.0).add_(out[:, 0:4])
        feature = out[:, 4:]
    flow0, flow1 = flows[:, 0:2], flows[:, 2:4]
    return flow0, flow1, torch.sigmoid(feature[:, 0:1]), feature[:, 1:]


def _decoder_input(
    feature: torch.Tensor, feats0: torch.Tensor, feats1: torch.Tensor, flow0: torch.Tensor, flow1: torch.Tensor,
    dtype: torch.dtype,
) -> torch.Tensor:
    """``cat([feature, warp(feats0, flow0), warp(feats1, flow1), flow0, flow1], 1)`` as a channels_last
    tensor of ``dtype``, each warp sampled straight into its channels (no warped copy is held).

    Features are sampled at float32 positions from float32 values (grid_sample takes one dtype; a
    bfloat16 grid would be off by up to a pixel on a 720p map).
    """
    parts = [feature, feats0, feats1, flow0, flow1]
    batch, _, height, width = flow0.shape
    channels = [part.shape[1] for part in parts]
    out = torch.empty((batch, sum(channels), height, width), dtype=dtype, device=flow0.device,
                      memory_format=torch.channels_last)
    slot_feature, slot0, slot1, slot_flow0, slot_flow1 = out.split(channels, 1)
    slot_feature.copy_(feature)
    warp(_float32(feats0), flow0, out=slot0)
    warp(_float32(feats1), flow1, out=slot1)
    slot_flow0.copy_(flow0)
    slot_flow1.copy_(flow1)
    return out


def _weight_dtype(layer: nn.Module) -> torch.dtype:
    return layer.weight.dtype


def _float32(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype == torch.float32 else x.float()


def _conv_prelu(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    conv, prelu = block
    return prelu_(conv(x), prelu.weight)


def _decoder(convblock: nn.Sequential, inputs: List[torch.Tensor]) -> torch.Tensor:
    """A decoder's conv+PReLU, ResBlock and transposed conv, releasing the input once consumed.

    The output (flows, feature, or mask and residual) is float32 whatever the layers compute in.
    """
    head, resblock, upsample = convblock
    x = _conv_prelu(head, inputs.pop())
    x = _resblock(resblock, x)
    return _float32(upsample(x.to(_weight_dtype(upsample))))


def _resblock(block: ResBlock, x: torch.Tensor) -> torch.Tensor:
    """``ResBlock.forward`` holding two full tensors (x and out) instead of three."""
    out = _conv_prelu(block.conv1, x)  # x must survive for the residual
    for stage in (block.conv2, block.conv3, block.conv4):
        target = out[:, -block.side :] if stage is not block.conv3 else out
        conv3x3_(stage[0], target, prelu=stage[1].weight)
    return conv3x3_(block.conv5, out, residual=x, prelu=block.prelu.weight)


def cat_channels_last(tensors: Sequence[torch.Tensor], dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """Concatenate along channels straight into a channels_last tensor of ``dtype``.

    ``torch.cat`` of mixed layouts returns a contiguous tensor; converting it afterwards would
    hold two copies of the largest tensor of the network at once. Without ``dtype`` the result
    takes the promoted type of the parts (as ``torch.cat``'s does, e.g. under CUDA autocast);
    with it, each part is rounded once, on its way into the result.
    """
    first = tensors[0]
    shape = (first.shape[0], sum(t.shape[1] for t in tensors), *first.shape[2:])
    if dtype is None:
        dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    out = torch.empty(shape, dtype=dtype, device=first.device, memory_format=torch.channels_last)
    return torch.cat(list(tensors), 1, out=out)
