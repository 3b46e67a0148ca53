"""Every inference tool runs the memory-lean path, not the plain one (issue 24: 4K CPU peak memory).

The factory's default is the plain maths (``create_model(..., lean=False)``): one 3840x2160 pair
through the Interpolator on a CPU (IFRNet, scale 1) peaks at 7.1 GB RSS on the plain path and 2.9 GB
on the lean one (0.6 GB of that is the process and its two frames). Each tool must therefore build
the lean model (``Interpolator.load`` does by default).
Here the plain path (``IFRNet.predict_fields``) is made to raise, so any tool that would run it on
4K frames fails on tiny ones: which path runs depends on the tool's wiring, never on the frame size,
so no 4K tensor is needed.
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import models.lean_inference as lean_inference
import models.network as network
from models.interpolator import Interpolator
from tests import benchmark_builders as build
from tests.video_builders import sample_frames, write_clip

ROOT = Path(__file__).resolve().parents[1]
MODEL = "IFRNet_S"


@pytest.fixture
def lean_only(monkeypatch):
    """The plain path raises; returns the list of lean calls (one entry per network pass)."""
    calls = []
    lean_fields = lean_inference.lean_fields

    def counted(*args, **kwargs):
        calls.append(tuple(args[1].shape))
        return lean_fields(*args, **kwargs)

    def plain(*args, **kwargs):
        raise AssertionError("the plain inference path ran (7 GB at 4K on a CPU); the tools must choose lean")

    monkeypatch.setattr(lean_inference, "lean_fields", counted)
    monkeypatch.setattr(network.IFRNet, "predict_fields", plain)
    return calls


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("lean") / "clip.mp4", sample_frames("bigbuckbunny", 3, size=(48, 32)))


@pytest.fixture
def checkpoint(seeded_checkpoints):
    return seeded_checkpoints[MODEL]


def frames():
    return [np.random.default_rng(i).integers(0, 256, (32, 48, 3), dtype=np.uint8) for i in range(2)]


def test_the_guard_catches_the_plain_path(lean_only):
    """The fixture is not vacuous: a model left at its default (plain) fails under it."""
    from tests.seeded import seeded_model

    with pytest.raises(AssertionError, match="plain inference path ran"), torch.inference_mode():
        seeded_model(MODEL).inference(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), 0.5)
    assert not lean_only


@pytest.mark.parametrize("tta", [False, True])
def test_interpolator_loading_weights_runs_lean(lean_only, checkpoint, tta):
    Interpolator.load(MODEL, checkpoint, "cpu", tta=tta).interpolate(*frames(), [0.25, 0.75])
    assert len(lean_only) == (2 if tta else 1)


def test_video_tool_runs_lean(lean_only, clip, checkpoint, tmp_path):
    import interpolate_video

    interpolate_video.main(["--input", str(clip), "--output", str(tmp_path / "out.mp4"), "--model_name", MODEL,
                            "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet"])
    assert len(lean_only) == 2  # three frames: two pairs


def test_video_memory_benchmark_runs_lean(lean_only, clip, checkpoint, tmp_path, capsys):
    from benchmarks import video_memory

    for checkpoint_flag in (["--checkpoint", str(checkpoint)], ["--checkpoint", str(tmp_path / "absent.pth")]):
        video_memory.main(["--worker", "model_only", "--clip", str(clip), "--out", str(tmp_path / "unused.mp4"),
                           "--model_name", MODEL, "--device", "cpu", *checkpoint_flag])
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["frames_out"] == 6
    assert len(lean_only) == 4  # with weights and with initial weights: two pairs each


def test_video_tta_benchmark_runs_lean(lean_only, clip, checkpoint, capsys):
    from benchmarks import video_tta

    results = video_tta.main(["--clips", str(clip), "--triplets", "1", "--width", "48", "--model_name", MODEL,
                              "--checkpoint", str(checkpoint), "--device", "cpu", "--augmentations", "plain", "rot180"])
    assert set(results) == {"plain", "rot180"}
    assert len(lean_only) == 3  # plain: one pass; rot180: two


def test_benchmark_command_line_runs_lean(lean_only, checkpoint, tmp_path):
    from benchmarks import Vimeo90K

    build.build_vimeo90k(tmp_path / "vimeo", count=1, size=(32, 48))
    for tta in ([], ["--tta"]):
        Vimeo90K.main(["--data_root", str(tmp_path / "vimeo"), "--model_name", MODEL, "--checkpoint", str(checkpoint),
                       "--device", "cpu", "--no_progress", *tta])
    assert len(lean_only) == 3


def test_speed_worker_and_hub_models_run_lean(lean_only, checkpoint, capsys):
    from evaluation import speed_worker

    speed_worker.main(["--model_name", MODEL, "--height", "32", "--width", "48", "--checkpoint", str(checkpoint)])
    assert "peak_rss_gb" in json.loads(capsys.readouterr().out.splitlines()[-1])
    model = torch.hub.load(str(ROOT), MODEL, source="local", checkpoint=checkpoint)
    with torch.inference_mode():
        model.inference(torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48), torch.full((1, 1, 1, 1), 0.5))
    assert len(lean_only) == 2


def test_demo_runs_lean(lean_only, checkpoint, tmp_path):
    import demo_2x
    from PIL import Image

    for name, frame in zip(("a.png", "b.png"), frames()):
        Image.fromarray(frame).save(tmp_path / name)
    demo_2x.main(["--img0", str(tmp_path / "a.png"), "--img1", str(tmp_path / "b.png"), "--model_name", MODEL,
                  "--checkpoint", str(checkpoint), "--device", "cpu", "--output", str(tmp_path / "out")])
    assert len(lean_only) == 1


def test_unknown_test_time_transforms_are_refused():
    from tests.seeded import seeded_model
    from utils.errors import InputError

    with pytest.raises(InputError, match="unknown test-time transforms \\['spin'\\]"):
        Interpolator(seeded_model(MODEL), "cpu", tta=("rot180", "spin"))
