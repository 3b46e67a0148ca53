"""The public inference entry points refuse what would run but give nonsense: images on the 0-255
scale, integer images, NaN, timesteps outside [0, 1], non-finite output; and the Interpolator takes
a single number as one timestep and names the types it takes."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from models.lean_inference import LeanIFRNet
from models.network import IMAGE_SLACK
from models.interpolator import Interpolator
from tests.seeded import overflowing_model, seeded_model
from utils.errors import InputError


@pytest.fixture(scope="module")
def model():
    return seeded_model("IFRNet_S")


@pytest.fixture(scope="module")
def interpolator(model):
    return Interpolator(LeanIFRNet.sharing_weights(model))  # the tools' path


@pytest.fixture(scope="module")
def pair():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, 32, 32, generator=generator), torch.rand(1, 3, 32, 32, generator=generator)


HALF = torch.full((1, 1, 1, 1), 0.5)

BAD_CALLS = {
    "0-255 floats": (lambda a, b: (a * 255, b, HALF), "divide by 255"),
    "uint8 tensor": (lambda a, b: ((a * 255).to(torch.uint8), b, HALF), "floating-point"),
    "NaN image": (lambda a, b: (a, b * float("nan"), HALF), "img1 must hold values in [0, 1]"),
    "NaN embt": (lambda a, b: (a, b, float("nan")), "embt must hold timesteps in [0, 1]"),
    "embt above 1": (lambda a, b: (a, b, torch.full((1, 1, 1, 1), 1.5)), "embt must hold timesteps in [0, 1]"),
    "negative embt": (lambda a, b: (a, b, -0.1), "embt must hold timesteps in [0, 1]"),
    "float64 images": (lambda a, b: (a.double(), b.double(), 0.5),
                       "img0 must be torch.float32, the dtype of the model's weights, got torch.float64"),
    "half image": (lambda a, b: (a, b.half(), HALF), "img1 must be torch.float32, the dtype of the model's weights, got torch.float16"),
    "float64 embt": (lambda a, b: (a, b, HALF.double()), "embt must be torch.float32, the dtype of the model's weights, got torch.float64"),
    "no pair": (lambda a, b: (a[:0], b[:0], 0.5), "img0 and embt must hold at least one pair and one timestep, got batches of 0 and 0"),
    "no timestep": (lambda a, b: (a, b, HALF[:0]), "img0 and embt must hold at least one pair and one timestep, got batches of 1 and 0"),
}


@pytest.mark.parametrize("lean", [False, True], ids=["plain", "lean"])
@pytest.mark.parametrize("case", list(BAD_CALLS))
def test_inference_refuses_values_that_give_nonsense(model, pair, case, lean):
    make, expected = BAD_CALLS[case]
    network = LeanIFRNet.sharing_weights(model) if lean else model
    with pytest.raises(ValueError, match=re.escape(expected)), torch.no_grad():
        network.inference(*make(*pair))


def test_inference_takes_the_slight_overshoot_of_resized_images(model, pair):
    """Bicubic resizing overshoots [0, 1] a little at hard edges: such frames still run."""
    img0, img1 = pair
    img0 = img0.clone()
    img0[..., 0, 0], img0[..., 0, 1] = -IMAGE_SLACK / 2, 1 + IMAGE_SLACK / 2
    with torch.no_grad():
        assert torch.isfinite(model.inference(img0, img1, HALF)).all()


def test_interpolator_takes_a_number_numpy_scalars_and_tensors_of_timesteps(interpolator):
    frame = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    one = interpolator.interpolate(frame, frame[::-1].copy(), 0.5)
    assert len(one) == 1 and one[0].shape == frame.shape and one[0].dtype == np.uint8
    assert np.array_equal(interpolator.interpolate(frame, frame[::-1].copy(), [0.5])[0], one[0])
    assert len(interpolator.interpolate(frame, frame, np.float32(0.25))) == 1
    assert len(interpolator.interpolate(frame, frame, torch.tensor([0.25, 0.75]))) == 2


@pytest.mark.parametrize("frame0, timesteps, error, expected", [
    ([[[0, 0, 0]]], [0.5], TypeError, "frame0 must be a numpy array"),
    (torch.zeros(20, 30, 3, dtype=torch.uint8), [0.5], TypeError, "tensors go to model.inference"),
    (None, None, TypeError, "timesteps must be a number or a sequence of numbers"),
    (None, ["half"], TypeError, "timesteps must be a number or a sequence of numbers"),
    (None, [float("nan")], InputError, "values in [0, 1]"),
])
def test_interpolator_names_what_it_takes(interpolator, frame0, timesteps, error, expected):
    frame = np.zeros((20, 30, 3), np.uint8)
    with pytest.raises(error) as info:
        interpolator.interpolate(frame if frame0 is None else frame0, frame, timesteps)
    assert expected in str(info.value)


def test_interpolator_refuses_non_finite_output_instead_of_black_frames():
    frame = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    with pytest.raises(InputError, match="not finite"):
        Interpolator(LeanIFRNet.sharing_weights(overflowing_model())).interpolate(frame, frame, [0.5])
