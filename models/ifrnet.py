"""IFRNet: one encoder-decoder definition serving the three published widths.

The network (Kong et al., CVPR 2022) encodes both input frames into a four-level feature pyramid,
then decodes coarse to fine. Each decoder refines the two flows from the target time to the
inputs and an *intermediate feature* of the target frame; the finest decoder also predicts a
merge mask and a residual. The authors ship three near-identical files (IFRNet, IFRNet_L,
IFRNet_S); here one class takes a :class:`Width` and the module tree is laid out so that the
published checkpoints load key for key (``encoder.pyramid{1..4}``, ``decoder{1..4}.convblock``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from models.lean_ops import conv3x3_, is_lean, lean_mode, prelu_, run_layers
from models.losses import (
    AdaptiveCharbonnierLoss,
    CensusLoss,
    CharbonnierLoss,
    GeometryConsistencyLoss,
    robust_flow_weight,
)
from utils.warp import resize, warp

__all__ = ["Width", "WIDTHS", "IFRNet", "ResBlock", "Encoder", "Decoder"]


@dataclass(frozen=True)
class Width:
    """What distinguishes the published variants: channel widths and the first kernel size."""

    pyramid: Tuple[int, int, int, int]  # encoder channels at 1/2, 1/4, 1/8, 1/16
    side: int  # ResBlock side channels
    first_kernel: int = 3  # IFRNet_L opens with a 7x7 convolution


WIDTHS: Dict[str, Width] = {
    "IFRNet": Width(pyramid=(32, 48, 72, 96), side=32),
    "IFRNet_L": Width(pyramid=(64, 96, 144, 192), side=64, first_kernel=7),
    "IFRNet_S": Width(pyramid=(24, 36, 54, 72), side=24),
}


class PReLU(nn.PReLU):
    """``nn.PReLU`` (same parameter, same checkpoint key) that works in place in lean inference.

    See :mod:`models.lean_ops`; outside lean mode it is exactly ``nn.PReLU``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return prelu_(x, self.weight) if is_lean() else super().forward(x)


def conv_prelu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """Convolution followed by a per-channel PReLU; a Sequential so keys read ``.0`` and ``.1``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=True),
        PReLU(out_channels),
    )


class ResBlock(nn.Module):
    """Residual block whose last ``side`` channels get an extra convolution after each stage.

    The side channels carry the intermediate feature's most "flow-like" part; giving them their
    own convolution lets it be updated cheaply twice per block (paper, Sec. 3.1).
    """

    def __init__(self, channels: int, side: int) -> None:
        super().__init__()
        self.side = side
        self.conv1 = conv_prelu(channels, channels)
        self.conv2 = conv_prelu(side, side)
        self.conv3 = conv_prelu(channels, channels)
        self.conv4 = conv_prelu(side, side)
        self.conv5 = nn.Conv2d(channels, channels, 3, 1, 1, bias=True)
        self.prelu = PReLU(channels)

    def _refine_side(self, x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        return torch.cat([x[:, : -self.side], conv(x[:, -self.side :])], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if is_lean():
            return self._forward_in_place(x)
        out = self._refine_side(self.conv1(x), self.conv2)
        out = self._refine_side(self.conv3(out), self.conv4)
        return self.prelu(x + self.conv5(out))

    def _forward_in_place(self, x: torch.Tensor) -> torch.Tensor:
        """The same computation holding two full tensors (x and out) instead of three."""
        out = self.conv1(x)  # x must survive for the residual
        for stage in (self.conv2, self.conv3, self.conv4):
            target = out[:, -self.side :] if stage is not self.conv3 else out
            conv3x3_(stage[0], target)
            stage[1](target)
        conv3x3_(self.conv5, out)
        return self.prelu(out.add_(x))


class Encoder(nn.Module):
    """Four-level feature pyramid (1/2 .. 1/16), each level a stride-2 and a stride-1 conv."""

    def __init__(self, width: Width) -> None:
        super().__init__()
        channels = (3,) + width.pyramid
        for level in range(1, 5):
            first_kernel = width.first_kernel if level == 1 else 3
            block = nn.Sequential(
                conv_prelu(channels[level - 1], channels[level], first_kernel, stride=2),
                conv_prelu(channels[level], channels[level]),
            )
            self.add_module(f"pyramid{level}", block)

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        features = []
        x = image
        for level in range(1, 5):
            x = run_layers(getattr(self, f"pyramid{level}"), [x])
            features.append(x)
        return features


class Decoder(nn.Module):
    """conv+PReLU, ResBlock, then a 4x4 stride-2 transposed conv that doubles the resolution.

    The caller assembles the input (features, warped features, flows, timestep); the output holds
    4 flow channels (t->0, t->1) followed by the next level's intermediate feature, or at the
    finest level the mask logit and the RGB residual.
    """

    def __init__(self, in_channels: int, channels: int, out_channels: int, side: int) -> None:
        super().__init__()
        self.convblock = nn.Sequential(
            conv_prelu(in_channels, channels),
            ResBlock(channels, side),
            nn.ConvTranspose2d(channels, out_channels, 4, 2, 1, bias=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_layers(self.convblock, [x])


def _cat_channels(tensors: Sequence[torch.Tensor], memory_format: torch.memory_format) -> torch.Tensor:
    """Concatenate along channels straight into a tensor of the wanted layout.

    ``torch.cat`` of mixed layouts returns a contiguous tensor; converting it afterwards would
    hold two copies of the largest tensor of the network at once.
    """
    if torch.is_grad_enabled() or memory_format == torch.contiguous_format:
        # Autograd and the ONNX exporter do not support ``out=``: training and export go here.
        return torch.cat(list(tensors), 1).contiguous(memory_format=memory_format)
    first = tensors[0]
    shape = (first.shape[0], sum(t.shape[1] for t in tensors), *first.shape[2:])
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))  # mixed under autocast
    out = torch.empty(shape, dtype=dtype, device=first.device, memory_format=memory_format)
    return torch.cat(list(tensors), 1, out=out)


class _Decoded(NamedTuple):
    """Everything the decoders produce at the network's working resolution."""

    flows0: List[torch.Tensor]  # flow t->0 at levels 1..4 (index 0 = finest, full resolution)
    flows1: List[torch.Tensor]  # flow t->1, same layout
    features: List[torch.Tensor]  # predicted intermediate features at levels 1..3
    mask: torch.Tensor  # merge weight of warped img0, in (0, 1)
    residual: torch.Tensor  # RGB residual added after merging


class IFRNet(nn.Module):
    """IFRNet of a given width; see :data:`WIDTHS` and :func:`models.build_model`.

    ``inference(img0, img1, embt, scale_factor)`` predicts the frame at time ``embt``;
    ``forward(img0, img1, embt, imgt, flow=None)`` is the training pass returning
    ``(pred, loss_rec, loss_geo, loss_dis)``. Images are (B, 3, H, W) in [0, 1]; ``embt`` is
    (B, 1, 1, 1) so one batch may hold different timesteps.
    """

    def __init__(self, width: Width) -> None:
        super().__init__()
        self.width = width
        c1, c2, c3, c4 = width.pyramid
        self.encoder = Encoder(width)
        self.decoder4 = Decoder(2 * c4 + 1, 2 * c4, 4 + c3, width.side)
        self.decoder3 = Decoder(3 * c3 + 4, 3 * c3, 4 + c2, width.side)
        self.decoder2 = Decoder(3 * c2 + 4, 3 * c2, 4 + c1, width.side)
        self.decoder1 = Decoder(3 * c1 + 4, 3 * c1, 8, width.side)
        self.charbonnier = CharbonnierLoss()
        self.census = CensusLoss(patch_size=7)
        self.geometry = GeometryConsistencyLoss(patch_size=3)
        self.distillation = AdaptiveCharbonnierLoss()
        # Inference in channels_last layout (see ``inference``); False gives the reference's layout.
        self.fast_inference = True

    # ----------------------------------------------------------------------------------------
    # building blocks shared by inference and training

    @staticmethod
    def joint_mean(img0: torch.Tensor, img1: torch.Tensor) -> torch.Tensor:
        """Per-sample mean over both images, all channels and pixels, shaped (B, 1, 1, 1).

        Subtracting it centres the inputs; it is added back after merging.
        """
        both = torch.cat([img0, img1], 2)
        return both.mean(1, keepdim=True).mean(2, keepdim=True).mean(3, keepdim=True)

    def encode(self, *images: torch.Tensor) -> List[List[torch.Tensor]]:
        """Encode several equally shaped batches in one pass; returns one pyramid per input.

        One batched pass instead of one per image keeps the convolutions' work per call large.
        """
        batch = images[0].shape[0]
        pyramid = self.encoder(torch.cat(images, 0) if len(images) > 1 else images[0])
        return [[level[i * batch : (i + 1) * batch] for level in pyramid] for i in range(len(images))]

    def decode(
        self,
        feats0: Sequence[torch.Tensor],
        feats1: Sequence[torch.Tensor],
        embt: torch.Tensor,
        *,
        keep_levels: bool = True,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> _Decoded:
        """Run decoders 4..1 coarse to fine on two feature pyramids.

        ``keep_levels=False`` (inference) drops each level's flows and features as soon as the
        next level no longer needs them, instead of returning them for the training losses, and
        consumes the pyramids: their entries are set to None once warped (pass lists you own).
        ``memory_format`` is the layout every decoder input is given (channels_last is much faster
        for oneDNN and cuDNN convolutions).
        """
        f0_4, f1_4 = feats0[3], feats1[3]
        batch, _, height, width = f0_4.shape
        time_map = embt.expand(batch, 1, height, width)
        inputs = [_cat_channels([f0_4, f1_4, time_map], memory_format)]
        out = run_layers(self.decoder4.convblock, inputs)
        flow0, flow1, feature = out[:, 0:2], out[:, 2:4], out[:, 4:]
        flows0, flows1, features = [flow0], [flow1], [feature]
        for level in (3, 2, 1):
            warped0 = warp(feats0[level - 1], flow0)
            warped1 = warp(feats1[level - 1], flow1)
            if not keep_levels:  # inference: this level's encoder features are no longer needed
                feats0[level - 1] = feats1[level - 1] = None
            inputs = [_cat_channels([feature, warped0, warped1, flow0, flow1], memory_format)]
            del warped0, warped1, feature, out
            # Handing the input over in a list (not calling the decoder) lets it be freed early.
            out = run_layers(getattr(self, f"decoder{level}").convblock, inputs)
            flow0 = out[:, 0:2] + 2.0 * resize(flow0, 2.0)
            flow1 = out[:, 2:4] + 2.0 * resize(flow1, 2.0)
            feature = out[:, 4:]
            if keep_levels:
                flows0.insert(0, flow0)
                flows1.insert(0, flow1)
                if level > 1:
                    features.insert(0, feature)
            else:
                flows0, flows1, features = [flow0], [flow1], []
        return _Decoded(flows0, flows1, features, torch.sigmoid(feature[:, 0:1]), feature[:, 1:])

    @staticmethod
    def merge(
        img0: torch.Tensor,
        img1: torch.Tensor,
        mean: torch.Tensor,
        flow0: torch.Tensor,
        flow1: torch.Tensor,
        mask: torch.Tensor,
        residual: torch.Tensor,
    ) -> torch.Tensor:
        """Warp the centred inputs to time t, blend by the mask, add mean and residual, clamp."""
        merged = mask * warp(img0, flow0) + (1 - mask) * warp(img1, flow1) + mean
        return torch.clamp(merged + residual, 0, 1)

    # ----------------------------------------------------------------------------------------
    # public passes

    def inference(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        embt: torch.Tensor,
        scale_factor: float = 1.0,
    ) -> torch.Tensor:
        """Interpolate the frame at time ``embt`` between ``img0`` (t=0) and ``img1`` (t=1).

        With ``scale_factor`` s != 1 the network runs on inputs resized by s and its flows, mask
        and residual are resized back, so large frames cost less while the full-resolution images
        are warped. The sides times s must be divisible by 16.

        Several timesteps of one pair: pass a single pair (batch 1) with ``embt`` of batch T; the
        pair is encoded once and T frames come back.

        With ``self.fast_inference`` (the default) the convolutions run in channels_last layout,
        several times faster on CPU (oneDNN) and on GPU tensor cores, and, when no gradient is
        recorded, in the memory-lean mode of :mod:`models.lean_ops` (activations in place, banded
        convolutions, intermediates freed early). Results differ from the straightforward path
        (``fast_inference = False``, the reference's computation) by float rounding only.
        """
        img0, img1, embt = self._check_inputs(img0, img1, embt, scale_factor)
        lean = self.fast_inference and not torch.is_grad_enabled()
        memory_format = torch.channels_last if self.fast_inference else torch.contiguous_format
        mean = self.joint_mean(img0, img1)
        with lean_mode(lean):
            flow0, flow1, mask, residual = self._predict_fields(
                img0 - mean, img1 - mean, embt, scale_factor, memory_format
            )
        steps = embt.shape[0]
        if steps != img0.shape[0]:  # one pair, several timesteps
            img0, img1 = img0.expand(steps, -1, -1, -1), img1.expand(steps, -1, -1, -1)
            mean = mean.expand(steps, -1, -1, -1)
        # The centred images are recomputed here rather than kept through the network's peak.
        return self.merge(img0 - mean, img1 - mean, mean, flow0, flow1, mask, residual)

    def _predict_fields(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        embt: torch.Tensor,
        scale_factor: float,
        memory_format: torch.memory_format,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flows t->0 and t->1, merge mask and residual at the inputs' resolution (centred inputs)."""
        if scale_factor != 1.0:
            img0, img1 = resize(img0, scale_factor), resize(img1, scale_factor)
        feats0, feats1 = self.encode(
            img0.contiguous(memory_format=memory_format), img1.contiguous(memory_format=memory_format)
        )
        del img0, img1
        steps = embt.shape[0]
        if steps != feats0[0].shape[0]:  # one pair, several timesteps: share the encoder pass
            feats0 = [f.expand(steps, -1, -1, -1) for f in feats0]
            feats1 = [f.expand(steps, -1, -1, -1) for f in feats1]
        out = self.decode(feats0, feats1, embt, keep_levels=False, memory_format=memory_format)
        del feats0, feats1
        flow0, flow1, mask, residual = out.flows0[0], out.flows1[0], out.mask, out.residual
        del out
        if scale_factor != 1.0:
            inverse = 1.0 / scale_factor
            flow0 = resize(flow0, inverse) * inverse
            flow1 = resize(flow1, inverse) * inverse
            mask = resize(mask, inverse)
            residual = resize(residual, inverse)
        return flow0, flow1, mask, residual

    def forward(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        embt: torch.Tensor,
        imgt: torch.Tensor,
        flow: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: prediction and the three loss terms (reconstruction, geometry, distillation).

        ``flow`` holds pseudo labels (B, 4, H, W): flow t->0 then t->1. Without it the
        distillation term is 0. The ground-truth frame is encoded with the inputs (one batched
        pass) to supervise the decoders' intermediate features.
        """
        img0, img1, embt = self._check_inputs(img0, img1, embt, 1.0)
        if imgt.shape != img0.shape:
            raise ValueError(f"imgt must have the inputs' shape {tuple(img0.shape)}, got {tuple(imgt.shape)}")
        if embt.shape[0] != img0.shape[0]:
            raise ValueError(f"embt must hold one timestep per sample ({img0.shape[0]}), got {embt.shape[0]}")
        mean = self.joint_mean(img0, img1)
        img0, img1, imgt_centred = img0 - mean, img1 - mean, imgt - mean
        feats0, feats1, featst = self.encode(img0, img1, imgt_centred)
        out = self.decode(feats0, feats1, embt)
        pred = self.merge(img0, img1, mean, out.flows0[0], out.flows1[0], out.mask, out.residual)

        loss_rec = self.charbonnier(pred - imgt) + self.census(pred, imgt)
        loss_geo = 0.01 * sum(self.geometry(out.features[i], featst[i]) for i in range(3))
        if flow is None:
            loss_dis = torch.zeros_like(loss_geo)
        else:
            loss_dis = self.distillation_loss(out, flow)
        return pred, loss_rec, loss_geo, loss_dis

    def distillation_loss(self, out: _Decoded, flow: torch.Tensor) -> torch.Tensor:
        """Task-oriented flow distillation of levels 2..4 towards the pseudo labels (weight 0.01)."""
        if flow.dim() != 4 or flow.shape[1] != 4 or flow.shape[2:] != out.flows0[0].shape[2:]:
            raise ValueError(
                f"flow labels must be (B, 4, H, W) at the image size {tuple(out.flows0[0].shape[2:])}, "
                f"got {tuple(flow.shape)}"
            )
        label0, label1 = flow[:, 0:2], flow[:, 2:4]
        weight0 = robust_flow_weight(out.flows0[0], label0, beta=0.3)
        weight1 = robust_flow_weight(out.flows1[0], label1, beta=0.3)
        total = 0.0
        for level in (1, 2, 3):  # list index: 1/2, 1/4 and 1/8 of the full resolution
            scale = 2.0**level
            up0 = scale * resize(out.flows0[level], scale)
            up1 = scale * resize(out.flows1[level], scale)
            total = total + 0.01 * (
                self.distillation(up0 - label0, weight0) + self.distillation(up1 - label1, weight1)
            )
        return total

    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _check_inputs(
        img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor | float, scale_factor: float
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validate shapes early, so a bad call fails with a sentence, not a deep cat error."""
        if img0.dim() != 4 or img0.shape[1] != 3:
            raise ValueError(f"img0 must be (B, 3, H, W), got {tuple(img0.shape)}")
        if img1.shape != img0.shape:
            raise ValueError(f"img1 must have img0's shape {tuple(img0.shape)}, got {tuple(img1.shape)}")
        if not torch.is_tensor(embt):
            embt = torch.full((img0.shape[0], 1, 1, 1), float(embt), dtype=img0.dtype, device=img0.device)
        if embt.dim() != 4 or embt.shape[1:] != (1, 1, 1):
            raise ValueError(f"embt must be (B, 1, 1, 1), got {tuple(embt.shape)}")
        if embt.shape[0] != img0.shape[0] and img0.shape[0] != 1:
            raise ValueError(
                f"embt holds {embt.shape[0]} timesteps for {img0.shape[0]} image pairs: give one per "
                "pair, or a single pair with several timesteps"
            )
        if not scale_factor > 0:
            raise ValueError(f"scale_factor must be positive, got {scale_factor}")
        height, width = (int(side * scale_factor) for side in img0.shape[2:])
        if height % 16 or width % 16 or height == 0 or width == 0:
            raise ValueError(
                f"image sides times scale_factor must be positive multiples of 16, got "
                f"{tuple(img0.shape[2:])} x {scale_factor} -> ({height}, {width}); pad the inputs "
                "(utils.padding.InputPadder)"
            )
        return img0, img1, embt
