"""The fast, memory-lean inference path equals the straightforward one up to float rounding."""
import pytest
import torch
import torch.nn.functional as F

import models.lean_ops as lean_ops
from models.lean_inference import cat_channels_last, lean_fields
from models.lean_ops import conv3x3_, prelu_
from tests.seeded import seeded_model


def test_banded_in_place_conv_equals_the_plain_conv(monkeypatch):
    monkeypatch.setattr(lean_ops, "BAND_ELEMENTS", 5 * 16 * 20)  # 5-row bands over 23 rows
    conv = torch.nn.Conv2d(16, 16, 3, 1, 1)
    x = torch.randn(2, 16, 23, 20)
    expected = conv(x).detach()
    with torch.no_grad():
        got = conv3x3_(conv, x.clone())
        view_target = torch.randn(2, 24, 23, 20)
        view_target[:, 8:] = x
        conv3x3_(conv, view_target[:, 8:])  # a channel slice, as for the side channels
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(view_target[:, 8:], expected, rtol=0, atol=1e-5)


def test_in_place_prelu_is_exact(monkeypatch):
    monkeypatch.setattr(lean_ops, "BAND_ELEMENTS", 64)
    x, weight = torch.randn(1, 4, 9, 7), torch.rand(4)
    assert torch.equal(prelu_(x.clone(), weight), F.prelu(x, weight))


def test_lean_path_refuses_autograd():
    model, x = seeded_model("IFRNet_S"), torch.rand(1, 3, 32, 32)
    with pytest.raises(RuntimeError, match="no_grad"):
        lean_fields(model, x, x, torch.full((1, 1, 1, 1), 0.5))


@pytest.mark.parametrize("name", ["IFRNet_L"])
def test_fast_path_matches_straightforward_path_with_small_bands(monkeypatch, name):
    monkeypatch.setattr(lean_ops, "BAND_ELEMENTS", 1 << 12)  # force banding at a test size
    model = seeded_model(name)
    generator = torch.Generator().manual_seed(3)
    img0, img1 = torch.rand(1, 3, 64, 96, generator=generator), torch.rand(1, 3, 64, 96, generator=generator)
    embt = torch.tensor([0.3, 0.8]).view(2, 1, 1, 1)
    results = {}
    for fast in (True, False):
        model.lean = fast
        with torch.inference_mode():
            results[fast] = (model.inference(img0, img1, embt), model.inference(img0, img1, embt, 0.5))
    for got, want in zip(results[True], results[False]):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_fast_path_matches_straightforward_path_at_720p():
    model = seeded_model("IFRNet_S")
    generator = torch.Generator().manual_seed(4)
    img0, img1 = torch.rand(1, 3, 720, 1280, generator=generator), torch.rand(1, 3, 720, 1280, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    with torch.inference_mode():
        fast = model.inference(img0, img1, embt)
        model.lean = False
        plain = model.inference(img0, img1, embt)
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-4)


def test_training_forward_is_unaffected_by_the_fast_path():
    """The training pass records autograd: the fast inference flag must not change it."""
    model = seeded_model("IFRNet_S")
    x = torch.rand(1, 3, 32, 32)
    embt = torch.full((1, 1, 1, 1), 0.5)
    model.lean = True
    losses_fast = model(x, x.flip(-1), embt, x)[1:]
    model.lean = False
    losses_plain = model(x, x.flip(-1), embt, x)[1:]
    for a, b in zip(losses_fast, losses_plain):
        assert torch.equal(a, b)


def test_channel_concatenation_keeps_layout_and_promotes_mixed_dtypes():
    """Under CUDA autocast the decoder inputs mix float16 and float32; cat must promote, as torch.cat does."""
    parts = [torch.rand(1, 2, 5, 6).half(), torch.rand(1, 3, 5, 6)]
    with torch.no_grad():
        out = cat_channels_last(parts)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, torch.cat(parts, 1))
