"""The memory-lean sibling (LeanIFRNet, lean=True) equals the plain IFRNet up to float rounding."""
import ast
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import models.lean_inference as lean_inference
import models.lean_ops as lean_ops
import models.network as network
from models import MODEL_NAMES, WIDTHS, build_model, create_model
from models.lean_inference import LeanIFRNet, cat_channels_last, lean_fields
from models.lean_ops import conv3x3_, prelu_
from tests.seeded import seeded_model, seeded_state_dict

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def paths(monkeypatch):
    """Counts the passes of each path, so a comparison can show it ran both: {"lean": n, "plain": n}."""
    counts = {"lean": 0, "plain": 0}
    lean, plain = lean_inference.lean_fields, network.IFRNet.predict_fields

    def counted_lean(*args, **kwargs):
        counts["lean"] += 1
        return lean(*args, **kwargs)

    def counted_plain(*args, **kwargs):
        counts["plain"] += 1
        return plain(*args, **kwargs)

    monkeypatch.setattr(lean_inference, "lean_fields", counted_lean)
    monkeypatch.setattr(network.IFRNet, "predict_fields", counted_plain)
    return counts


def test_banded_in_place_conv_equals_the_plain_conv(monkeypatch):
    monkeypatch.setattr(lean_ops, "BAND_ELEMENTS", 5 * 16 * 20)  # 5-row bands over 23 rows
    monkeypatch.setattr(lean_ops, "ELEMENTWISE_BAND_ELEMENTS", 2 * 16 * 20)  # written back 2 rows at a time
    conv = torch.nn.Conv2d(16, 16, 3, 1, 1)
    x, residual, slopes = torch.randn(2, 16, 23, 20), torch.randn(2, 16, 23, 20), torch.rand(16)
    with torch.no_grad():
        expected = conv(x)
        got = conv3x3_(conv, x.clone())
        view_target = torch.randn(2, 24, 23, 20)
        view_target[:, 8:] = x
        conv3x3_(conv, view_target[:, 8:])  # a channel slice, as for the side channels
        fused = conv3x3_(conv, x.clone(), residual=residual, prelu=slopes)  # the ResBlock's last stage
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(view_target[:, 8:], expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(fused, F.prelu(expected + residual, slopes), rtol=0, atol=1e-5)


def test_in_place_prelu_is_exact(monkeypatch):
    monkeypatch.setattr(lean_ops, "ELEMENTWISE_BAND_ELEMENTS", 64)  # 2-row bands over 9 rows
    x, weight = torch.randn(1, 4, 9, 7), torch.rand(4)
    assert torch.equal(prelu_(x.clone(), weight), F.prelu(x, weight))


def test_lean_path_refuses_autograd():
    model, x = seeded_model("IFRNet_S"), torch.rand(1, 3, 32, 32)
    with pytest.raises(RuntimeError, match="no_grad"):
        lean_fields(model, x, x, torch.full((1, 1, 1, 1), 0.5))


@pytest.mark.parametrize("name", ["IFRNet_L"])
def test_fast_path_matches_straightforward_path_with_small_bands(monkeypatch, paths, name):
    monkeypatch.setattr(lean_ops, "BAND_ELEMENTS", 1 << 12)  # force banding at a test size
    monkeypatch.setattr(lean_ops, "ELEMENTWISE_BAND_ELEMENTS", 1 << 10)
    models = {True: seeded_model(name, lean=True), False: seeded_model(name)}
    generator = torch.Generator().manual_seed(3)
    img0, img1 = torch.rand(1, 3, 64, 96, generator=generator), torch.rand(1, 3, 64, 96, generator=generator)
    embt = torch.tensor([0.3, 0.8]).view(2, 1, 1, 1)
    results = {}
    for fast, model in models.items():
        with torch.inference_mode():
            results[fast] = (model.inference(img0, img1, embt), model.inference(img0, img1, embt, 0.5))
    assert paths == {"lean": 2, "plain": 2}  # each side ran its own path
    # 1e-4: the two paths sum the convolutions in different orders (channels_last, bands); float32
    # rounding through ~20 layers moves a pixel by up to ~3e-5 on AVX2 and AVX-512 alike.
    for got, want in zip(results[True], results[False]):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-4)


def test_fast_path_matches_straightforward_path_at_the_real_band_size(paths):
    """At the CPU's own band size, the lean and the plain model on the same weights. At 368x640 the
    largest layers (the encoder's first, decoder 1's ResBlock) run in two bands, as 720p runs them
    in several, while the test process peaks at 0.86 GB RSS (1.3 GB at 720p)."""
    plain_model = seeded_model("IFRNet_S")
    lean_model = LeanIFRNet.sharing_weights(plain_model)
    generator = torch.Generator().manual_seed(4)
    img0, img1 = torch.rand(1, 3, 368, 640, generator=generator), torch.rand(1, 3, 368, 640, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    with torch.inference_mode():
        fast = lean_model.inference(img0, img1, embt)
        plain = plain_model.inference(img0, img1, embt)
    assert paths == {"lean": 1, "plain": 1}  # each side ran its own path
    torch.testing.assert_close(fast, plain, rtol=0, atol=1e-4)  # 1e-4: as for the small bands above


def test_training_forward_never_takes_the_lean_path(monkeypatch):
    """The training pass records autograd, which the in-place lean path would corrupt: a lean
    model still trains on the plain maths (the lean path raises here if reached)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the lean path ran under autograd")

    x = torch.rand(1, 3, 32, 32)
    embt = torch.full((1, 1, 1, 1), 0.5)
    expected = seeded_model("IFRNet_S")(x, x.flip(-1), embt, x)  # the plain model: the plain maths
    monkeypatch.setattr(lean_inference, "lean_fields", refuse)
    got = seeded_model("IFRNet_S", lean=True)(x, x.flip(-1), embt, x)
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
    model = seeded_model("IFRNet_S", lean=True)  # the lean sibling; autograd must still get the plain path
    generator = torch.Generator().manual_seed(5)
    img0, img1 = torch.rand(1, 3, 32, 48, generator=generator), torch.rand(1, 3, 32, 48, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    recorded = model.inference(img0, img1, embt)
    assert recorded.requires_grad
    with torch.no_grad():
        plain = seeded_model("IFRNet_S").inference(img0, img1, embt)
    assert paths == {"lean": 0, "plain": 2}
    assert torch.equal(recorded.detach(), plain)


def test_the_interpolator_runs_the_path_its_model_was_built_with(paths):
    from models.interpolator import Interpolator

    frames = [np.random.default_rng(i).integers(0, 256, (30, 40, 3), dtype=np.uint8) for i in range(2)]
    lean = Interpolator(seeded_model("IFRNet_S", lean=True))
    plain = Interpolator(seeded_model("IFRNet_S"))
    got = lean.interpolate(*frames, [0.5])[0]
    assert paths == {"lean": 1, "plain": 0}
    want = plain.interpolate(*frames, [0.5])[0]
    assert paths == {"lean": 1, "plain": 1}
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1  # float rounding, then 8-bit rounding


def test_inference_defaults_to_the_lean_sibling_and_training_builds_the_plain_maths(seeded_checkpoints):
    """What users run is lean (the plain path takes 7 GB on a 4K pair on a CPU, the lean one under 3 GB);
    build_model, what training and the golden tests use, and lean=False give the plain network."""
    from models.interpolator import Interpolator

    assert type(build_model("IFRNet_S")) is network.IFRNet
    assert type(create_model("IFRNet_S", weights=None)) is LeanIFRNet
    assert type(create_model("IFRNet_S", weights=None, lean=False)) is network.IFRNet
    assert type(Interpolator.load("IFRNet_S", seeded_checkpoints["IFRNet_S"], "cpu").model) is LeanIFRNet
    assert type(Interpolator.load("IFRNet_S", seeded_checkpoints["IFRNet_S"], "cpu", lean=False).model) is network.IFRNet


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_the_lean_model_has_the_plain_models_checkpoint_keys(name):
    """The published checkpoints load key for key into both classes (the golden tests pin the
    plain class's layout)."""
    plain, lean = build_model(name), LeanIFRNet(WIDTHS[name], precision=torch.bfloat16)
    assert [(k, v.shape) for k, v in lean.state_dict().items()] == [(k, v.shape) for k, v in plain.state_dict().items()]
    lean.load_state_dict(seeded_state_dict(plain), strict=True)


def test_sharing_weights_copies_nothing_and_changes_nothing():
    plain = seeded_model("IFRNet_S").train()
    lean = LeanIFRNet.sharing_weights(plain, precision=torch.bfloat16)
    assert type(lean) is LeanIFRNet and lean.precision == torch.bfloat16 and lean.training
    assert all(a is b for a, b in zip(lean.parameters(), plain.parameters()))  # one set of weights
    back = network.IFRNet.sharing_weights(lean.eval())
    assert type(back) is network.IFRNet and back.precision == torch.float32
    assert not back.training and not plain.encoder.training  # eval() of a view reaches the shared layers
    assert type(plain) is network.IFRNet and plain.training  # the model it was made from keeps its class and flag


def test_the_plain_network_does_not_import_its_lean_sibling():
    """Imports point one way, as princeton-vl RAFT's CorrBlock and AlternateCorrBlock: the plain
    maths reads on its own; the lean path (and its precision) imports it."""
    tree = ast.parse((ROOT / "models" / "network.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not imported & {"models.lean_inference", "models.lean_ops", "models.low_precision"}, imported


def test_lean_precision_must_be_one_the_lean_path_computes_in():
    with pytest.raises(ValueError, match="precision must be one of"):
        LeanIFRNet(WIDTHS["IFRNet_S"], precision=torch.float64)
