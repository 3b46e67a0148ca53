"""Tests for utils.padding.InputPadder."""
import pytest
import torch

from utils.padding import InputPadder


@pytest.mark.parametrize("mode", ["replicate", "zero", "constant"])
@pytest.mark.parametrize("anchor", ["center", "bottom_right"])
@pytest.mark.parametrize("size", [(37, 53), (33, 17), (32, 48)])
def test_pad_unpad_identity(mode, anchor, size):
    x = torch.randn(2, 3, *size)
    padder = InputPadder(x.shape, multiple=16, mode=mode, anchor=anchor)
    y = padder.pad(x)
    assert y.shape[-2] % 16 == 0 and y.shape[-1] % 16 == 0
    assert tuple(y.shape[-2:]) == padder.padded_shape
    assert y.shape[-2] - size[0] < 16 and y.shape[-1] - size[1] < 16
    assert torch.equal(padder.unpad(y), x)


def test_pad_several_tensors_and_3d():
    a, b = torch.randn(1, 3, 21, 30), torch.randn(3, 21, 30)
    padder = InputPadder(a.shape, multiple=8)
    pa, pb = padder.pad(a, b)
    assert pa.shape == (1, 3, 24, 32) and pb.shape == (3, 24, 32)
    assert torch.equal(padder.unpad(pb), b)
    assert isinstance(padder.pad(a), torch.Tensor)


def test_center_split_and_replicate_edges():
    x = torch.arange(5 * 6, dtype=torch.float32).view(1, 1, 5, 6)
    padder = InputPadder(x.shape, multiple=8, mode="replicate")
    assert padder.pads == (1, 1, 1, 2)  # 3 extra rows: odd one at the bottom
    y = padder.pad(x)
    assert torch.equal(y[..., 0, 1:-1], x[..., 0, :])
    assert torch.equal(y[..., -1, 1:-1], x[..., -1, :])
    assert torch.equal(y[..., -2, 1:-1], x[..., -1, :])
    assert torch.equal(y[..., 1:-2, 0], x[..., :, 0])
    assert torch.equal(y[..., 1:-2, -1], x[..., :, -1])
    assert y[0, 0, 0, 0] == x[0, 0, 0, 0] and y[0, 0, -1, -1] == x[0, 0, -1, -1]


def test_zero_mode_pads_with_zeros():
    x = torch.full((1, 2, 5, 7), 3.0)
    padder = InputPadder(x.shape, multiple=4, mode="zero")
    y = padder.pad(x)
    mask = torch.zeros(y.shape[-2:], dtype=torch.bool)
    left, _, top, _ = padder.pads
    mask[top : top + 5, left : left + 7] = True
    assert torch.all(y[..., ~mask] == 0)
    assert torch.all(y[..., mask] == 3.0)


def test_bottom_right_anchor():
    x = torch.ones(1, 3, 37, 53)
    padder = InputPadder(x.shape, anchor="bottom_right", mode="zero")
    assert padder.pads == (0, 11, 0, 11)
    y = padder.pad(x)
    assert torch.all(y[..., :37, :53] == 1)
    assert torch.all(y[..., 37:, :] == 0) and torch.all(y[..., :, 53:] == 0)


def test_to_size_exact_and_refuses_smaller():
    x = torch.randn(1, 3, 37, 53)
    padder = InputPadder.to_size(x.shape, 40, 60, mode="zero")
    y = padder.pad(x)
    assert tuple(y.shape[-2:]) == (40, 60) == padder.padded_shape
    assert padder.pads == (3, 4, 1, 2)
    assert torch.equal(padder.unpad(y), x)
    with pytest.raises(ValueError, match="at least"):
        InputPadder.to_size(x.shape, 36, 60)


def test_validation():
    with pytest.raises(ValueError, match="positive int"):
        InputPadder((1, 3, 8, 8), multiple=0)
    with pytest.raises(ValueError, match="positive int"):
        InputPadder((1, 3, 8, 8), multiple=2.0)
    with pytest.raises(ValueError, match="mode"):
        InputPadder((1, 3, 8, 8), mode="reflect")
    with pytest.raises(ValueError, match="anchor"):
        InputPadder((1, 3, 8, 8), anchor="top_left")
    padder = InputPadder((1, 3, 9, 9))
    with pytest.raises(ValueError, match="9x9"):
        padder.pad(torch.zeros(1, 3, 10, 9))
    with pytest.raises(ValueError, match="3-D"):
        padder.pad(torch.zeros(9, 9))
    with pytest.raises(ValueError, match="16x16"):
        padder.unpad(torch.zeros(1, 3, 9, 9))
