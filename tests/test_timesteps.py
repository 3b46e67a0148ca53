"""Scoring interpolation at every t on held-out real windows: the baselines, the windows, the rows."""
from __future__ import annotations

import numpy as np
import pytest

from datasets.starter_data import load_clip
from evaluation.baselines import dis_interpolation
from evaluation.timesteps import dis_at_t, held_out_windows, hold_nearest, linear_blend, score_timesteps


def test_hold_takes_the_nearer_frame_and_blend_weights_by_t():
    a, b = np.zeros((2, 3, 3), np.uint8), np.full((2, 3, 3), 200, np.uint8)
    held = hold_nearest(a, b, [0.25, 0.5, 0.75])
    assert [int(frame.max()) for frame in held] == [0, 0, 200]
    assert [int(frame[0, 0, 0]) for frame in linear_blend(a, b, [0.25, 0.5, 0.75])] == [50, 100, 150]


def test_dis_at_several_t_equals_dis_at_each_t():
    clip = load_clip("bikes")
    frame0, frame1 = clip.frames[10], clip.frames[14]
    together = dis_at_t(frame0, frame1, [0.25, 0.75])
    for frame, t in zip(together, (0.25, 0.75)):
        np.testing.assert_array_equal(frame, dis_interpolation(frame0, frame1, t))


def test_windows_are_held_out_and_their_truth_lies_between_the_inputs():
    clip = load_clip("bikes")
    windows = held_out_windows("bikes", 4)
    assert windows and all(window.start >= clip.holdout_start for window in windows)
    first = windows[0]
    assert first.timesteps == [0.25, 0.5, 0.75] and len(first.frames) == 5
    np.testing.assert_array_equal(first.frames[2], clip.frames[first.start + 2])
    with pytest.raises(ValueError, match="even"):
        held_out_windows("bikes", 3)


def test_rows_are_per_t_and_name_each_method():
    windows = held_out_windows("bikes", 4)[:2]

    def truth(frame0, frame1, timesteps):  # an oracle: the real in-between frames
        window = next(w for w in windows if w.frames[0] is frame0)
        return [frame.copy() for frame in window.frames[1:-1]]

    rows = score_timesteps(windows, {"truth": truth, "hold": hold_nearest, "blend": linear_blend}, progress=False)
    assert [row.t for row in rows] == [0.25, 0.5, 0.75] and all(row.count == 2 for row in rows)
    for row in rows:
        assert row.exact == {"truth": 2}  # exact frames are counted; with nothing else, the mean is inf
        assert row.psnr["truth"] == float("inf")
        assert len(row.per_window["hold"]) == 2
        assert row.psnr["hold"] == pytest.approx(np.mean(row.per_window["hold"]))
    # Real motion: the blend beats holding the nearer frame at t = 1/2 (hold shows frame 0).
    assert rows[1].psnr["blend"] > rows[1].psnr["hold"]
