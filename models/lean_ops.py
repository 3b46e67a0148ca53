"""Memory-lean inference operations: the same values as the plain layers, computed in place.

Full-resolution inference is dominated by a few tensors of ~100 channels at half the frame size
(0.8 GB each at 4K). The plain layers hold an input and an output of that size at every step, a
ResBlock three. Inside :func:`lean_mode` (entered by ``IFRNet.inference`` when no gradient is
recorded) activations overwrite their input and channel-preserving 3x3 convolutions are computed
band by band over their own input, so a ResBlock holds two such tensors and never three.
Outside it every layer is the ordinary PyTorch one, which training and export rely on.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["lean_mode", "is_lean", "prelu_", "conv3x3_", "run_layers"]

_LEAN: ContextVar[bool] = ContextVar("ifrnet_lean_inference", default=False)

# Elements per band: large enough for efficient convolutions, small enough that the band's
# temporaries (a copy of its input and its output) stay in the tens of megabytes.
BAND_ELEMENTS = 1 << 22


@contextmanager
def lean_mode(enabled: bool = True) -> Iterator[None]:
    """Within this block, layers that support it compute in place (no autograd may be recording)."""
    if enabled and torch.is_grad_enabled():
        raise RuntimeError("lean_mode overwrites activations; use it under torch.no_grad() or inference_mode()")
    token = _LEAN.set(enabled)
    try:
        yield
    finally:
        _LEAN.reset(token)


def is_lean() -> bool:
    return _LEAN.get()


def band_elements(device_type: str, free_bytes: Optional[int], element_size: int) -> int:
    """Elements per band on a device: BAND_ELEMENTS on a CPU; on a GPU, bands as large as memory allows.

    A GPU pays a kernel launch per band and runs small convolutions far below its peak (1080p,
    batch 8: about 100 bands per layer at BAND_ELEMENTS), so there a band may take a quarter of
    the free memory (the band's input copy and output fit twice over), and usually a whole layer
    is one band. Never below BAND_ELEMENTS.
    """
    if device_type != "cuda" or free_bytes is None:
        return BAND_ELEMENTS
    return max(BAND_ELEMENTS, free_bytes // (4 * element_size))


def _band_rows(x: torch.Tensor) -> int:
    free = torch.cuda.mem_get_info(x.device)[0] if x.is_cuda else None
    return max(1, band_elements(x.device.type, free, x.element_size()) // max(1, x[:, :, :1].numel()))


def prelu_(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """PReLU written over ``x`` band by band (PReLU is exact, so the values equal F.prelu's)."""
    for band in x.split(_band_rows(x), dim=2):
        band.copy_(F.prelu(band, weight))
    return x


def conv3x3_(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """``conv(x)`` written over ``x``, for a 3x3, stride-1, padding-1 conv with as many outputs as inputs.

    Rows are processed top to bottom in bands; each band reads its rows plus one halo row on
    each side, and since writing a band destroys the row the next band needs above it, that row
    is saved first. Only band-sized temporaries are allocated. ``x`` may be a view (a channel
    slice), which is how the ResBlock's side channels are updated.
    """
    if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) or conv.groups != 1:
        raise ValueError("conv3x3_ needs a 3x3 convolution with stride 1 and padding 1")
    if conv.in_channels != conv.out_channels or x.shape[1] != conv.in_channels:
        raise ValueError(f"conv3x3_ needs {conv.in_channels} == out channels == input channels, got {x.shape[1]}")
    height = x.shape[2]
    rows = _band_rows(x)
    if rows >= height:
        return x.copy_(conv(x))
    above = None  # the original row just above the current band (already overwritten in x)
    for start in range(0, height, rows):
        stop = min(start + rows, height)
        below = min(stop + 1, height)
        parts = ([above] if above is not None else []) + [x[:, :, start:below]]
        band = torch.cat(parts, 2) if len(parts) > 1 else parts[0]
        pad_top = 1 if start == 0 else 0
        pad_bottom = 1 if below == stop else 0
        band = F.pad(band, (1, 1, pad_top, pad_bottom))
        out = F.conv2d(band, conv.weight, conv.bias)
        above = x[:, :, stop - 1 : stop].clone()
        x[:, :, start:stop].copy_(out)
    return x


def run_layers(block: nn.Sequential, inputs: List[torch.Tensor]) -> torch.Tensor:
    """Apply a Sequential's layers in turn to the tensor taken out of the one-element ``inputs``.

    Calling the Sequential, or passing the tensor itself, would keep the input referenced (by the
    call or by the caller's variable) until the whole block returns; taking it out of a list the
    caller hands over releases each intermediate as soon as the next layer has consumed it.
    """
    x = inputs.pop()
    for layer in block:
        x = layer(x)
    return x
