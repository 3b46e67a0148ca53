"""Backward warping: identity for zero flow, exact pixel moves for integer flow."""
import pytest
import torch

from utils.warp import warp


def test_zero_flow_is_the_identity():
    image = torch.rand(2, 5, 17, 23)
    torch.testing.assert_close(warp(image, torch.zeros(2, 2, 17, 23)), image, rtol=0, atol=1e-6)


def test_integer_flow_moves_pixels_exactly():
    image = torch.rand(1, 3, 12, 16)
    flow = torch.zeros(1, 2, 12, 16)
    flow[:, 0] = 2.0  # sample two pixels to the right
    flow[:, 1] = -1.0  # and one pixel up
    out = warp(image, flow)
    torch.testing.assert_close(out[..., 1:, :-2], image[..., :-1, 2:], rtol=0, atol=1e-5)
    # Beyond the border the edge pixel is repeated (padding_mode='border').
    torch.testing.assert_close(out[..., 1:, -1], image[..., :-1, -1], rtol=0, atol=1e-5)


def test_half_pixel_flow_interpolates_bilinearly():
    image = torch.arange(8.0).view(1, 1, 1, 8).expand(1, 1, 4, 8).contiguous()
    flow = torch.zeros(1, 2, 4, 8)
    flow[:, 0] = 0.5
    torch.testing.assert_close(warp(image, flow)[0, 0, 0, :-1], torch.arange(7.0) + 0.5, rtol=0, atol=1e-5)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="flow must be"):
        warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="matching flow"):
        warp(torch.rand(1, 3, 8, 9), torch.zeros(1, 2, 8, 8))
