"""The free baselines the starter weights are judged against, and the script that compares them."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from benchmarks import starter_eval
from datasets.starter_data import load_clip, load_photos
from evaluation.baselines import average_interpolation, dis_interpolation, frame_psnr, middle_flows


def psnr_per_triplet(triplets, interpolators):
    """{name: PSNR (dB) of its middle frame against the real one, per (frame0, middle, frame1) triplet}."""
    return {name: [frame_psnr(interpolate(frame0, frame1), middle) for frame0, middle, frame1 in triplets]
            for name, interpolate in interpolators.items()}


def test_average_is_the_rounded_blend():
    a = np.array([[[0, 10, 255]]], np.uint8)
    b = np.array([[[1, 20, 250]]], np.uint8)
    np.testing.assert_array_equal(average_interpolation(a, b), [[[0, 15, 252]]])  # 0.5 and 252.5 round to even
    np.testing.assert_array_equal(average_interpolation(a, b, t=1.0), b)


def test_middle_flows_follow_linear_motion():
    u = np.full((4, 5, 2), (6.0, -2.0), np.float32)  # every pixel moves by u from frame 0 to frame 1
    for t in (0.25, 0.5, 0.8):
        flow_t0, flow_t1 = middle_flows(u, -u, t)
        np.testing.assert_allclose(flow_t0, -t * u, atol=1e-6)
        np.testing.assert_allclose(flow_t1, (1 - t) * u, atol=1e-6)


def test_dis_recovers_a_translated_middle_frame_better_than_the_average():
    photo = load_photos()[1]  # coffee: textured, 400x600
    frame0, middle, frame1 = (np.ascontiguousarray(photo[40:200, 40 + s : 280 + s]) for s in (0, 5, 10))
    scores = psnr_per_triplet([(frame0, middle, frame1)], {"average": average_interpolation, "dis": dis_interpolation})
    assert scores["dis"][0] > scores["average"][0] + 5.0, scores


def test_starter_eval_prints_three_scores_per_clip_and_writes_json(seeded_checkpoints, tmp_path, capsys, monkeypatch):
    """One window per clip and span (--limit 1). The weights given are loaded, but a stand-in makes
    the model's frames (the later input frame for every t; a network pass at a clip's full size
    costs seconds): what is checked is which frames are scored, how, and where the scores go.
    Means over several windows are score_timesteps' (tests/test_timesteps.py); the starter
    weights' own scores are tests/test_starter_checkpoint.py's."""
    loaded = []
    real_load = starter_eval.Interpolator.load

    def load(*args, **kwargs):
        interpolator = real_load(*args, **kwargs)
        interpolator.interpolate = lambda frame0, frame1, timesteps: [frame1.copy() for _ in timesteps]
        loaded.append(interpolator)
        return interpolator

    monkeypatch.setattr(starter_eval.Interpolator, "load", load)
    out = tmp_path / "scores.json"
    report = starter_eval.main(
        ["--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--device", "cpu", "--limit", "1", "--json", str(out), "--no_progress",
         "--spans", "2"]
    )
    printed = capsys.readouterr().out
    number = r"(-?\d+\.\d\d)"
    for clip in ("bigbuckbunny", "bikes"):
        match = re.search(rf"^{clip}\s+1\s+{number}\s+{number}\s+{number}\s+([+-]\d+\.\d\d)$", printed, re.MULTILINE)
        assert match, printed
        average, dis, model, margin = (float(v) for v in match.groups())
        assert 10 < average < 60 and 10 < dis < 60 and 5 < model < 60
        assert margin == pytest.approx(model - average, abs=0.011)
    assert "2x target (" in printed and "per-t target (" in printed
    # Per t: k = 2 (asked) and k = 4 (always: the 2x table is its t = 1/2), four methods each.
    for clip in ("bigbuckbunny", "bikes"):
        for k, t in ((2, "1/2"), (4, "1/4"), (4, "2/4"), (4, "3/4")):
            assert re.search(rf"^{clip}\s+{k}\s+{t}\s+1(\s+-?\d+\.\d\d){{4}}$", printed, re.MULTILINE), (clip, k, t, printed)
    assert [(row["span"], row["t"]) for row in report["timesteps"] if row["clip"] == "bikes"] == [(2, 0.5), (4, 0.25), (4, 0.5), (4, 0.75)]
    middle = next(row for row in report["timesteps"] if row["clip"] == "bikes" and row["span"] == 4 and row["t"] == 0.5)
    assert report["clips"]["bikes"]["model"] == middle["psnr"]["model"]  # one computation behind both tables
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(report))
    for row in saved["clips"].values():
        assert row["count"] == 1 and row["per_triplet"]["model"] == [row["model"]]
    # The stand-in (the later frame) is far from the target, and the script says so.
    assert not any(row["meets_target"] for row in saved["clips"].values())
    # What it scores are the clip's held-out frames i, i+2, i+4, starting at the first held-out
    # frame, with the model the flags name.
    (interpolator,) = loaded
    assert interpolator.model_name == "IFRNet_S" and Path(interpolator.checkpoint) == seeded_checkpoints["IFRNet_S"]
    bikes = load_clip("bikes")
    start = bikes.holdout_start
    first = psnr_per_triplet([(bikes.frames[start], bikes.frames[start + 2], bikes.frames[start + 4])],
                             {"average": average_interpolation, "model": lambda frame0, frame1: frame1})
    assert saved["clips"]["bikes"]["per_triplet"]["average"][0] == pytest.approx(first["average"][0])
    assert saved["clips"]["bikes"]["per_triplet"]["model"][0] == pytest.approx(first["model"][0])


def test_starter_eval_rejects_a_bad_limit(seeded_checkpoints):
    from utils.errors import InputError

    with pytest.raises(InputError, match="--limit"):
        starter_eval.main(["--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--limit", "0"])
