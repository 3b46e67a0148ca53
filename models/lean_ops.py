"""In-place operations of the memory-lean inference: the same values as the plain layers.

Used by :mod:`models.lean_inference`: activations overwrite their input and channel-preserving
3x3 convolutions are computed band by band over their own input, so only band-sized temporaries
are allocated. Neither may run while autograd records (it needs the overwritten inputs).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["prelu_", "conv3x3_", "BAND_ELEMENTS", "band_elements"]

# Elements per band (of float32; a 2-byte dtype gets twice as many, the same bytes): large enough
# for efficient convolutions, small enough that the band's temporaries (a copy of its input and
# its output) stay in the tens of megabytes.
BAND_ELEMENTS = 1 << 22
# Elements per band of an elementwise pass (a PReLU, a residual sum, a band written back): 1 MB of
# float32, so each band's temporary is still in the core's cache when it is copied into place.
# On a 2-core EPYC a 1080p PReLU ran in half the time of one in BAND_ELEMENTS bands.
ELEMENTWISE_BAND_ELEMENTS = 1 << 18


def band_elements(device_type: str, free_bytes: Optional[int], element_size: int) -> int:
    """Elements per band on a device: on a CPU, the bytes of BAND_ELEMENTS float32s (so bfloat16 bands
    hold twice the elements, which ran 20% faster than equal-element bands); on a GPU, bands as
    large as memory allows.

    A GPU pays a kernel launch per band and runs small convolutions far below its peak (1080p,
    batch 8: about 100 bands per layer at BAND_ELEMENTS), so there a band may take a quarter of
    the free memory (the band's input copy and output fit twice over), and usually a whole layer
    is one band. Never below BAND_ELEMENTS.
    """
    if device_type != "cuda":
        return BAND_ELEMENTS * 4 // max(1, min(element_size, 4))
    if free_bytes is None:
        return BAND_ELEMENTS
    return max(BAND_ELEMENTS, free_bytes // (4 * element_size))


def _band_rows(x: torch.Tensor) -> int:
    free = torch.cuda.mem_get_info(x.device)[0] if x.is_cuda else None
    return _rows_of(x, band_elements(x.device.type, free, x.element_size()))


def _rows_of(x: torch.Tensor, elements: int) -> int:
    return max(1, elements // max(1, x[:, :, :1].numel()))


def _elementwise_rows(x: torch.Tensor) -> int:
    """Rows per elementwise band: cache-sized on a CPU; on a GPU, where each band costs a kernel
    launch and there is no such cache to stay in, the convolution's bands."""
    return _band_rows(x) if x.is_cuda else _rows_of(x, ELEMENTWISE_BAND_ELEMENTS)


def prelu_(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """PReLU written over ``x`` band by band (PReLU is exact, so the values equal F.prelu's)."""
    _write_back(x, x, prelu=weight)
    return x


def _write_back(
    target: torch.Tensor, result: torch.Tensor, residual: Optional[torch.Tensor] = None, *,
    prelu: Optional[torch.Tensor] = None,
) -> None:
    """``target = prelu(result + residual)`` (each part if given), in cache-sized bands of rows;
    ``result`` may be ``target`` itself."""
    rows = _elementwise_rows(result)
    for start in range(0, result.shape[2], rows):
        band = result[:, :, start : start + rows]
        if residual is not None:
            band += residual[:, :, start : start + rows]
        target[:, :, start : start + rows].copy_(band if prelu is None else F.prelu(band, prelu))


def conv3x3_(
    conv: nn.Conv2d, x: torch.Tensor, *, residual: Optional[torch.Tensor] = None, prelu: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """``conv(x)`` written over ``x``, for a 3x3, stride-1, padding-1 conv with as many outputs as inputs;
    then ``+ residual`` and a PReLU of slopes ``prelu`` if given, applied as each band is written
    back (the ResBlock's ``prelu(x + conv5(out))`` and its conv+PReLU stages, with no extra pass).

    Rows are processed top to bottom in bands. A band's convolution reads the original rows of
    the band plus one halo row on each side, straight from ``x`` (a view: the frame's top and
    bottom edges are the convolution's own zero padding, no padded copy is made). Since writing a
    band back destroys the row the next band reads above it, each band's result is held until
    the next band has been computed, then written: only band-sized temporaries are allocated.
    ``x`` may be a view (a channel slice), which is how the ResBlock's side channels are updated.
    """
    if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) or conv.groups != 1:
        raise ValueError("conv3x3_ needs a 3x3 convolution with stride 1 and padding 1")
    if conv.in_channels != conv.out_channels or x.shape[1] != conv.in_channels:
        raise ValueError(f"conv3x3_ needs {conv.in_channels} == out channels == input channels, got {x.shape[1]}")
    height = x.shape[2]
    rows = _band_rows(x)
    pending = None  # (rows of x, result, rows of residual) of the band computed last, not yet written back
    for start in range(0, height, rows):
        stop = min(start + rows, height)
        result = _band_conv(conv, x, start, stop)
        if pending is not None:
            _write_back(*pending, prelu=prelu)
        pending = (x[:, :, start:stop], result, None if residual is None else residual[:, :, start:stop])
    if pending is not None:
        _write_back(*pending, prelu=prelu)
    return x


def _band_conv(conv: nn.Conv2d, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Output rows [start, stop) of the 3x3 ``conv`` over ``x``, read from rows start-1 .. stop.

    Inside the frame the halo rows are real rows and only the sides are padded; at the top or
    bottom edge the convolution pads that side with zeros too and the one row it computes beyond
    the band (from the halo on the other side) is dropped.
    """
    height = x.shape[2]
    low, high = max(start - 1, 0), min(stop + 1, height)
    at_edge = start == 0 or stop == height
    out = F.conv2d(x[:, :, low:high], conv.weight, conv.bias, padding=(1, 1) if at_edge else (0, 1))
    if not at_edge:
        return out
    first = start - low  # 1 when the band has a real row above it, else 0
    return out[:, :, first : first + stop - start]
