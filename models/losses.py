"""IFRNet's training losses, usable on their own.

* :class:`CharbonnierLoss` and :class:`CensusLoss` make the reconstruction loss.
* :class:`GeometryConsistencyLoss` compares the decoders' intermediate features with the encoder
  features of the ground-truth frame (the same census idea per feature channel).
* :class:`AdaptiveCharbonnierLoss` with :func:`robust_flow_weight` is the task-oriented flow
  distillation: pixels where the pseudo label disagrees with the network's own final flow get a
  more robust (lower power) penalty.

Every loss is a mean over every element, as in the reference release, so values match it.
Every loss computes in float32 and returns float32, also on float16/bfloat16 inputs under
autocast: the means run over millions of terms (float16 overflows at 65504) and the epsilons
(1e-6, 1e-3) are below float16's resolution near the values they are added to.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable

__all__ = [
    "CharbonnierLoss",
    "CensusLoss",
    "GeometryConsistencyLoss",
    "AdaptiveCharbonnierLoss",
    "robust_flow_weight",
    "census_distance",
    "census_chunk_elements",
]


# Number of (map, pixel) elements processed per chunk in the fused census distance on a CPU: small
# enough for the working set of one offset to stay in a core's L2 cache.
_CPU_CHUNK_ELEMENTS = 1 << 16


def census_chunk_elements(device_type: str) -> Optional[int]:
    """How many (map, pixel) elements the fused census distance takes at a time on ``device_type``.

    On a CPU, cache-sized chunks (each op is cheap to start, memory traffic is the cost). On a GPU
    each op is a kernel launch of several microseconds, and cache-sized chunks would mean tens of
    thousands of launches per training step (far above the network's own compute): there the
    whole stack is one chunk (None), so the work is one pass per neighbour offset.
    """
    return _CPU_CHUNK_ELEMENTS if device_type == "cpu" else None


def _at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """``t`` in float32 if it is a narrower float (float16, bfloat16); unchanged otherwise (no copy)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def _soft_sign(d: torch.Tensor) -> torch.Tensor:
    return d * torch.rsqrt(d * d + 0.81)


class _CensusDistance(torch.autograd.Function):
    """Masked mean robust distance between the soft census transforms of two stacks of maps.

    Equal to building both (N, K, H, W) transforms with zero padding, taking
    e^2 / (0.1 + e^2) of their difference, averaging over the K neighbours and over all pixels
    with a ``radius``-pixel border masked out, as the reference does. It is fused because that
    explicit form spends most of a training step on element-wise passes over K-times-larger
    tensors: only interior pixels are visited (their neighbours never leave the image, so no
    padding is needed), one neighbour offset and one cache-sized chunk of maps at a time, and the
    backward pass is the closed-form derivative instead of a recorded graph of a dozen operations.

    Inputs must be float32 or wider (:func:`census_distance` casts them): the sum runs over millions of
    terms, which overflows float16 and loses percents in bfloat16, whatever autocast is active.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, y: torch.Tensor, radius: int, chunk_elements: Optional[int]) -> torch.Tensor:
        ctx.save_for_backward(x, y)
        ctx.radius = radius
        ctx.chunk_elements = chunk_elements
        total = x.new_zeros(())
        for xs, ys in _chunks(x, y, chunk_elements):
            for shifted_x, centre_x, shifted_y, centre_y in _offsets(xs, ys, radius):
                e = _soft_sign(shifted_x - centre_x) - _soft_sign(shifted_y - centre_y)
                e2 = e * e
                total += (e2 / (e2 + 0.1)).sum()
        return total / (x.numel() * (2 * radius + 1) ** 2)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        x, y = ctx.saved_tensors
        radius = ctx.radius
        need_x, need_y = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        scale = grad_output / (x.numel() * (2 * radius + 1) ** 2)
        grad_x = torch.zeros_like(x) if need_x else None
        grad_y = torch.zeros_like(y) if need_y else None
        chunks = ctx.chunk_elements
        for (xs, ys), (gx, gy) in zip(_chunks(x, y, chunks), _chunks(grad_x, grad_y, chunks)):
            for (sx, cx, sy, cy), (gsx, gcx, gsy, gcy) in zip(_offsets(xs, ys, radius), _offsets(gx, gy, radius)):
                dx, dy = sx - cx, sy - cy
                qx, qy = torch.rsqrt(dx * dx + 0.81), torch.rsqrt(dy * dy + 0.81)
                e = dx * qx - dy * qy
                denominator = e * e + 0.1
                # d/de [e^2 / (0.1 + e^2)] = 0.2 e / (0.1 + e^2)^2; d/dd [d / sqrt(0.81 + d^2)] = 0.81 q^3
                g = e.mul_(scale * 0.2 * 0.81).div_(denominator.mul_(denominator))
                if need_x:
                    gd = g * (qx * qx * qx)
                    gsx += gd
                    gcx -= gd
                if need_y:
                    gd = g * (qy * qy * qy)
                    gsy -= gd
                    gcy += gd
        return grad_x, grad_y, None, None


def _chunks(x: Optional[torch.Tensor], y: Optional[torch.Tensor], chunk_elements: Optional[int]):
    """Pairs of views of (N, 1, H, W) tensors split along N into chunks of about ``chunk_elements``.

    ``chunk_elements`` None: one chunk holding everything.
    """
    reference = x if x is not None else y
    n, _, height, width = reference.shape
    step = n if chunk_elements is None else max(1, chunk_elements // (height * width))
    for start in range(0, n, step):
        yield (
            x[start : start + step] if x is not None else None,
            y[start : start + step] if y is not None else None,
        )


def _offsets(x: Optional[torch.Tensor], y: Optional[torch.Tensor], radius: int):
    """For each neighbour offset: (neighbour view, centre view) of the interior pixels of x and y.

    Views, not copies, so the backward pass can accumulate into them in place.
    """
    reference = x if x is not None else y
    height, width = reference.shape[-2:]
    inner_h, inner_w = height - 2 * radius, width - 2 * radius
    centre = (slice(None), slice(None), slice(radius, radius + inner_h), slice(radius, radius + inner_w))

    def view(t, oy, ox):
        return None if t is None else t[:, :, oy : oy + inner_h, ox : ox + inner_w]

    for oy in range(2 * radius + 1):
        for ox in range(2 * radius + 1):
            yield (
                view(x, oy, ox),
                None if x is None else x[centre],
                view(y, oy, ox),
                None if y is None else y[centre],
            )


def census_distance(
    x: torch.Tensor, y: torch.Tensor, patch_size: int, per_channel: bool, *, device_type: Optional[str] = None
) -> torch.Tensor:
    """The census loss between ``x`` and ``y`` (see :class:`_CensusDistance`); grey or per channel.

    Computed in float32 at least whatever the inputs' dtype (float16/bfloat16 features under
    autocast), and returned so. ``device_type`` picks the chunking (:func:`census_chunk_elements`);
    None means the inputs' device; passing "cuda" on a CPU runs the GPU's op sequence there.
    """
    if x.shape != y.shape:
        raise ValueError(f"census inputs must share a shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    batch, channels, height, width = x.shape
    x, y = _at_least_float32(x), _at_least_float32(y)  # no-op for float32: results unchanged to the bit
    if per_channel:
        x, y = x.reshape(batch * channels, 1, height, width), y.reshape(batch * channels, 1, height, width)
    else:
        x, y = x.mean(dim=1, keepdim=True), y.mean(dim=1, keepdim=True)
    radius = patch_size // 2
    if height <= 2 * radius or width <= 2 * radius:
        raise ValueError(f"census with patch {patch_size} needs sides above {2 * radius}, got {height}x{width}")
    chunk_elements = census_chunk_elements(device_type or x.device.type)
    return _CensusDistance.apply(x.contiguous(), y.contiguous(), radius, chunk_elements)


class CharbonnierLoss(nn.Module):
    """Charbonnier penalty sqrt(d^2 + 1e-6): a differentiable L1."""

    def __init__(self, *, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, diff: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        penalty = (_at_least_float32(diff) ** 2 + self.eps) ** 0.5  # float32 under autocast too: eps is below float16's step
        if mask is None:
            return penalty.mean()
        mask = _at_least_float32(mask)
        return (penalty * mask).mean() / (mask.mean() + 1e-9)


class CensusLoss(nn.Module):
    """Census (ternary) loss between a prediction and its target on grey 7x7 neighbourhoods.

    The target's transform is detached, as in the reference: only the prediction is pulled.
    ``chunk_device`` picks the work's chunking by device kind (None: the inputs' device; see
    :func:`census_chunk_elements`); the value is the same either way.
    """

    def __init__(self, *, patch_size: int = 7, chunk_device: Optional[str] = None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.chunk_device = chunk_device

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return census_distance(pred, target.detach(), self.patch_size, per_channel=False, device_type=self.chunk_device)


class GeometryConsistencyLoss(nn.Module):
    """Per-channel census loss between predicted intermediate features and the GT frame's features.

    Unlike :class:`CensusLoss` neither side is detached: the reference lets gradients reach the
    encoder through the ground-truth features too. ``chunk_device`` as for :class:`CensusLoss`.
    """

    def __init__(self, *, patch_size: int = 3, chunk_device: Optional[str] = None) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.chunk_device = chunk_device

    def forward(self, feat_pred: torch.Tensor, feat_target: torch.Tensor) -> torch.Tensor:
        return census_distance(feat_pred, feat_target, self.patch_size, per_channel=True, device_type=self.chunk_device)


def robust_flow_weight(flow_pred: torch.Tensor, flow_label: torch.Tensor, beta: float = 0.3) -> torch.Tensor:
    """Per-pixel trust in a pseudo flow label: exp(-beta * EPE(prediction, label)), (B, 1, H, W).

    The prediction is detached: the weight steers the distillation, it is not itself trained.
    """
    epe = ((_at_least_float32(flow_pred.detach()) - _at_least_float32(flow_label)) ** 2).sum(dim=1, keepdim=True) ** 0.5
    return torch.exp(-beta * epe)


class AdaptiveCharbonnierLoss(nn.Module):
    """Generalised Charbonnier ((d^2 + eps^2) ^ (w / 2)).mean() with eps = 10^(-(10 w - 1) / 3).

    ``weight`` near 1 (label agrees) gives a near-L1 penalty with a small eps; near 0 (label
    disagrees) the power and the gradient vanish, so a wrong pseudo label cannot mislead.
    """

    def forward(self, diff: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        diff, weight = _at_least_float32(diff), _at_least_float32(weight)  # float32 whatever the autocast (eps reaches 1e-3)
        alpha = weight / 2
        epsilon = 10 ** (-(10 * weight - 1) / 3)
        return ((diff**2 + epsilon**2) ** alpha).mean()
