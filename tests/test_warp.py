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


def test_sampling_grid_is_float32_on_the_flow_device_and_built_once():
    from utils.warp import _base_grid

    grid = _base_grid(6, 10, torch.device("cpu"))
    assert grid.shape == (1, 2, 6, 10) and grid.dtype == torch.float32 and grid.device.type == "cpu"
    assert _base_grid(6, 10, torch.device("cpu")) is grid  # cached per (H, W, device), broadcast over the batch
    with torch.inference_mode():
        inner = _base_grid(7, 11, torch.device("cpu"))
    assert not inner.is_inference()  # a grid first made during inference still serves training
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert _base_grid(6, 10, torch.device("cpu")).dtype == torch.float32


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_features_under_autocast_are_sampled_at_float32_positions(dtype):
    """A ramp 0..1023 sampled half a pixel right: float16/bfloat16 grids missed by up to ~0.25 (0.5 px)."""
    width = 1024
    image = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width).expand(1, 1, 2, width).to(dtype)
    flow = torch.zeros(1, 2, 2, width)
    flow[:, 0] = 0.5
    with torch.autocast("cpu", dtype=dtype):
        warped = warp(image, flow)
    assert warped.dtype == torch.float32
    expected = torch.arange(width - 1, dtype=torch.float32) + 0.5
    errors = (warped[0, 0, 0, :-1] - expected).abs()
    # The ramp's own values are exact in float16; in bfloat16 only up to 256, so compare those.
    limit = width - 1 if dtype == torch.float16 else 255
    assert float(errors[:limit].max()) < 1e-3


def test_half_precision_image_without_autocast_is_warped_in_its_dtype():
    image = torch.rand(1, 3, 8, 8).to(torch.bfloat16)
    out = warp(image, torch.zeros(1, 2, 8, 8))
    assert out.dtype == torch.bfloat16 and torch.equal(out, image)


@pytest.fixture
def three_threads():
    """torch on three threads for one test (xdist workers run on one), restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def test_a_single_frame_is_sampled_in_row_bands_with_the_same_values(three_threads):
    from utils.warp import _row_bands

    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 5, 12, 16, generator=generator).contiguous(memory_format=torch.channels_last)
    flow = torch.randn(1, 2, 12, 16, generator=generator) * 4
    with torch.no_grad():
        assert _row_bands(image, 12) == 3  # one band per thread: the banded path runs
        banded = warp(image, flow)
        single = torch.nn.functional.grid_sample(
            image, _grid_of(flow), mode="bilinear", padding_mode="border", align_corners=True)
        assert _row_bands(image, 13) == 1  # 13 rows do not split evenly: one band
    assert torch.equal(banded, single)


def test_the_warp_is_written_into_a_given_slice(three_threads):
    generator = torch.Generator().manual_seed(1)
    image = torch.rand(1, 4, 9, 10, generator=generator)
    flow = torch.randn(1, 2, 9, 10, generator=generator)
    target = torch.zeros(1, 7, 9, 10).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        returned = warp(image, flow, out=target[:, 2:6])
        expected = warp(image, flow)
    assert returned.data_ptr() == target[:, 2:6].data_ptr()
    assert torch.equal(target[:, 2:6], expected)
    assert not target[:, :2].any() and not target[:, 6:].any()  # nothing written beside the slice


def _grid_of(flow: torch.Tensor) -> torch.Tensor:
    """The normalised sampling grid of ``flow`` for 'align_corners=True', built independently of warp."""
    _, _, height, width = flow.shape
    xs = torch.linspace(-1.0, 1.0, width).view(1, width).expand(height, width)
    ys = torch.linspace(-1.0, 1.0, height).view(height, 1).expand(height, width)
    grid = torch.stack([xs + flow[0, 0] / ((width - 1.0) / 2.0), ys + flow[0, 1] / ((height - 1.0) / 2.0)], -1)
    return grid.unsqueeze(0)
