"""Padding frames to sizes the network accepts, and cropping results back.

IFRNet downsamples by a factor of 16 in its encoder, so inputs must have sides
divisible by 16.  :class:`InputPadder` records how a frame was padded so the
output can be cropped back to exactly the original pixels.  Two placements
are offered: ``'center'`` (padding split around the image) and
``'bottom_right'`` (all padding at the bottom and right), the latter being the
protocol used for the Middlebury evaluation.
"""
from __future__ import annotations

import operator
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

from utils.errors import InputError

__all__ = ["InputPadder", "NETWORK_MULTIPLE", "pad_multiple_for_scale"]

# IFRNet's encoder halves the resolution four times, so the sides the network sees must be
# multiples of 16. This is the one home of that rule.
NETWORK_MULTIPLE = 16

_MODES = ("replicate", "constant", "zero")
_ANCHORS = ("center", "bottom_right")


def pad_multiple_for_scale(scale_factor: float) -> int:
    """Smallest padding multiple M such that M * scale_factor is a multiple of 16 (0.8 -> 20)."""
    multiple = NETWORK_MULTIPLE / scale_factor if scale_factor > 0 else 0.5
    if scale_factor <= 0 or scale_factor > 1 or abs(multiple - round(multiple)) > 1e-6:
        raise InputError(
            f"scale_factor must be in (0, 1] and divide 16 into a whole number (1, 0.8, 0.5, 0.25 ...), got {scale_factor}"
        )
    return int(round(multiple))


def _positive_int(value: object, name: str) -> int:
    """Return ``value`` as an int if it is a positive integer, else raise ValueError.

    Integer-like values (numpy ints, 0-d int tensors) are accepted so shapes taken
    from arrays work; bools and floats are not, since they signal a mistake.
    """
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if isinstance(value, bool) or number is None or number <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return number


def _split(total: int, anchor: str) -> Tuple[int, int]:
    """Split ``total`` padding pixels into (before, after) according to ``anchor``."""
    if anchor == "bottom_right":
        return 0, total
    before = total // 2
    return before, total - before  # the odd pixel goes after (bottom/right)


class InputPadder:
    """Pads tensors of one spatial size to a target size and crops them back.

    ``shape`` is the shape of the tensors to be padded, ``(..., H, W)``; only the
    last two entries are used.  ``mode`` is ``'replicate'`` (repeat edge pixels,
    which avoids feeding the network artificial black borders), ``'constant'``
    (fill with ``value``) or ``'zero'`` (constant 0).
    """

    def __init__(
        self,
        shape: Sequence[int],
        multiple: int = NETWORK_MULTIPLE,
        mode: str = "replicate",
        anchor: str = "center",
        value: float = 0.0,
    ) -> None:
        height, width = self._spatial(shape)
        multiple = _positive_int(multiple, "multiple")
        target_h = height + (-height) % multiple
        target_w = width + (-width) % multiple
        self._configure(height, width, target_h, target_w, mode, anchor, value)
        self.multiple: Optional[int] = multiple

    @classmethod
    def to_size(
        cls,
        shape: Sequence[int],
        height: int,
        width: int,
        mode: str = "replicate",
        anchor: str = "center",
        value: float = 0.0,
    ) -> "InputPadder":
        """Padder to an exact ``height`` x ``width``, e.g. to batch frames of different sizes.

        Raises ValueError if the target is smaller than the input in either dimension,
        since padding cannot shrink an image.
        """
        in_h, in_w = cls._spatial(shape)
        height = _positive_int(height, "height")
        width = _positive_int(width, "width")
        if height < in_h or width < in_w:
            raise ValueError(
                f"target size must be at least the input size {in_h}x{in_w}, got {height}x{width}"
            )
        padder = cls.__new__(cls)
        padder._configure(in_h, in_w, height, width, mode, anchor, value)
        padder.multiple = None
        return padder

    @staticmethod
    def _spatial(shape: Sequence[int]) -> Tuple[int, int]:
        """Extract and validate (H, W) from a tensor shape."""
        dims = tuple(shape)
        if len(dims) < 2:
            raise ValueError(f"shape must end with (H, W), got {dims}")
        height = _positive_int(dims[-2], "height in shape")
        width = _positive_int(dims[-1], "width in shape")
        return height, width

    def _configure(
        self,
        height: int,
        width: int,
        target_h: int,
        target_w: int,
        mode: str,
        anchor: str,
        value: float,
    ) -> None:
        """Validate options and compute the pads shared by both constructors."""
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if anchor not in _ANCHORS:
            raise ValueError(f"anchor must be one of {_ANCHORS}, got {anchor!r}")
        if mode == "zero" and value != 0:
            raise ValueError(f"mode 'zero' pads with 0; use mode 'constant' for value {value!r}")
        top, bottom = _split(target_h - height, anchor)
        left, right = _split(target_w - width, anchor)
        self._shape = (height, width)
        self._padded_shape = (target_h, target_w)
        self._pads = (left, right, top, bottom)
        self.mode = mode
        self.anchor = anchor
        self.value = float(value)

    @property
    def original_shape(self) -> Tuple[int, int]:
        """(H, W) of the tensors before padding."""
        return self._shape

    @property
    def padded_shape(self) -> Tuple[int, int]:
        """(H, W) of the tensors after padding."""
        return self._padded_shape

    @property
    def pads(self) -> Tuple[int, int, int, int]:
        """(left, right, top, bottom), the order ``torch.nn.functional.pad`` expects."""
        return self._pads

    def _pad_one(self, tensor: torch.Tensor) -> torch.Tensor:
        if not isinstance(tensor, torch.Tensor) or tensor.dim() not in (3, 4):
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise ValueError(f"pad expects 3-D (C, H, W) or 4-D (N, C, H, W) tensors, got {got}")
        if tuple(tensor.shape[-2:]) != self._shape:
            raise ValueError(
                f"pad expects tensors of spatial size {self._shape[0]}x{self._shape[1]}, "
                f"got {tuple(tensor.shape)}"
            )
        if not any(self._pads):
            return tensor
        if self.mode == "replicate":
            return F.pad(tensor, self._pads, mode="replicate")
        return F.pad(tensor, self._pads, mode="constant", value=self.value)

    def pad(self, *tensors: torch.Tensor) -> Union[torch.Tensor, List[torch.Tensor]]:
        """Pad each tensor; returns one tensor if one was given, else a list.

        When no padding is needed the inputs are returned as they are (not copied).
        """
        if not tensors:
            raise ValueError("pad expects at least one tensor, got none")
        padded = [self._pad_one(tensor) for tensor in tensors]
        return padded[0] if len(padded) == 1 else padded

    def unpad(self, tensor: torch.Tensor) -> torch.Tensor:
        """Crop a padded-size tensor ``(..., H_pad, W_pad)`` back to the original H, W.

        Works on any tensor with the padded spatial size, e.g. predicted flows with
        a different channel count than the inputs.
        """
        if not isinstance(tensor, torch.Tensor) or tensor.dim() < 2:
            raise ValueError(f"unpad expects a tensor ending in (H, W), got {tensor!r:.80}")
        if tuple(tensor.shape[-2:]) != self._padded_shape:
            raise ValueError(
                f"unpad expects spatial size {self._padded_shape[0]}x{self._padded_shape[1]}, "
                f"got {tuple(tensor.shape)}"
            )
        left, _, top, _ = self._pads
        height, width = self._shape
        return tensor[..., top : top + height, left : left + width]

    def __repr__(self) -> str:
        return (
            f"InputPadder(shape={self._shape}, padded_shape={self._padded_shape}, "
            f"pads={self._pads}, mode={self.mode!r}, anchor={self.anchor!r})"
        )
