"""The memory-lean inference path (lean=True) equals the plain one up to float rounding."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import models.lean_ops as lean_ops
import models.network as network
from models.lean_inference import cat_channels_last, lean_fields
from models.lean_ops import conv3x3_, prelu_
from tests.seeded import seeded_model


@pytest.fixture
def paths(monkeypatch):
    """Counts the passes of each path, so a comparison can show it ran both: {"lean": n, "plain": n}."""
    counts = {"lean": 0, "plain": 0}
    lean, plain = network.lean_fields, network.IFRNet.predict_fields

    def counted_lean(*args, **kwargs):
        counts["lean"] += 1
        return lean(*args, **kwargs)

    def counted_plain(*args, **kwargs):
        counts["plain"] += 1
        return plain(*args, **kwargs)

    monkeypatch.setattr(network, "lean_fields", counted_lean)
    monkeypatch.setattr(network.IFRNet, "predict_fields", counted_plain)
    return counts


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
def test_fast_path_matches_straightforward_path_with_small_bands(monkeypatch, paths, name):
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
    assert paths == {"lean": 2, "plain": 2}  # each side ran its own path
    # 1e-4: the two paths sum the convolutions in different orders (channels_last, bands); float32
    # rounding through ~20 layers moves a pixel by up to ~3e-5 on AVX2 and AVX-512 alike.
    for got, want in zip(results[True], results[False]):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_fast_path_matches_straightforward_path_at_the_real_band_size(paths):
    """At the CPU's own band size, each path chosen per call. At 368x640 the largest layers (the
    encoder's first, decoder 1's ResBlock) run in two bands, as 720p runs them in several, while
    the test process peaks at 0.86 GB RSS (1.3 GB at 720p)."""
    model = seeded_model("IFRNet_S")
    generator = torch.Generator().manual_seed(4)
    img0, img1 = torch.rand(1, 3, 368, 640, generator=generator), torch.rand(1, 3, 368, 640, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    with torch.inference_mode():
        fast = model.inference(img0, img1, embt, lean=True)
        plain = model.inference(img0, img1, embt, lean=False)
    assert paths == {"lean": 1, "plain": 1}  # each side ran its own path
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-4)  # 1e-4: as for the small bands above


def test_training_forward_never_takes_the_lean_path(monkeypatch):
    """The training pass records autograd, which the in-place lean path would corrupt: a model
    that chose lean still trains on the plain maths (the lean path raises here if reached)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the lean path ran under autograd")

    model = seeded_model("IFRNet_S")
    x = torch.rand(1, 3, 32, 32)
    embt = torch.full((1, 1, 1, 1), 0.5)
    expected = model(x, x.flip(-1), embt, x)  # lean=False: the plain maths
    monkeypatch.setattr(network, "lean_fields", refuse)
    model.lean = True
    got = model(x, x.flip(-1), embt, x)
    assert got[0].requires_grad
    for a, b in zip(got, expected):
        assert torch.equal(a, b)


def test_channel_concatenation_keeps_layout_and_promotes_mixed_dtypes():
    """Under CUDA autocast the decoder inputs mix float16 and float32; cat must promote, as torch.cat does."""
    parts = [torch.rand(1, 2, 5, 6).half(), torch.rand(1, 3, 5, 6)]
    with torch.no_grad():
        out = cat_channels_last(parts)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(out, torch.cat(parts, 1))


def test_inference_under_autograd_takes_the_plain_path(paths):
    """lean writes in place, which autograd cannot record: with gradients on, the plain path runs."""
    model = seeded_model("IFRNet_S")
    model.lean = True  # the model chose the lean sibling; autograd must still get the plain path
    generator = torch.Generator().manual_seed(5)
    img0, img1 = torch.rand(1, 3, 32, 48, generator=generator), torch.rand(1, 3, 32, 48, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    assert model.lean
    recorded = model.inference(img0, img1, embt)
    assert recorded.requires_grad
    with torch.no_grad():
        plain = model.inference(img0, img1, embt, lean=False)
    assert paths == {"lean": 0, "plain": 2}
    assert torch.equal(recorded.detach(), plain)


def test_interpolator_lean_option_selects_the_path(paths):
    from models.interpolator import Interpolator

    frames = [np.random.default_rng(i).integers(0, 256, (30, 40, 3), dtype=np.uint8) for i in range(2)]
    lean = Interpolator(seeded_model("IFRNet_S"))
    plain = Interpolator(seeded_model("IFRNet_S"), lean=False)
    assert lean.model.lean and not plain.model.lean
    got = lean.interpolate(*frames, [0.5])[0]
    assert paths == {"lean": 1, "plain": 0}
    want = plain.interpolate(*frames, [0.5])[0]
    assert paths == {"lean": 1, "plain": 1}
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # float rounding, then 8-bit rounding


def test_the_model_defaults_to_the_plain_maths_and_the_interpolator_chooses_lean():
    from models import build_model
    from models.interpolator import Interpolator

    assert not build_model("IFRNet_S").lean
    assert build_model("IFRNet_S", lean=True).lean
    assert Interpolator(seeded_model("IFRNet_S")).model.lean
