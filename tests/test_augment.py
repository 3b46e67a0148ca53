"""Augmentations move flows with the pixels: warping the augmented frame by the augmented flow
equals augmenting the warped frame, for every geometric operation, any frame count."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from datasets.augment import (
    AugmentProbabilities,
    Clip,
    crop,
    flip_horizontal,
    flip_vertical,
    random_augment,
    reverse_channels,
    reverse_time,
    transpose,
    upscale_2x,
)
from tests.data_builders import FIRST_MOVING_FRAME, bigbuckbunny_frames
from utils.warp import warp

SIZE = (48, 80)  # (height, width): not square, so a transpose that forgets to swap sides fails


def real_frames(count: int) -> torch.Tensor:
    frames = bigbuckbunny_frames(range(FIRST_MOVING_FRAME, FIRST_MOVING_FRAME + count), SIZE)
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float() / 255.0


def smooth_flows(targets: int, seed: int = 0) -> torch.Tensor:
    """Smooth, asymmetric flows of a few pixels (4 channels per target)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(targets, 4, 3, 5, generator=generator) * 3.0
    return F.interpolate(coarse, size=SIZE, mode="bicubic", align_corners=False)


def constant_flows(targets: int, values=(2.0, -1.0, -3.0, 1.0)) -> torch.Tensor:
    return torch.tensor(values).view(1, 4, 1, 1).expand(targets, 4, *SIZE).clone()


def warped_to_targets(clip: Clip) -> torch.Tensor:
    """(targets, 2, 3, H, W): the first and the last input warped to each target's time."""
    first, last = clip.frames[0], clip.frames[-1]
    count = clip.flows.shape[0]
    to_first = warp(first.expand(count, -1, -1, -1), clip.flows[:, 0:2])
    to_last = warp(last.expand(count, -1, -1, -1), clip.flows[:, 2:4])
    return torch.stack([to_first, to_last], 1)


def apply_spatial(operation, images: torch.Tensor) -> torch.Tensor:
    """Apply a frames-only operation to any stack of images (T, 2, 3, H, W)."""
    out = operation(Clip(images.flatten(0, 1))).frames
    return out.view(images.shape[0], images.shape[1], *out.shape[1:])


@pytest.mark.parametrize("frames_count", [3, 9])
@pytest.mark.parametrize("operation", [flip_vertical, flip_horizontal, transpose], ids=lambda op: op.__name__)
def test_flips_and_transpose_commute_with_warping(operation, frames_count):
    clip = Clip(real_frames(frames_count), smooth_flows(frames_count - 2))
    augmented = operation(clip)
    expected = apply_spatial(operation, warped_to_targets(clip))
    assert torch.allclose(warped_to_targets(augmented), expected, atol=1e-5)


def test_upscale_doubles_flows_consistently():
    """With a constant whole-pixel flow, bilinear upscaling and warping commute away from the borders."""
    clip = Clip(real_frames(3), constant_flows(1))
    augmented = upscale_2x(clip)
    assert augmented.size == (2 * SIZE[0], 2 * SIZE[1])
    assert torch.allclose(augmented.flows, 2 * constant_flows(1).repeat_interleave(2, 2).repeat_interleave(2, 3))
    expected = apply_spatial(upscale_2x, warped_to_targets(clip))
    margin = 8
    inner = (Ellipsis, slice(margin, -margin), slice(margin, -margin))
    assert torch.allclose(warped_to_targets(augmented)[inner], expected[inner], atol=1e-5)
    # The flows must be doubled, not just resized: an undoubled flow warps visibly wrong.
    undoubled = Clip(augmented.frames, augmented.flows / 2)
    assert (warped_to_targets(undoubled)[inner] - expected[inner]).abs().max() > 0.05


def test_crop_commutes_with_warping_inside_the_window():
    clip = Clip(real_frames(3), constant_flows(1))
    augmented = crop(clip, 5, 7, 32, 48)
    expected = warped_to_targets(clip)[..., 5:37, 7:55]
    inner = (Ellipsis, slice(4, -4), slice(4, -4))
    assert torch.allclose(warped_to_targets(augmented)[inner], expected[inner], atol=1e-5)


@pytest.mark.parametrize("frames_count", [3, 9])
def test_time_reversal_swaps_inputs_and_flows(frames_count):
    clip = Clip(real_frames(frames_count), smooth_flows(frames_count - 2))
    augmented = reverse_time(clip)
    assert torch.equal(augmented.frames, clip.frames.flip(0))
    warped, warped_reversed = warped_to_targets(clip), warped_to_targets(augmented)
    # Target j of the reversed clip is target (T-1-j) of the original; its "first input" is the old last one.
    assert torch.equal(warped_reversed, warped.flip(0).flip(1))


def test_channel_reversal_leaves_flows():
    clip = Clip(real_frames(3), smooth_flows(1))
    augmented = reverse_channels(clip)
    assert torch.equal(augmented.frames, clip.frames[:, [2, 1, 0]])
    assert torch.equal(augmented.flows, clip.flows)


def test_reference_probabilities_are_the_defaults():
    p = AugmentProbabilities()
    assert (p.upscale, p.reverse_channels, p.flip_vertical, p.flip_horizontal, p.transpose, p.reverse_time) == (
        0.1, 0.5, 0.3, 0.5, 0.05, 0.5,
    )


def test_random_augment_is_a_function_of_the_generator_and_works_without_flows():
    frames = (real_frames(9) * 255).round().to(torch.uint8)
    draws = [random_augment(Clip(frames), (32, 32), torch.Generator().manual_seed(7)) for _ in range(2)]
    assert torch.equal(draws[0].frames, draws[1].frames) and draws[0].flows is None
    assert draws[0].frames.shape[0] == 9 and draws[0].size == (32, 32)
    others = {tuple(random_augment(Clip(frames), (32, 32), torch.Generator().manual_seed(s)).frames.flatten()[:50].tolist()) for s in range(8)}
    assert len(others) > 1


def test_random_augment_probabilities_switch_operations():
    clip = crop(Clip(real_frames(3), smooth_flows(1)), 0, 10, 48, 48)
    none = AugmentProbabilities(0, 0, 0, 0, 0, 0)
    plain = random_augment(clip, (48, 48), torch.Generator().manual_seed(0), none)
    assert torch.equal(plain.frames, clip.frames) and torch.equal(plain.flows, clip.flows)
    every = AugmentProbabilities(1, 1, 1, 1, 1, 1)
    full = random_augment(clip, (96, 96), torch.Generator().manual_seed(0), every)
    expected = upscale_2x(clip)
    for operation in (reverse_channels, flip_vertical, flip_horizontal, transpose, reverse_time):  # the reference's order
        expected = operation(expected)
    assert torch.equal(full.frames, expected.frames) and torch.equal(full.flows, expected.flows)


def test_non_square_crops_keep_their_shape():
    """A transposed non-square crop could not be batched with the others, so it is not transposed."""
    every = AugmentProbabilities(1, 1, 1, 1, 1, 1)
    clip = Clip(real_frames(3), smooth_flows(1))
    assert random_augment(clip, (32, 64), torch.Generator().manual_seed(0), every).size == (32, 64)
