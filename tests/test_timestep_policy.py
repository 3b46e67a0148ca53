"""Weights that ignore t (the published Vimeo90K ones): detected from the weights, run by bisection,
and the published weights each job takes (Vimeo90K for 2x/4x/8x, GoPro for other timesteps).

A t-blind checkpoint is made from the starter weights, which honour t: the timestep's input
channel is zeroed and its contribution at t = 1/2 folded into the layer's bias, so the model gives
its middle frame for every t, as the published Vimeo90K file does.
"""
from __future__ import annotations

import logging
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import interpolate_video
import video.loading
from models import create_model
from models.checkpoint import STARTER_CHECKPOINT, CHECKPOINT_DIR, resolve_weights
from models.interpolator import Interpolator
from models.timestep_policy import (
    BLIND_TOLERANCE,
    TIMESTEP_INPUT_KEY,
    datasets_for,
    exact_dyadic,
    honours_timestep,
    plan_bisection,
)
from tests.scale_cases import InProcessPool
from utils.errors import InputError
from utils.image_io import read_image
from video.convert import ConversionJob, check_job
from video.timing import resampled_timesteps

ROOT = Path(__file__).resolve().parents[1]
STARTER = CHECKPOINT_DIR / STARTER_CHECKPOINT


def t_blind(state):
    """``state`` with the timestep switched off and its t = 1/2 contribution kept in the bias."""
    state = {key: value.clone().float() for key, value in state.items()}
    kernel, bias_key = state[TIMESTEP_INPUT_KEY], TIMESTEP_INPUT_KEY.replace("weight", "bias")
    state[bias_key] += 0.5 * kernel[:, -1].sum((1, 2))
    kernel[:, -1] = 0
    return state


@pytest.fixture(scope="module")
def blind_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("blind") / "IFRNet_S_blind.pth"
    torch.save(t_blind(torch.load(STARTER, weights_only=True)), path)
    return path


@pytest.fixture(scope="module")
def moving_pair():
    """The sample pair (Big Buck Bunny frames 104 and 106), shrunk to 192x108."""
    return [np.asarray(Image.fromarray(read_image(ROOT / "figures" / name)).resize((192, 108), Image.BICUBIC))
            for name in ("img0.png", "img1.png")]


def mad(a, b):
    return float(np.abs(a.astype(np.float64) - b).mean())


def test_a_switched_off_timestep_channel_is_detected_within_the_stated_tolerance(blind_checkpoint):
    starter = torch.load(STARTER, weights_only=True)
    assert honours_timestep(starter)
    assert not honours_timestep(torch.load(blind_checkpoint, weights_only=True))
    for fraction, honours in ((BLIND_TOLERANCE / 2, False), (BLIND_TOLERANCE * 2, True)):
        state = {key: value.float() for key, value in starter.items()}
        kernel = state[TIMESTEP_INPUT_KEY]
        kernel[:, -1] = 0
        kernel[0, -1, 1, 1] = fraction * float(kernel.abs().max())
        assert honours_timestep(state) is honours
    interpolator = Interpolator.load("IFRNet_S", blind_checkpoint, "cpu")
    assert not interpolator.honours_timestep and interpolator.timestep_mode == "bisect"
    assert "bisection" in interpolator.timestep_note
    assert Interpolator.load("IFRNet_S", STARTER, "cpu").timestep_note is None


def test_bisection_plans_each_level_from_known_frames_and_only_what_the_targets_need():
    plan = plan_bisection([k / 8 for k in range(1, 8)])
    made = {Fraction(0), Fraction(1)}
    for level in plan.levels:
        for step in level:
            assert step.before in made and step.after in made and step.time == (step.before + step.after) / 2
        made.update(step.time for step in level)
    assert [len(level) for level in plan.levels] == [1, 2, 4] and plan.largest_error == 0
    assert [step.time for level in plan_bisection([0.75]).levels for step in level] == [Fraction(1, 2), Fraction(3, 4)]
    assert plan_bisection([0, 1]).levels == ()
    rounded = plan_bisection([0.4, 0.5])
    assert rounded.targets == (Fraction(3, 8), Fraction(1, 2)) and rounded.approximated == [0.4]
    assert rounded.largest_error == pytest.approx(0.025)


def test_bisection_runs_the_plan_frame_by_frame():
    """With a network that blends its two inputs, bisection must give the linear blend at every target."""
    model = create_model("IFRNet_S", weights=None)
    model.inference = lambda img0, img1, embt, scale_factor=1.0, return_fields=False: (img0 + img1) / 2
    with torch.no_grad():
        model.state_dict()[TIMESTEP_INPUT_KEY][:, -1] = 0
    black, white = np.zeros((20, 36, 3), np.uint8), np.full((20, 36, 3), 255, np.uint8)
    for batch_size in (1, None):
        interpolator = Interpolator(model, "cpu", batch_size=batch_size)
        assert interpolator.timestep_mode == "bisect"
        timesteps = [0.125, 0.375, 0.5, 0.8125, 0.4, 0.0]
        frames = interpolator.interpolate(black, white, timesteps)
        expected = [round(255 * t) for t in (0.125, 0.375, 0.5, 0.8125, 0.375, 0.0)]
        assert [int(frame[10, 18, 0]) for frame in frames] == expected
        assert all(frame.shape == black.shape for frame in frames)
    with pytest.raises(InputError, match="timesteps must be one of auto, direct, bisect, got 'sideways'"):
        Interpolator(model, "cpu", timesteps="sideways")


def test_bisection_at_one_half_is_the_direct_call_bit_for_bit(moving_pair):
    model = create_model("IFRNet_S", weights=STARTER)
    direct = Interpolator(model, "cpu", timesteps="direct").interpolate(*moving_pair, [0.5])[0]
    bisected = Interpolator(model, "cpu", timesteps="bisect").interpolate(*moving_pair, [0.5])[0]
    np.testing.assert_array_equal(direct, bisected)
    frames, fields = Interpolator(model, "cpu", timesteps="bisect").interpolate_with_fields(*moving_pair, [0.5, 0.75])
    assert len(fields) == 2 and fields[1].flow0.shape == (2, 108, 192)


def test_a_t_blind_checkpoint_at_factor_4_moves_monotonically_between_real_frames(tmp_path, moving_pair, blind_checkpoint,
                                                                                     caplog):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in enumerate(moving_pair):
        Image.fromarray(frame).save(frames / f"{index:03d}.png")
    with caplog.at_level(logging.INFO):
        interpolate_video.main(["--input", str(frames), "--output", str(tmp_path / "out"), "--factor", "4",
                                "--model_name", "IFRNet_S", "--checkpoint", str(blind_checkpoint), "--device", "cpu",
                                "--no_progress"])
    assert "recursive bisection" in caplog.text
    written = [read_image(path) for path in sorted((tmp_path / "out").glob("*.png"))[:5]]
    np.testing.assert_array_equal(written[0], moving_pair[0])
    distances = [mad(frame, moving_pair[0]) for frame in written[:4]] + [mad(moving_pair[1], moving_pair[0])]
    assert distances == sorted(distances) and len(set(distances)) == 5, distances


def test_24_to_60_fps_with_a_t_blind_checkpoint_repeats_no_frame_and_says_the_time_error(tmp_path, moving_pair,
                                                                                          blind_checkpoint, caplog):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in enumerate(moving_pair * 2):  # 0 1 0 1: three moving pairs
        Image.fromarray(frame).save(frames / f"{index:03d}.png")
    with caplog.at_level(logging.INFO):
        interpolate_video.main(["--input", str(frames), "--output", str(tmp_path / "out"), "--input_fps", "24",
                                "--fps", "60", "--model_name", "IFRNet_S", "--checkpoint", str(blind_checkpoint),
                                "--device", "cpu", "--no_progress"])
    written = [read_image(path) for path in sorted((tmp_path / "out").glob("*.png"))]
    assert len(written) == 10  # at 0, 0.4, ... 3.6 frames: the last three hold the last input frame
    assert all(not np.array_equal(a, b) for a, b in zip(written[:8], written[1:8]))
    approximation = [record.getMessage() for record in caplog.records if "nearest multiple of 1/16" in record.getMessage()]
    assert len(approximation) == 1 and "largest time error 0.0250" in approximation[0]


def test_on_workers_the_driver_says_the_weights_and_the_time_error_once_and_the_frames_are_the_same(
        tmp_path, moving_pair, blind_checkpoint, monkeypatch, caplog):
    """video.loading.PooledModels: the lines a run in one process says, once, though each worker
    holds an interpolator of its own (the pool runs its calls in this process here)."""
    pools = []
    monkeypatch.setattr(video.loading, "open_pool", lambda workers, factory: pools.append(InProcessPool(factory)) or pools[-1])
    frames = tmp_path / "frames"
    frames.mkdir()
    pair = [Image.fromarray(frame).resize((96, 54), Image.BICUBIC) for frame in moving_pair]  # what is said needs no size
    for index, frame in enumerate(pair + pair[:1]):  # two moving pairs
        frame.save(frames / f"{index:03d}.png")
    said = {}
    for name, extra in (("one", []), ("pool", ["--devices", "cpu,cpu"])):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            interpolate_video.main(["--input", str(frames), "--output", str(tmp_path / name), "--input_fps", "24",
                                    "--fps", "60", "--model_name", "IFRNet_S", "--checkpoint", str(blind_checkpoint),
                                    "--device", "cpu", "--no_progress"] + extra)
        said[name] = [(record.levelno, record.getMessage()) for record in caplog.records
                      if record.name in ("ifrnet.video", "ifrnet.timesteps") and not record.getMessage().startswith("wrote ")]
    assert len(pools) == 1 and pools[0].calls > 1  # the pairs went to the pool
    assert said["pool"] == said["one"]
    assert len([line for _, line in said["one"] if "largest time error 0.0250" in line]) == 1, said["one"]
    assert any(line == "weights: IFRNet_S_blind.pth" for _, line in said["one"]), said["one"]
    one, pool = (sorted((tmp_path / name).glob("*.png")) for name in ("one", "pool"))
    assert [path.name for path in pool] == [path.name for path in one] and len(one) == 8
    for a, b in zip(one, pool):
        np.testing.assert_array_equal(read_image(a), read_image(b))


def test_the_job_timesteps_choose_vimeo90k_for_powers_of_two_and_gopro_for_the_rest(tmp_path, moving_pair):
    assert resampled_timesteps(Fraction(4)) == [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]
    assert resampled_timesteps(Fraction(60, 24)) == [Fraction(j, 5) for j in range(1, 5)]
    assert resampled_timesteps(Fraction(1, 2)) == [] and resampled_timesteps(Fraction(2049, 1000)) is None
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in enumerate(moving_pair):
        Image.fromarray(frame).save(frames / f"{index:03d}.png")
    vimeo, gopro = ("Vimeo90K",), ("GoPro", "Vimeo90K")
    cases = [(dict(factor=2), vimeo), (dict(factor=4), vimeo), (dict(factor=8), vimeo), (dict(factor=3), gopro),
             (dict(factor=None, fps=Fraction(60), input_fps=Fraction(24)), gopro),
             (dict(factor=None, fps=Fraction(50), input_fps=Fraction(25)), vimeo), (dict(factor=2, dedup=1.0), gopro)]
    for options, expected in cases:
        job = ConversionJob(input=frames, output=tmp_path / "out", **options)
        with check_job(job) as checked:
            assert datasets_for(checked.timesteps) == expected, options
    assert exact_dyadic(0.375) and not exact_dyadic(0.4) and not exact_dyadic(1 / 512)


@pytest.fixture
def published_sources(tmp_path, http_server, monkeypatch, online):
    """A checkpoints folder of this test's own (with the starter) and a loopback mirror of the
    published IFRNet_S files: {task: bytes served}."""
    import models.checkpoint as checkpoint_module

    folder = tmp_path / "checkpoints"
    (folder / "starter").mkdir(parents=True)
    shutil.copy(STARTER, folder / STARTER_CHECKPOINT)
    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", folder)
    served = {"Vimeo90K": t_blind(torch.load(STARTER, weights_only=True)), "GoPro": torch.load(STARTER, weights_only=True)}
    for task, state in served.items():
        path = tmp_path / f"{task}.pth"
        torch.save(state, path)
        http_server.files[f"/mirror/IFRNet_S_{task}.pth"] = path.read_bytes()
    online(http_server.url("/mirror/"))
    return folder


def test_the_video_tool_downloads_vimeo90k_for_4x_and_gopro_for_60_fps(tmp_path, moving_pair, published_sources, http_server,
                                                                      caplog):
    frames = tmp_path / "frames"
    frames.mkdir()
    for index, frame in enumerate(moving_pair):
        Image.fromarray(frame.copy()[:64, :96]).save(frames / f"{index:03d}.png")
    for flags, weights, mode in ((["--factor", "4"], "IFRNet_S_Vimeo90K.pth", "bisect"),
                                 (["--input_fps", "24", "--fps", "60"], "IFRNet_S_GoPro.pth", "direct")):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            interpolate_video.main(["--input", str(frames), "--output", str(tmp_path / f"out_{mode}"), *flags,
                                    "--model_name", "IFRNet_S", "--device", "cpu", "--no_progress"])
        assert f"weights: {weights}" in caplog.text
        assert ("recursive bisection" in caplog.text) == (mode == "bisect")
    assert http_server.requests == ["/mirror/IFRNet_S_Vimeo90K.pth", "/mirror/IFRNet_S_GoPro.pth"]


def test_without_the_gopro_file_other_timesteps_take_the_vimeo90k_weights_with_a_note(published_sources, http_server):
    del http_server.files["/mirror/IFRNet_S_GoPro.pth"]
    resolved = resolve_weights("IFRNet_S", None, ("GoPro", "Vimeo90K"), progress=False)
    assert resolved.path == published_sources / "IFRNet_small" / "IFRNet_S_Vimeo90K.pth"
    assert "IFRNet_S_GoPro.pth not found" in resolved.note and "other timesteps by bisection, to the nearest 1/16" in resolved.note
    assert "--task GoPro" in resolved.note


def test_offline_other_timesteps_take_a_present_vimeo90k_file_before_the_starter(published_sources, monkeypatch):
    monkeypatch.setenv("IFRNET_OFFLINE", "1")
    assert resolve_weights("IFRNet_S", None, ("GoPro", "Vimeo90K")).path.parent.name == "starter"
    vimeo = published_sources / "IFRNet_small" / "IFRNet_S_Vimeo90K.pth"
    vimeo.parent.mkdir()
    shutil.copy(STARTER, vimeo)
    resolved = resolve_weights("IFRNet_S", None, ("GoPro", "Vimeo90K"))
    assert resolved.path == vimeo and "downloads are off" in resolved.note


def test_the_8x_demo_bisects_a_vimeo90k_checkpoint_with_a_note(tmp_path, moving_pair, blind_checkpoint, run_main):
    import demo_8x

    for name, frame in zip(("img0.png", "img1.png"), moving_pair):
        Image.fromarray(frame).save(tmp_path / name)
    code, out, err = run_main(demo_8x.main, "--img0", tmp_path / "img0.png", "--img1", tmp_path / "img1.png",
                              "--model_name", "IFRNet_S", "--checkpoint", blind_checkpoint, "--output", tmp_path / "out",
                              "--device", "cpu")
    assert code == 0 and "note: these weights ignore t" in err
    written = [read_image(tmp_path / "out" / f"interp_t{k / 8:.3f}.png") for k in range(1, 8)]
    distances = [mad(frame, moving_pair[0]) for frame in written]
    assert distances == sorted(distances) and len(set(distances)) == 7, distances


def test_the_hub_interpolator_takes_the_timesteps_option(blind_checkpoint):
    hub = torch.hub.load(str(ROOT), "interpolator", source="local", model_name="IFRNet_S", checkpoint=blind_checkpoint,
                         device="cpu", timesteps="direct")
    assert not hub.honours_timestep and hub.timestep_mode == "direct"
    assert "every in-between frame is the middle frame" in hub.timestep_note
