"""The one scoring loop (evaluation.scoring): per-frame scores, averages over frames, exact frames."""
import math

import pytest
import torch

from evaluation.scoring import Predicted, SampleScore, score_frame, score_predictions
from utils.errors import InputError


def offset_frames(offsets, size=(3, 8, 8)):
    """Predictions at a known error: target grey level 128 everywhere, prediction 128 + 255 x offset
    (PSNR -20 log10 |offset|; offsets in whole 8-bit levels keep the IE exact too)."""
    targets = torch.full((len(offsets), *size), 128 / 255)
    predictions = torch.stack([torch.full(size, 128 / 255 + offset) for offset in offsets])
    return predictions, targets


def psnr_of(offset):
    return -10 * math.log10(offset**2)


def test_averages_are_over_frames_not_over_samples():
    """A sample of two frames counts twice, as the authors average (not the mean of sample means)."""
    two = Predicted("two", [0.25, 0.75], *offset_frames([0.1, 0.1]))
    one = Predicted("one", [0.5], *offset_frames([0.01]))
    result = score_predictions([two, one], progress=False)
    expected = (2 * psnr_of(0.1) + psnr_of(0.01)) / 3  # 20 and 40 dB
    assert result.count == 2 and len(list(result.frames())) == 3
    assert result.psnr == pytest.approx(expected, abs=1e-3)
    assert result.psnr != pytest.approx((psnr_of(0.1) + psnr_of(0.01)) / 2, abs=1)  # not the mean of sample means
    assert [frame.t for frame in result.frames()] == [0.25, 0.75, 0.5]


def test_an_exact_frame_is_left_out_of_the_psnr_mean_and_counted():
    predictions, targets = offset_frames([0.0, 0.1])
    result = score_predictions([Predicted("s", [0.3, 0.6], predictions, targets)], progress=False)
    assert [frame.psnr for frame in result.frames()][0] == math.inf
    assert result.exact_frames == 1
    assert result.psnr == pytest.approx(psnr_of(0.1), abs=1e-3)  # finite: the exact frame is not averaged in
    assert result.ssim == pytest.approx((1.0 + result.samples[0].frames[1].ssim) / 2)  # SSIM keeps every frame


def test_metrics_are_computed_only_when_asked_and_reported_per_timestep_for_several_frames():
    predictions, targets = offset_frames([10 / 255, 40 / 255])
    item = Predicted("s", [0.25, 0.75], predictions, targets)
    plain = score_predictions([item], with_ssim=False, progress=False)
    assert all(frame.ssim is None and frame.ie is None for frame in plain.frames())
    assert "ssim" not in plain.running() and plain.ie is None
    with_ie = score_predictions([item], with_ie=True, progress=False)
    assert with_ie.ie == pytest.approx((10 + 40) / 2)  # IE: mean absolute error in 8-bit levels
    entry = with_ie.samples[0].to_dict(with_ie=True)
    assert [frame["t"] for frame in entry["frames"]] == [0.25, 0.75] and "ie" in entry
    single = SampleScore("one", with_ie.samples[0].frames[:1]).to_dict(with_ie=False)
    assert "frames" not in single and "ie" not in single


def test_a_sample_whose_frames_differ_in_size_is_named():
    predictions, _ = offset_frames([0.1])
    with pytest.raises(InputError, match="sample-7: target frames are \\(4, 8\\)"):
        score_predictions([Predicted("sample-7", [0.5], predictions, torch.zeros(1, 3, 4, 8))], progress=False)


def test_an_exact_frame_scores_perfectly_on_every_metric():
    frame = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    score = score_frame(frame, frame.clone(), 0.5, with_ie=True)
    assert (score.psnr, score.ie) == (math.inf, 0.0) and score.ssim == pytest.approx(1.0, abs=1e-6)
    worse = score_frame(frame, frame.flip(-1), 0.5, with_ie=True)
    assert worse.psnr < 20 and worse.ssim < 0.5 and worse.ie > 10
