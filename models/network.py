"""IFRNet: one encoder-decoder definition serving the three published widths.

The network (Kong et al., CVPR 2022) encodes both input frames into a four-level feature pyramid,
then decodes coarse to fine. Each decoder refines the two flows from the target time to the
inputs and an *intermediate feature* of the target frame; the finest decoder also predicts a
merge mask and a residual. The authors ship three near-identical files (IFRNet, IFRNet_L,
IFRNet_S); here one class takes a :class:`Width` and the module tree is laid out so that the
published checkpoints load key for key (``encoder.pyramid{1..4}``, ``decoder{1..4}.convblock``).

This file is the plain computation. The memory-lean inference (same weights, same values up to
float rounding, a fraction of the memory) is a sibling class, :class:`models.lean_inference.LeanIFRNet`,
which imports this module and never the other way round (as princeton-vl RAFT's ``CorrBlock`` and
``AlternateCorrBlock``); ``models.create_model`` builds it by default. The training losses are
:mod:`models.objective`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from models.objective import IFRNetObjective
from utils.padding import NETWORK_MULTIPLE
from utils.warp import resize, warp

__all__ = ["Width", "WIDTHS", "MODEL_NAMES", "IFRNet", "ResBlock", "Encoder", "Decoder", "Fields"]

# How far outside [0, 1] inference accepts image values (see IFRNet._check_values).
IMAGE_SLACK = 0.25


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
MODEL_NAMES = tuple(WIDTHS)  # the variants' names, for flags and messages


def conv_prelu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1) -> nn.Sequential:
    """Convolution followed by a per-channel PReLU; a Sequential so keys read ``.0`` and ``.1``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=True),
        nn.PReLU(out_channels),
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
        self.prelu = nn.PReLU(channels)

    def _refine_side(self, x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        return torch.cat([x[:, : -self.side], conv(x[:, -self.side :])], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self._refine_side(self.conv1(x), self.conv2)
        out = self._refine_side(self.conv3(out), self.conv4)
        return self.prelu(x + self.conv5(out))


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

    def levels(self) -> List[nn.Sequential]:
        """The four levels, finest first."""
        return [getattr(self, f"pyramid{level}") for level in range(1, 5)]

    def forward(self, image: torch.Tensor) -> List[torch.Tensor]:
        features = []
        x = image
        for level in self.levels():
            x = level(x)
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
        return self.convblock(x)


class Fields(NamedTuple):
    """What the network predicts for one target time; the frame is merged from these."""

    flow0: torch.Tensor  # flow t->0, (B, 2, H, W)
    flow1: torch.Tensor  # flow t->1
    mask: torch.Tensor  # merge weight of warped img0, (B, 1, H, W)
    residual: torch.Tensor  # RGB residual, (B, 3, H, W)


class _Decoded(NamedTuple):
    """Everything the decoders produce at the network's working resolution."""

    flows0: List[torch.Tensor]  # flow t->0 at levels 1..4 (index 0 = finest, full resolution)
    flows1: List[torch.Tensor]  # flow t->1, same layout
    features: List[torch.Tensor]  # predicted intermediate features at levels 1..3
    mask: torch.Tensor  # merge weight of warped img0, in (0, 1)
    residual: torch.Tensor  # RGB residual added after merging

    def fields(self) -> Fields:
        """The finest level's prediction, from which the frame is merged."""
        return Fields(self.flows0[0], self.flows1[0], self.mask, self.residual)


class IFRNet(nn.Module):
    """IFRNet of a given width; see :data:`WIDTHS` and :func:`models.build_model`.

    ``inference(img0, img1, embt, scale_factor)`` predicts the frame at time ``embt``;
    ``forward(img0, img1, embt, imgt, flow=None)`` is the training pass returning
    ``(pred, loss_rec, loss_geo, loss_dis)``. Images are (B, 3, H, W) in [0, 1]; ``embt`` is
    (B, 1, 1, 1) so one batch may hold different timesteps.

    This class computes the plain maths (the reference's computation, float32). Its sibling
    :class:`models.lean_inference.LeanIFRNet` has the same modules and checkpoint keys and replaces
    only :meth:`predict_fields`, the network pass of ``inference``: channels_last layout,
    activations in place, banded convolutions, optionally bfloat16/float16 convolutions (several
    times faster on CPU and a fraction of the memory). The two agree up to float rounding.
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
        self.objective = IFRNetObjective()  # no parameters: adds no checkpoint key

    @property
    def precision(self) -> torch.dtype:
        """The dtype ``inference``'s convolutions compute in: always float32 on this plain path."""
        return torch.float32

    @classmethod
    def sharing_weights(cls, model: "IFRNet", **options) -> "IFRNet":
        """A ``cls`` (this class or a sibling, with its ``options``) over ``model``'s own layers.

        No weight is copied, so the two stay one set of weights (moving or loading one moves or
        loads the other): how a caller holding one model runs the other inference path on it,
        e.g. training's evaluation runs the lean path on the plain model being trained, and the
        ONNX export traces the plain path of a lean model.
        """
        with torch.device("meta"):  # the layers built here are replaced at once: allocate nothing
            shared = cls(model.width, **options)
        for name, layer in model.named_children():
            setattr(shared, name, layer)
        shared.training = model.training  # only the new top module's flag: the shared layers keep theirs
        return shared

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
        return self.split_pyramid(pyramid, batch, len(images))

    def decode(self, feats0: Sequence[torch.Tensor], feats1: Sequence[torch.Tensor], embt: torch.Tensor) -> _Decoded:
        """Run decoders 4..1 coarse to fine on two feature pyramids; every level is kept."""
        f0_4, f1_4 = feats0[3], feats1[3]
        batch, _, height, width = f0_4.shape
        out = self.decoder4(torch.cat([f0_4, f1_4, embt.expand(batch, 1, height, width)], 1))
        flows0, flows1, features = [out[:, 0:2]], [out[:, 2:4]], [out[:, 4:]]
        for level in (3, 2, 1):
            flow0, flow1, feature = flows0[0], flows1[0], out[:, 4:]
            warped0 = warp(feats0[level - 1], flow0)
            warped1 = warp(feats1[level - 1], flow1)
            out = getattr(self, f"decoder{level}")(torch.cat([feature, warped0, warped1, flow0, flow1], 1))
            # Each level predicts a residual over the upsampled flow of the level below.
            flows0.insert(0, out[:, 0:2] + 2.0 * resize(flow0, 2.0))
            flows1.insert(0, out[:, 2:4] + 2.0 * resize(flow1, 2.0))
            if level > 1:
                features.insert(0, out[:, 4:])
        return _Decoded(flows0, flows1, features, torch.sigmoid(out[:, 4:5]), out[:, 5:])

    @staticmethod
    def merge(img0: torch.Tensor, img1: torch.Tensor, mean: torch.Tensor, fields: Fields) -> torch.Tensor:
        """Warp the centred inputs to time t, blend by the mask, add mean and residual, clamp."""
        flow0, flow1, mask, residual = fields
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
        *,
        return_fields: bool = False,
    ) -> Union[torch.Tensor, Tuple[torch.Tensor, Fields]]:
        """Interpolate the frame at time ``embt`` between ``img0`` (t=0) and ``img1`` (t=1).

        With ``scale_factor`` s != 1 the network runs on inputs resized by s and its flows, mask
        and residual are resized back, so large frames cost less while the full-resolution images
        are warped. The sides times s must be divisible by 16.

        Several timesteps of one pair: pass a single pair (batch 1) with ``embt`` of batch T; the
        pair is encoded once and T frames come back.

        ``return_fields=True`` returns ``(frame, fields)``: the :class:`Fields` the frame was merged
        from (flows t->0 and t->1 in pixels, merge mask, residual), at the inputs' resolution and
        one per timestep, for visualising what the network did. The default returns the frame only.
        """
        img0, img1, embt = self._check_inputs(img0, img1, embt, scale_factor, self._weights_dtype())
        self._check_values(img0, img1, embt)
        mean = self.joint_mean(img0, img1)
        fields = Fields(*self.predict_fields(*self._network_inputs(img0 - mean, img1 - mean, scale_factor), embt))
        if scale_factor != 1.0:  # back to the inputs' resolution; flows scale with it
            inverse = 1.0 / scale_factor
            flow0, flow1, mask, residual = fields
            fields = Fields(resize(flow0, inverse) * inverse, resize(flow1, inverse) * inverse,
                            resize(mask, inverse), resize(residual, inverse))
        steps = embt.shape[0]
        if steps != img0.shape[0]:  # one pair, several timesteps
            img0, img1 = img0.expand(steps, -1, -1, -1), img1.expand(steps, -1, -1, -1)
            mean = mean.expand(steps, -1, -1, -1)
        # The centred images are recomputed here rather than kept through the network's peak.
        frame = self.merge(img0 - mean, img1 - mean, mean, fields)
        return (frame, fields) if return_fields else frame

    def predict_fields(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> Fields:
        """The coarse-to-fine pass on centred inputs at the network's resolution: what ``inference``
        runs, and all that :class:`~models.lean_inference.LeanIFRNet` computes differently."""
        feats0, feats1 = self.encode(img0, img1)
        feats0, feats1 = self.share_pair(feats0, embt.shape[0]), self.share_pair(feats1, embt.shape[0])
        return self.decode(feats0, feats1, embt).fields()

    def forward(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        embt: torch.Tensor,
        imgt: torch.Tensor,
        flow: Optional[torch.Tensor] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: prediction and the three loss terms of :class:`models.objective.IFRNetObjective`.

        ``flow`` holds pseudo labels (B, 4, H, W): flow t->0 then t->1. Without it the
        distillation term is 0. The ground-truth frame is encoded with the inputs (one batched
        pass) to supervise the decoders' intermediate features.
        """
        img0, img1, embt = self._check_inputs(img0, img1, embt, 1.0, self._weights_dtype())
        if imgt.shape != img0.shape:
            raise ValueError(f"imgt must have the inputs' shape {tuple(img0.shape)}, got {tuple(imgt.shape)}")
        if embt.shape[0] != img0.shape[0]:
            raise ValueError(f"embt must hold one timestep per sample ({img0.shape[0]}), got {embt.shape[0]}")
        mean = self.joint_mean(img0, img1)
        img0, img1, imgt_centred = img0 - mean, img1 - mean, imgt - mean
        feats0, feats1, featst = self.encode(img0, img1, imgt_centred)
        out = self.decode(feats0, feats1, embt)
        pred = self.merge(img0, img1, mean, out.fields())
        losses = self.objective(pred, imgt, out.features, featst, out.flows0, out.flows1, flow)
        return (pred, *losses)

    # ----------------------------------------------------------------------------------------

    @staticmethod
    def split_pyramid(pyramid: Sequence[torch.Tensor], batch: int, count: int) -> List[List[torch.Tensor]]:
        """Split the pyramid of ``count`` concatenated batches of ``batch`` into one pyramid each."""
        return [[level[i * batch : (i + 1) * batch] for level in pyramid] for i in range(count)]

    @staticmethod
    def share_pair(features: List[torch.Tensor], steps: int) -> List[torch.Tensor]:
        """One pair, several timesteps: view the pair's features once per timestep (no copy)."""
        if steps == features[0].shape[0]:
            return features
        return [f.expand(steps, -1, -1, -1) for f in features]

    def _weights_dtype(self) -> torch.dtype:
        """The dtype of the model's weights, which its inputs must have (float32 as built; a lean
        model's reduced precision lives in cast copies, these stay float32)."""
        return next(self.encoder.parameters()).dtype

    @staticmethod
    def _network_inputs(
        img0: torch.Tensor, img1: torch.Tensor, scale_factor: float
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        if scale_factor != 1.0:
            return resize(img0, scale_factor), resize(img1, scale_factor)
        return img0, img1

    @staticmethod
    def _check_values(img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> None:
        """Refuse what runs but gives nonsense: images on the 0-255 scale (a white frame), integer
        images, NaN anywhere, a timestep outside [0, 1]. One min/max pass per tensor and a single
        device sync; skipped while tracing (ONNX export), where the values are placeholders.

        The images may stray ``IMAGE_SLACK`` outside [0, 1]: bicubic or Lanczos resizing overshoots
        a hard edge by up to about 10%, and such frames are fine to interpolate; an image on the
        0-255 scale with any pixel above 1 grey level is far outside.
        """
        if torch.jit.is_tracing():
            return
        bounds = torch.stack([value.float() for tensor in (img0, img1, embt) for value in torch.aminmax(tensor)])
        low0, high0, low1, high1, low_t, high_t = bounds.tolist()
        for name, low, high in (("img0", low0, high0), ("img1", low1, high1)):
            if not -IMAGE_SLACK <= low <= high <= 1 + IMAGE_SLACK:  # NaN fails every comparison
                raise ValueError(f"{name} must hold values in [0, 1], got [{low:g}, {high:g}]"
                                 f"{' (images on the 0-255 scale: divide by 255)' if high > 1 + IMAGE_SLACK else ''}")
        if not 0.0 <= low_t <= high_t <= 1.0:
            raise ValueError(f"embt must hold timesteps in [0, 1], got [{low_t:g}, {high_t:g}]")

    @staticmethod
    def _check_inputs(
        img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor | float, scale_factor: float, dtype: torch.dtype
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Validate shapes and dtypes early (no pass over the values), so a bad call fails with a
        sentence, not a deep cat or convolution error. ``dtype`` is the weights' dtype."""
        if img0.dim() != 4 or img0.shape[1] != 3:
            raise ValueError(f"img0 must be (B, 3, H, W), got {tuple(img0.shape)}")
        if img1.shape != img0.shape:
            raise ValueError(f"img1 must have img0's shape {tuple(img0.shape)}, got {tuple(img1.shape)}")
        if not torch.is_tensor(embt):
            embt = torch.full((img0.shape[0], 1, 1, 1), float(embt), dtype=img0.dtype, device=img0.device)
        if embt.dim() != 4 or embt.shape[1:] != (1, 1, 1):
            raise ValueError(f"embt must be (B, 1, 1, 1), got {tuple(embt.shape)}")
        for name, tensor in (("img0", img0), ("img1", img1), ("embt", embt)):
            if not tensor.is_floating_point():
                hint = " (uint8 images: x.float() / 255)" if name != "embt" else ""
                raise ValueError(f"{name} must be a floating-point tensor, got {tensor.dtype}{hint}")
            if tensor.dtype != dtype:
                raise ValueError(f"{name} must be {dtype}, the dtype of the model's weights, got {tensor.dtype} "
                                 f"(convert with .to({dtype}))")
        if img0.shape[0] == 0 or embt.shape[0] == 0:
            raise ValueError(f"img0 and embt must hold at least one pair and one timestep, got batches of "
                             f"{img0.shape[0]} and {embt.shape[0]}")
        if embt.shape[0] != img0.shape[0] and img0.shape[0] != 1:
            raise ValueError(
                f"embt holds {embt.shape[0]} timesteps for {img0.shape[0]} image pairs: give one per "
                "pair, or a single pair with several timesteps"
            )
        if not scale_factor > 0:
            raise ValueError(f"scale_factor must be positive, got {scale_factor}")
        height, width = (int(side * scale_factor) for side in img0.shape[2:])
        if height % NETWORK_MULTIPLE or width % NETWORK_MULTIPLE or height == 0 or width == 0:
            raise ValueError(
                f"image sides times scale_factor must be positive multiples of {NETWORK_MULTIPLE}, got "
                f"{tuple(img0.shape[2:])} x {scale_factor} -> ({height}, {width}); pad the inputs "
                "(utils.padding.InputPadder)"
            )
        return img0, img1, embt

