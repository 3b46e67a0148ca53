"""The starter training set: exact synthetic middles, real triplets that never touch held-out frames,
and a folder the Vimeo90K training pipeline reads as is."""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from datasets.starter_data import (
    MANIFEST_NAME,
    Layer,
    Motion,
    Scene,
    StarterSettings,
    build_starter_dataset,
    clip_triplet_starts,
    load_clip,
    random_scene,
    render_scene,
    scene_flow,
    synthetic_scene,
    synthetic_triplet,
    triplet_flow_labels,
    triplet_frames,
)
from datasets.vimeo90k import Vimeo90KTriplets, read_triplet_list
from utils.errors import InputError
from utils.flow_io import read_flo
from utils.image_io import image_to_tensor, read_image
from utils.warp import warp


def test_synthetic_middle_frame_is_the_scene_at_half_time_and_deterministic():
    frames = synthetic_triplet(7, 3, "train", size=(96, 64))
    scene = random_scene(np.random.default_rng([7, 0, 3]), (96, 64))
    np.testing.assert_array_equal(frames[1], render_scene(scene, 0.5))
    for again, first in zip(synthetic_triplet(7, 3, "train", size=(96, 64)), frames):
        np.testing.assert_array_equal(again, first)
    assert all(frame.shape == (64, 96, 3) and frame.dtype == np.uint8 for frame in frames)
    other = synthetic_triplet(7, 4, "train", size=(96, 64))
    assert not np.array_equal(other[1], frames[1])
    test_scene = synthetic_triplet(7, 3, "test", size=(96, 64))
    assert not np.array_equal(test_scene[1], frames[1])  # train and test scenes are drawn apart


def test_synthetic_scenes_move_and_the_middle_is_not_a_blend():
    for index in range(4):
        frame0, middle, frame1 = (f.astype(np.float32) for f in synthetic_triplet(0, index, size=(160, 96)))
        assert np.abs(frame1 - frame0).mean() > 1.0  # something moved
        blend = (frame0 + frame1) / 2
        assert np.abs(middle - blend).mean() > 0.25  # a new view, not a cross-fade


def _disc_scene(radius: int, colour) -> Scene:
    """A black still 96x64 background and a disc centred at (40, 30) at t = 0.5, moving 20 px right
    and 8 px up and turning 3 degrees between t = 0 and t = 1."""
    background = Layer(np.zeros((64, 96, 3), np.float32), None, Motion(anchor=(48, 32), centre=(48, 32)))
    yy, xx = np.mgrid[0:41, 0:41]
    disc = ((xx - 20) ** 2 + (yy - 20) ** 2 <= radius**2).astype(np.float32)
    image = np.broadcast_to(np.asarray(colour, np.float32), (41, 41, 3)).copy()
    piece = Layer(image, disc, Motion(anchor=(20, 20), centre=(40, 30), shift=(20.0, -8.0), rotation=math.radians(3)))
    return Scene((96, 64), (background, piece))


def test_a_piece_moves_linearly_in_time_over_a_still_background():
    scene = _disc_scene(8, (255, 0, 0))

    def centroid(frame):
        weight = frame[..., 0].astype(np.float64)
        ys, xs = np.mgrid[0 : frame.shape[0], 0 : frame.shape[1]]
        return (xs * weight).sum() / weight.sum(), (ys * weight).sum() / weight.sum()

    for t, expected in ((0.0, (30, 34)), (0.5, (40, 30)), (1.0, (50, 26))):
        x, y = centroid(render_scene(scene, t))
        assert abs(x - expected[0]) < 0.1 and abs(y - expected[1]) < 0.1, (t, x, y)


def test_exact_flow_is_the_motion_of_the_surface_seen_at_each_pixel():
    scene = _disc_scene(12, (200, 200, 200))
    flow_t0 = scene_flow(scene, 0.5, 0.0)
    assert flow_t0.shape == (64, 96, 2) and flow_t0.dtype == np.float32
    np.testing.assert_allclose(flow_t0[30, 40], (-10.0, 4.0), atol=1e-5)  # the disc's centre, back to t = 0
    np.testing.assert_allclose(scene_flow(scene, 0.5, 1.0)[30, 40], (10.0, -4.0), atol=1e-5)
    np.testing.assert_array_equal(flow_t0[5, 80], (0.0, 0.0))  # background: still
    # Off the centre the rotation adds its own part: a point 10 px to the right turns by -1.5 degrees.
    angle = math.radians(-1.5)
    expected = (-10.0 + 10 * math.cos(angle) - 10, 4.0 + 10 * math.sin(angle))
    np.testing.assert_allclose(flow_t0[30, 50], expected, atol=1e-4)
    # Background the disc covers in frame 0 (centred at (30, 34) then) keeps the background's label:
    # the motion of what is seen at t, which the warp needs, not of what hides it at t = 0.
    np.testing.assert_array_equal(flow_t0[30, 27], (0.0, 0.0))
    np.testing.assert_allclose(flow_t0[30, 29], (-10.0 + math.cos(angle) * -11 + 11, 4.0 + math.sin(angle) * -11), atol=1e-4)


def test_exact_labels_warp_the_outer_frames_onto_the_middle_one_better_than_dis():
    from models.flow_estimators import DISFlow

    scene = synthetic_scene(0, 4, size=(224, 128))
    frame0, middle, frame1 = triplet_frames(scene)
    exact = triplet_flow_labels(scene)
    dis = DISFlow("medium")([middle, middle], [frame0, frame1])

    def warp_error(frame, flow):  # mean absolute error per pixel, in grey levels
        flow = torch.from_numpy(np.ascontiguousarray(flow)).permute(2, 0, 1)[None]
        warped = warp(image_to_tensor(frame), flow)[0].permute(1, 2, 0).numpy() * 255
        return np.abs(warped - middle).mean(axis=2)

    for frame, label, estimate in zip((frame0, frame1), exact, dis):
        exact_error, dis_error = warp_error(frame, label), warp_error(frame, estimate)
        # Most pixels land within 4 grey levels (the rest: occlusions, and fine texture resampled
        # twice, once to render each frame and once by the warp),
        assert (exact_error < 4).mean() > 0.85
        # and clearly more of them within 2 than with DIS, the labels real footage gets (0.77 vs 0.70).
        assert (exact_error < 2).mean() > (dis_error < 2).mean() + 0.03


def test_clips_hold_out_their_last_quarter_and_skip_cuts_and_repeated_frames():
    bunny, bikes = load_clip("bigbuckbunny"), load_clip("bikes")
    assert (len(bunny.frames), bunny.holdout_start, bunny.frames[0].shape) == (132, 99, (360, 640, 3))
    assert (len(bikes.frames), bikes.holdout_start, bikes.frames[0].shape) == (250, 187, (272, 640, 3))
    # Big Buck Bunny repeats one frame in 25 (24 -> 25 fps); bikes.mp4 has five scene cuts.
    assert [i for i, ok in enumerate(bunny.regular) if not ok] == [6, 31, 56, 81, 106]
    assert [i for i, ok in enumerate(bikes.regular) if not ok] == [29, 75, 136, 186, 241]
    held_out = clip_triplet_starts(bunny, 2, "heldout")
    assert held_out[0] == 99 and held_out[-1] == 127 and not set(range(103, 107)) & set(held_out)
    assert max(clip_triplet_starts(bunny, 2, "train")) + 4 < 99


def _small_settings(**changes) -> StarterSettings:
    base = dict(num_synthetic=3, num_synthetic_test=2, synthetic_size=(96, 64), real_stride=20, real_repeat=2)
    return StarterSettings(**{**base, **changes})


@pytest.mark.slow  # a spawned pool worker renders, writes and labels the set (the clip's frames come with its jobs)
def test_builder_writes_a_vimeo90k_folder_that_keeps_held_out_frames_out_of_training(tmp_path):
    """One clip, bikes (decoded at its own size; every clip goes through the same plan), every 60th
    start. One worker process: a second would only add its start-up."""
    root = tmp_path / "starter"
    settings = _small_settings(clips=("bikes",), real_stride=60)
    summary = build_starter_dataset(root, settings, with_flow=True, num_workers=1, progress=False)

    train, test = read_triplet_list(root, "train"), read_triplet_list(root, "test")
    assert summary.train["synthetic"] == 3 and summary.test["synthetic"] == 2
    holdout = {"bikes": 187}
    real_train = [name for name in train if not name.startswith("synthetic")]
    assert {name.split("/")[0] for name in real_train} == {f"{c}_gap{g}" for c in holdout for g in (1, 2)}
    for name in real_train:  # every frame of every training triplet comes before the held-out part
        sequence, start = name.split("/")
        clip, gap = sequence.rsplit("_gap", 1)
        assert int(start) + 2 * int(gap) < holdout[clip], name
        assert train.count(name) == 2  # listed real_repeat times
    held_out_test = [name for name in test if "_heldout/" in name]
    assert held_out_test and all(int(name.split("/")[1]) >= holdout[name.split("_heldout")[0]] for name in held_out_test)

    # Frames: real ones at the clip's size, test ones all at the synthetic size so they batch together.
    assert read_image(root / "sequences" / real_train[0] / "im2.png").shape[2] == 3
    for name in test:
        assert read_image(root / "sequences" / name / "im1.png").shape == (64, 96, 3)
    bikes = load_clip("bikes")
    first = next(name for name in real_train if name.startswith("bikes_gap2/"))
    start = int(first.split("/")[1])
    np.testing.assert_array_equal(read_image(root / "sequences" / first / "im3.png"), bikes.frames[start + 4])

    # The training pipeline reads it, flow labels included.
    dataset = Vimeo90KTriplets(root, "train", with_flow=True, crop_size=(48, 48))
    img0, imgt, img1, flow, embt = dataset[len(dataset) - 1]
    assert img0.shape == (3, 48, 48) and flow.shape == (4, 48, 48) and torch.isfinite(flow).all()
    test_set = Vimeo90KTriplets(root, "test")
    batch = torch.utils.data.default_collate([test_set[0], test_set[len(test_set) - 1]])
    assert batch[0].shape == (2, 3, 64, 96)
    manifest = json.loads((root / MANIFEST_NAME).read_text())
    assert manifest["settings"]["seed"] == 0 and "astronaut" in manifest["photos"]
    assert manifest["settings"]["synthetic_labels"] == "exact"

    # Synthetic scenes are labelled from their known motion, real footage by DIS.
    exact = triplet_flow_labels(synthetic_scene(0, 2, "train", size=(96, 64)))
    for written, expected in zip((read_flo(root / "flow" / "synthetic/00002" / name) for name in ("flow_t0.flo", "flow_t1.flo")), exact):
        np.testing.assert_array_equal(written, expected)
    assert summary.flow_labels == len(set(train))  # every training triplet, each once

    # A rerun resumes without rewriting; other settings are refused instead of mixed in.
    again = build_starter_dataset(root, settings, with_flow=True, num_workers=0, progress=False)
    assert again.written == 0 and again.skipped == summary.written and again.flow_labels == 0
    with pytest.raises(InputError, match="seed"):
        build_starter_dataset(root, dataclasses.replace(settings, seed=1), with_flow=False, progress=False)
    with pytest.raises(InputError, match="synthetic_labels"):
        build_starter_dataset(root, dataclasses.replace(settings, synthetic_labels="dis"), with_flow=False, progress=False)


def test_builder_can_label_synthetic_scenes_with_dis_as_the_first_starter_sets(tmp_path):
    settings = _small_settings(num_synthetic=1, clips=(), synthetic_labels="dis")
    summary = build_starter_dataset(tmp_path, settings, with_flow=True, progress=False)
    assert summary.flow_labels == 1
    written = read_flo(tmp_path / "flow" / "synthetic/00000" / "flow_t0.flo")
    exact = triplet_flow_labels(synthetic_scene(0, 0, "train", size=(96, 64)))[0]
    assert written.shape == exact.shape and not np.array_equal(written, exact)
    with pytest.raises(InputError, match="--synthetic_labels must be one of exact, dis"):
        build_starter_dataset(tmp_path / "other", _small_settings(synthetic_labels="raft"), with_flow=False, progress=False)


def test_builder_refuses_settings_that_cannot_work(tmp_path):
    with pytest.raises(InputError, match="larger than the bikes clip"):
        build_starter_dataset(tmp_path, _small_settings(synthetic_size=(448, 300)), with_flow=False, progress=False)
    with pytest.raises(InputError, match="real_gaps"):
        build_starter_dataset(tmp_path, _small_settings(real_gaps=(0,)), with_flow=False, progress=False)


def test_build_command_passes_its_flags_to_the_builder(tmp_path, capsys):
    from tools.build_starter_dataset import main

    root = tmp_path / "set"
    main(["--output", str(root), "--num_synthetic", "2", "--num_synthetic_test", "1", "--synthetic_size", "96", "64",
          "--max_shift", "8", "--clips", "--synthetic_labels", "dis", "--seed", "5", "--num_workers", "0", "--no_progress"])
    settings = json.loads((root / MANIFEST_NAME).read_text())["settings"]
    assert settings["synthetic_labels"] == "dis" and settings["synthetic_size"] == [96, 64]
    assert (settings["seed"], settings["num_synthetic"], settings["max_shift"], settings["clips"]) == (5, 2, 8.0, [])
    assert read_triplet_list(root, "train") == ["synthetic/00000", "synthetic/00001"]
    assert read_flo(root / "flow" / "synthetic/00001" / "flow_t1.flo").shape == (64, 96, 2)
    assert "wrote 3 triplets, kept 0 already there; 2 new flow labels" in capsys.readouterr().out


@pytest.mark.parametrize("flag, value, message", [("--max_shift", "nan", "--max_shift must be a finite number of pixels"),
                                                   ("--max_shift", "inf", "--max_shift must be a finite number of pixels"),
                                                   ("--seed", "-5", "--seed must not be negative, got -5")])
def test_build_command_refuses_a_nan_shift_or_negative_seed_in_one_line(tmp_path, flag, value, message, run_main):
    """The first case runs the script as a subprocess (its smoke test), the others its main in-process."""
    import subprocess
    import sys

    from tools import build_starter_dataset

    args = ["--output", str(tmp_path / "set"), "--clips", "--num_workers", "0", "--no_progress", flag, value]
    if value == "nan":
        script = Path(__file__).resolve().parents[1] / "tools" / "build_starter_dataset.py"
        result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True)
        code, err = result.returncode, result.stderr
    else:
        code, _, err = run_main(build_starter_dataset.main, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "set").exists()


# ---------------------------------------------------------------------------------------------
# Windows of 9 frames (GoPro layout), for training at every t


def test_window_builder_writes_gopro_windows_whose_frames_are_the_scene_at_each_t(tmp_path):
    from datasets.gopro import GoProWindows
    from datasets.starter_data.windows import WINDOWS_MANIFEST_NAME, WindowSettings, build_starter_windows

    settings = WindowSettings(factor=4, num_synthetic=2, num_synthetic_test=1, synthetic_size=(64, 48), clips=())
    summary = build_starter_windows(tmp_path, settings, progress=False)
    assert summary.train == {"synthetic": 2} and summary.test == {"synthetic": 1} and summary.written == 3
    folder = tmp_path / "train" / "synthetic_00001"
    assert sorted(path.name for path in folder.iterdir()) == [f"{k:08d}.png" for k in range(5)]
    scene = synthetic_scene(settings.seed, 1, "train", settings.synthetic_size, settings.max_shift)
    for k in range(5):
        np.testing.assert_array_equal(read_image(folder / f"{k:08d}.png"), render_scene(scene, k / 4))
    # The inner frames are distinct views: t is really taught.
    inner = [read_image(folder / f"{k:08d}.png").astype(float) for k in (1, 3)]
    assert np.abs(inner[0] - inner[1]).mean() > 1.0
    # GoPro's training reads the folder as is: inputs k = 0 and 4, targets at t = 1/4, 2/4, 3/4.
    windows = GoProWindows(tmp_path, "train", factor=4, crop_size=(32, 32))
    assert len(windows) == 2
    img0, imgt, img1, _, embt = windows[0]
    assert imgt.shape == (3, 3, 32, 32) and embt.flatten().tolist() == [0.25, 0.5, 0.75]
    assert json.loads((tmp_path / WINDOWS_MANIFEST_NAME).read_text())["settings"]["factor"] == 4
    # Rerunning resumes; other settings are refused, never mixed in.
    assert build_starter_windows(tmp_path, settings, progress=False).skipped == 3
    with pytest.raises(InputError, match="other settings"):
        build_starter_windows(tmp_path, WindowSettings(factor=4, num_synthetic=3, num_synthetic_test=1,
                                                       synthetic_size=(64, 48), clips=()), progress=False)


def test_real_windows_are_consecutive_frames_and_never_touch_held_out_ones(tmp_path):
    from datasets.starter_data.windows import WindowSettings, build_starter_windows

    settings = WindowSettings(num_synthetic=0, num_synthetic_test=0, clips=("bikes",), real_stride=80)
    summary = build_starter_windows(tmp_path, settings, progress=False)
    clip = load_clip("bikes")
    assert summary.train["bikes"] == len(clip_triplet_starts(clip, 4, "train", 80)) > 1
    assert summary.test["bikes_heldout"] > 0
    for folder in sorted((tmp_path / "train").iterdir()):
        start = int(folder.name.split("_")[-1])
        assert start + 8 < clip.holdout_start
        np.testing.assert_array_equal(read_image(folder / "00000008.png"), clip.frames[start + 8])
    for folder in sorted((tmp_path / "test").iterdir()):
        start = int(folder.name.split("_")[-1])
        assert start >= clip.holdout_start
        np.testing.assert_array_equal(read_image(folder / "00000004.png"), clip.frames[start + 4])


def test_real_windows_with_a_step_take_every_other_frame(tmp_path):
    """--factor 4 --real_steps 2: five frames i, i+2, .., i+8, so the targets t = 1/4, 1/2, 3/4 span 8 frames."""
    from datasets.starter_data.windows import WindowSettings, build_starter_windows

    settings = WindowSettings(factor=4, num_synthetic=0, num_synthetic_test=0, clips=("bikes",), real_stride=60, real_steps=(2,))
    summary = build_starter_windows(tmp_path, settings, progress=False)
    clip = load_clip("bikes")
    assert summary.train == {"synthetic": 0, "bikes_step2": len(clip_triplet_starts(clip, 4, "train", 60))}
    folder = sorted((tmp_path / "train").iterdir())[0]
    start = int(folder.name.split("_")[-1])
    assert len(list(folder.iterdir())) == 5
    for k in range(5):
        np.testing.assert_array_equal(read_image(folder / f"{k:08d}.png"), clip.frames[start + 2 * k])


@pytest.mark.parametrize("change, message", [({"factor": 3}, "--factor"), ({"real_steps": (0,)}, "--real_steps"), ({"max_shift": math.nan}, "--max_shift"),
                                              ({"real_stride": 0}, "--real_stride"), ({"clips": ("nope",)}, "unknown clip")])
def test_window_builder_refuses_settings_that_cannot_work(tmp_path, change, message):
    from datasets.starter_data.windows import WindowSettings, build_starter_windows

    with pytest.raises(InputError, match=message):
        build_starter_windows(tmp_path, WindowSettings(**change), progress=False)
    assert not any(tmp_path.iterdir())
