"""How a benchmark prepares its frames for the network: crop, pad, scale, and which metrics it reports.

Every published IFRNet evaluation differs from the others only in these few choices (SNU-FILM pads
by edge replication to a multiple of 20 and runs at scale 0.8; Middlebury zero-pads the bottom and
right to 480x640 and adds the interpolation error; GoPro scores a 512x512 centre crop). Describing
them as data keeps one evaluation loop for all benchmarks, so a fix to the loop fixes them all.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from utils.errors import InputError
from utils.padding import NETWORK_MULTIPLE, InputPadder, centre_offsets

__all__ = ["Protocol"]


@dataclass(frozen=True)
class Protocol:
    """The preparation of one benchmark's frames.

    ``center_crop``: (H, W) cut from the middle of every frame (inputs and targets) before anything
    else, as the authors' GoPro evaluation does. Then the two input frames are padded either to a
    multiple of ``pad_multiple`` or to exactly ``pad_to`` (H, W), with ``pad_mode`` ('replicate' or
    'zero') placed by ``pad_anchor`` ('center' or 'bottom_right'); the network runs at
    ``scale_factor`` and its prediction is cropped back. ``with_ie`` adds Middlebury's IE.
    """

    pad_multiple: Optional[int] = NETWORK_MULTIPLE
    pad_to: Optional[Tuple[int, int]] = None
    pad_mode: str = "replicate"
    pad_anchor: str = "center"
    scale_factor: float = 1.0
    center_crop: Optional[Tuple[int, int]] = None
    with_ie: bool = False

    def __post_init__(self) -> None:
        if (self.pad_multiple is None) == (self.pad_to is None):
            raise ValueError("a Protocol pads either to a multiple (pad_multiple) or to a size (pad_to), not both")
        if self.pad_multiple is not None and (self.pad_multiple * self.scale_factor) % NETWORK_MULTIPLE:
            raise ValueError(f"pad_multiple * scale_factor must be a multiple of {NETWORK_MULTIPLE}")
        if self.pad_to is not None and any((side * self.scale_factor) % NETWORK_MULTIPLE for side in self.pad_to):
            raise ValueError(f"pad_to * scale_factor must be a multiple of {NETWORK_MULTIPLE}")

    def crop(self, frame: np.ndarray, path: object = "frame") -> np.ndarray:
        """The centre crop of an (H, W, 3) frame, or the frame itself when the protocol has none.

        The window is placed by :func:`utils.padding.centre_offsets` (the authors' formula), so the
        same pixels are scored as in their evaluation.
        """
        if self.center_crop is None:
            return frame
        crop_h, crop_w = self.center_crop
        height, width = frame.shape[:2]
        if height < crop_h or width < crop_w:
            raise InputError(
                f"{path} is {width}x{height} (width x height), smaller than the {crop_w}x{crop_h} centre crop "
                "this benchmark scores"
            )
        top, left = centre_offsets((height, width), (crop_h, crop_w))
        return frame[top : top + crop_h, left : left + crop_w]

    def padder(self, shape: Tuple[int, ...], path: object = "frame") -> InputPadder:
        """The padder for input tensors of ``shape`` (..., H, W)."""
        if self.pad_to is None:
            return InputPadder(shape, multiple=self.pad_multiple, mode=self.pad_mode, anchor=self.pad_anchor)
        height, width = shape[-2:]
        target_h, target_w = self.pad_to
        if height > target_h or width > target_w:
            raise InputError(
                f"{path} is {width}x{height} (width x height), larger than the {target_w}x{target_h} "
                "this benchmark pads its frames to"
            )
        return InputPadder.to_size(shape, target_h, target_w, mode=self.pad_mode, anchor=self.pad_anchor)

    def describe(self) -> str:
        """One line for --help and the README, e.g. 'replicate-pad to a multiple of 20, scale 0.8'."""
        parts = []
        if self.center_crop is not None:
            parts.append(f"{self.center_crop[0]}x{self.center_crop[1]} centre crop")
        where = "" if self.pad_anchor == "center" else " at the bottom/right"
        if self.pad_to is not None:
            parts.append(f"{self.pad_mode}-pad{where} to {self.pad_to[0]}x{self.pad_to[1]}")
        else:
            parts.append(f"{self.pad_mode}-pad{where} to a multiple of {self.pad_multiple}")
        if self.scale_factor != 1.0:
            parts.append(f"scale {self.scale_factor:g}")
        parts.append("PSNR, SSIM" + (", IE" if self.with_ie else ""))
        return ", ".join(parts)
