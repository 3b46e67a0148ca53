"""Memory-lean inference: IFRNet's inference pass with the same weights and values, less memory.

Full-resolution inference is dominated by a few tensors of ~100 channels at half the frame size
(0.8 GB each at 4K). The plain layers of :mod:`models.ifrnet` hold an input and an output of that
size at every step, a ResBlock three. This sibling walks the same modules differently:

* channels_last layout throughout (several times faster for oneDNN and cuDNN convolutions), the
  decoder inputs concatenated straight into that layout;
* PReLU activations overwrite their input, and the ResBlock's channel-preserving 3x3
  convolutions are computed band by band over their own input (:mod:`models.lean_ops`), so a
  ResBlock holds two such tensors and never three;
* every input is released as soon as it is consumed (handed over in a one-element list, since
  a tensor held by the caller's variable would live until the call returns).

Results equal the plain path's up to float rounding (``tests/test_lean_inference.py``). Writing in
place breaks autograd, so :func:`lean_fields` refuses to run while gradients are recorded.
``IFRNet.inference`` calls it when the model's ``lean`` switch is on.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, List, Sequence, Tuple

import torch
import torch.nn as nn

from models.lean_ops import conv3x3_, prelu_
from utils.warp import resize, warp

if TYPE_CHECKING:  # only for annotations: models.ifrnet imports this module
    from models.ifrnet import IFRNet, ResBlock

__all__ = ["lean_fields", "cat_channels_last"]


def lean_fields(
    model: "IFRNet", img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``model.predict_fields`` computed lean: flows t->0, t->1, mask and residual (centred inputs)."""
    if torch.is_grad_enabled():
        raise RuntimeError(
            "lean inference overwrites activations in place, which autograd cannot differentiate; "
            "run it under torch.no_grad() or torch.inference_mode(), or set model.lean = False"
        )
    batch = img0.shape[0]
    images = [torch.cat([img0, img1], 0).contiguous(memory_format=torch.channels_last)]
    del img0, img1
    feats0, feats1 = model.split_pyramid(_encode(model, images), batch, 2)
    feats0, feats1 = model.share_pair(feats0, embt.shape[0]), model.share_pair(feats1, embt.shape[0])
    return _decode(model, feats0, feats1, embt)


def _encode(model: "IFRNet", inputs: List[torch.Tensor]) -> List[torch.Tensor]:
    features = []
    x = inputs.pop()  # the images are released by the first convolution
    for level in model.encoder.levels():
        for conv_prelu in level:
            x = _conv_prelu(conv_prelu, x)
        features.append(x)
    return features


def _decode(model: "IFRNet", feats0: List[torch.Tensor], feats1: List[torch.Tensor], embt: torch.Tensor):
    """``IFRNet.decode`` keeping only what the next level needs, and consuming the pyramids."""
    f0_4, f1_4 = feats0[3], feats1[3]
    batch, _, height, width = f0_4.shape
    inputs = [cat_channels_last([f0_4, f1_4, embt.expand(batch, 1, height, width)])]
    out = _decoder(model.decoder4.convblock, inputs)
    flow0, flow1, feature = out[:, 0:2], out[:, 2:4], out[:, 4:]
    for level in (3, 2, 1):
        warped0 = warp(feats0[level - 1], flow0)
        warped1 = warp(feats1[level - 1], flow1)
        feats0[level - 1] = feats1[level - 1] = None  # this level's encoder features are used up
        inputs = [cat_channels_last([feature, warped0, warped1, flow0, flow1])]
        del warped0, warped1, feature, out
        out = _decoder(getattr(model, f"decoder{level}").convblock, inputs)
        flow0 = out[:, 0:2] + 2.0 * resize(flow0, 2.0)
        flow1 = out[:, 2:4] + 2.0 * resize(flow1, 2.0)
        feature = out[:, 4:]
    return flow0, flow1, torch.sigmoid(feature[:, 0:1]), feature[:, 1:]


def _conv_prelu(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    conv, prelu = block
    return prelu_(conv(x), prelu.weight)


def _decoder(convblock: nn.Sequential, inputs: List[torch.Tensor]) -> torch.Tensor:
    """A decoder's conv+PReLU, ResBlock and transposed conv, releasing the input once consumed."""
    head, resblock, upsample = convblock
    x = _conv_prelu(head, inputs.pop())
    x = _resblock(resblock, x)
    return upsample(x)


def _resblock(block: "ResBlock", x: torch.Tensor) -> torch.Tensor:
    """``ResBlock.forward`` holding two full tensors (x and out) instead of three."""
    out = _conv_prelu(block.conv1, x)  # x must survive for the residual
    for stage in (block.conv2, block.conv3, block.conv4):
        target = out[:, -block.side :] if stage is not block.conv3 else out
        conv3x3_(stage[0], target)
        prelu_(target, stage[1].weight)
    conv3x3_(block.conv5, out)
    return prelu_(out.add_(x), block.prelu.weight)


def cat_channels_last(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """Concatenate along channels straight into a channels_last tensor.

    ``torch.cat`` of mixed layouts returns a contiguous tensor; converting it afterwards would
    hold two copies of the largest tensor of the network at once. Under CUDA autocast the parts
    mix float16 and float32: the result takes the promoted type, as ``torch.cat``'s does.
    """
    first = tensors[0]
    shape = (first.shape[0], sum(t.shape[1] for t in tensors), *first.shape[2:])
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    out = torch.empty(shape, dtype=dtype, device=first.device, memory_format=torch.channels_last)
    return torch.cat(list(tensors), 1, out=out)
