"""Training augmentations of IFRNet, written once for any number of frames, with or without flows.

A :class:`Clip` holds the frames of one training sample in temporal order (first input, the
targets, last input) and, optionally, one pseudo-label flow pair per target (flow t->first input,
then t->last input, 4 channels). A Vimeo90K triplet is a 3-frame clip with one flow pair; a
GoPro 8x window is a 9-frame clip without flows. Every geometric operation moves the flows with
the pixels, so that warping the augmented first input by the augmented flow still reproduces the
augmented target:

- 2x upscale: bilinear, flows doubled;
- crop: the same window of every frame and flow;
- vertical flip: rows reversed, the v components (channels 1 and 3) negated;
- horizontal flip: columns reversed, the u components (channels 0 and 2) negated;
- transpose: height and width swapped, u and v swapped;
- time reversal: frame order reversed, the two flows of each target swapped;
- RGB<->BGR: colour channels reversed (flows untouched).

:func:`random_augment` applies them in the reference's order with its probabilities
(:class:`AugmentProbabilities`). Randomness comes from an explicit ``torch.Generator`` so a
sample's augmentation can be made a function of (seed, epoch, index) alone, independent of data
workers, ranks and resumption.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from utils.errors import InputError
from utils.padding import centre_offsets

__all__ = [
    "Clip",
    "AugmentProbabilities",
    "upscale_2x",
    "crop",
    "center_crop",
    "random_crop",
    "reverse_channels",
    "flip_vertical",
    "flip_horizontal",
    "transpose",
    "reverse_time",
    "random_augment",
    "sample_generator",
    "frames_to_float",
    "require_crop_fits",
]


@dataclass(frozen=True)
class Clip:
    """Frames (N, 3, H, W) in temporal order and optional flows (N - 2, 4, H, W), one pair per target.

    Frames may be uint8 or float; operations keep the dtype except :func:`upscale_2x`, which
    returns float frames (still in the input's value range).
    """

    frames: torch.Tensor
    flows: Optional[torch.Tensor] = None

    def __post_init__(self) -> None:
        if self.frames.dim() != 4 or self.frames.shape[0] < 2:
            raise ValueError(f"frames must be (N>=2, C, H, W), got {tuple(self.frames.shape)}")
        if self.flows is not None:
            expected = (self.frames.shape[0] - 2, 4, *self.frames.shape[2:])
            if tuple(self.flows.shape) != expected:
                raise ValueError(f"flows must be {expected} (one 4-channel pair per target), got {tuple(self.flows.shape)}")

    @property
    def size(self) -> Tuple[int, int]:
        """(height, width) of the frames."""
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    def map(self, frames_fn, flows_fn=None) -> "Clip":
        """A clip with ``frames_fn`` applied to the frames and ``flows_fn`` (default: the same) to the flows."""
        flows = None if self.flows is None else (flows_fn or frames_fn)(self.flows)
        return Clip(frames_fn(self.frames), flows)


@dataclass(frozen=True)
class AugmentProbabilities:
    """Probabilities of the random operations; the defaults are the reference's."""

    upscale: float = 0.1
    reverse_channels: float = 0.5
    flip_vertical: float = 0.3
    flip_horizontal: float = 0.5
    transpose: float = 0.05
    reverse_time: float = 0.5


def _bilinear_2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x.float(), scale_factor=2.0, mode="bilinear", align_corners=False)


def upscale_2x(clip: Clip) -> Clip:
    """Double both sides (bilinear, half-pixel centres); flows are resized and doubled."""
    return clip.map(_bilinear_2x, lambda flows: 2.0 * _bilinear_2x(flows))


def crop(clip: Clip, top: int, left: int, height: int, width: int) -> Clip:
    """The window [top, top + height) x [left, left + width) of every frame and flow."""
    frame_height, frame_width = clip.size
    if not (0 <= top and 0 <= left and top + height <= frame_height and left + width <= frame_width):
        raise ValueError(f"crop {height}x{width} at ({top}, {left}) does not fit frames of {frame_height}x{frame_width}")
    return clip.map(lambda x: x[..., top : top + height, left : left + width])


def center_crop(clip: Clip, height: int, width: int) -> Clip:
    """The central ``height`` x ``width`` window (:func:`utils.padding.centre_offsets`, as the reference)."""
    return crop(clip, *centre_offsets(clip.size, (height, width)), height, width)


def random_crop(clip: Clip, height: int, width: int, generator: Optional[torch.Generator] = None) -> Clip:
    """A uniformly placed ``height`` x ``width`` window."""
    frame_height, frame_width = clip.size
    if height > frame_height or width > frame_width:
        raise ValueError(f"crop {height}x{width} is larger than the frames ({frame_height}x{frame_width})")
    top = int(torch.randint(0, frame_height - height + 1, (), generator=generator))
    left = int(torch.randint(0, frame_width - width + 1, (), generator=generator))
    return crop(clip, top, left, height, width)


def reverse_channels(clip: Clip) -> Clip:
    """RGB <-> BGR; flows are untouched."""
    return Clip(clip.frames.flip(1), clip.flows)


def flip_vertical(clip: Clip) -> Clip:
    """Upside down: rows reversed and the v components (channels 1, 3) of the flows negated."""
    sign = torch.tensor([1.0, -1.0, 1.0, -1.0]).view(1, 4, 1, 1)
    return clip.map(lambda x: x.flip(2), lambda flows: flows.flip(2) * sign.to(flows))


def flip_horizontal(clip: Clip) -> Clip:
    """Mirror: columns reversed and the u components (channels 0, 2) of the flows negated."""
    sign = torch.tensor([-1.0, 1.0, -1.0, 1.0]).view(1, 4, 1, 1)
    return clip.map(lambda x: x.flip(3), lambda flows: flows.flip(3) * sign.to(flows))


def transpose(clip: Clip) -> Clip:
    """Swap height and width (the reference calls it a rotation); u and v of each flow swap too."""
    return clip.map(lambda x: x.transpose(2, 3), lambda flows: flows.transpose(2, 3)[:, [1, 0, 3, 2]])


def reverse_time(clip: Clip) -> Clip:
    """Play the clip backwards: frames reversed; each target's flow to the first and to the last input swap."""
    return clip.map(lambda x: x.flip(0), lambda flows: flows.flip(0)[:, [2, 3, 0, 1]])


def _chance(probability: float, generator: Optional[torch.Generator]) -> bool:
    return float(torch.rand((), generator=generator)) < probability


def random_augment(
    clip: Clip,
    crop_size: Tuple[int, int],
    generator: Optional[torch.Generator] = None,
    probabilities: AugmentProbabilities = AugmentProbabilities(),
) -> Clip:
    """The reference's training augmentation: upscale, crop, then colour, flips, transpose and time reversal.

    The upscale is decided first and the crop taken afterwards, as in the reference (a crop of an
    upscaled clip shows a zoomed-in view). Randomness is drawn from ``generator`` (default: the
    global torch generator) in a fixed order, so one generator state gives one augmentation.
    The reference crops squares; with a non-square ``crop_size`` the transpose is left out,
    because it would turn some samples of a batch sideways and they could not be stacked.
    """
    p = probabilities
    if _chance(p.upscale, generator):
        clip = upscale_2x(clip)
    clip = random_crop(clip, crop_size[0], crop_size[1], generator)
    for probability, operation in (
        (p.reverse_channels, reverse_channels),
        (p.flip_vertical, flip_vertical),
        (p.flip_horizontal, flip_horizontal),
        (p.transpose, transpose),
        (p.reverse_time, reverse_time),
    ):
        if _chance(probability, generator) and (operation is not transpose or crop_size[0] == crop_size[1]):
            clip = operation(clip)
    return clip


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator determined by (seed, epoch, sample index) only.

    Drawing a sample's augmentation from it makes training data independent of how samples are
    spread over data workers and ranks, and lets a resumed run see exactly the data it would have
    seen without the interruption.
    """
    mixed = (int(seed) * 1_000_003 + int(epoch)) * 1_000_003 + int(index)
    return torch.Generator().manual_seed(mixed % (2**63))


def frames_to_float(frames: torch.Tensor) -> torch.Tensor:
    """uint8-range frames (any dtype, values 0..255) as float32 in [0, 1]."""
    return frames.to(torch.float32) / 255.0


def require_crop_fits(crop_size: Optional[Tuple[int, int]], frame_size: Tuple[int, int], path: object) -> None:
    """Raise :class:`InputError` naming ``path`` when a (height, width) crop exceeds the frames (height, width)."""
    if crop_size is None:
        return
    if crop_size[0] > frame_size[0] or crop_size[1] > frame_size[1]:
        raise InputError(
            f"crop {crop_size[0]}x{crop_size[1]} (height x width) is larger than the frames of {path} "
            f"({frame_size[0]}x{frame_size[1]}); pass a smaller crop size"
        )
