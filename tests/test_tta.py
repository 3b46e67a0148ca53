"""Test-time augmentation (models.tta): each transform is undone exactly, and the frames are averaged."""
import pytest
import torch
from torch import nn

from models.tta import DEFAULT_TTA, TRANSFORMS, TestTimeAugmented, averaged_inference
from tests.seeded import seeded_model


class Blend(nn.Module):
    """A stand-in whose prediction is (1 - t) img0 + t img1: it commutes with every flip and with
    swapping the frames in time, so a transform undone correctly gives back its own prediction."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    def inference(self, img0, img1, embt, scale_factor=1.0):
        self.calls.append((img0, img1, embt, scale_factor))
        return (1 - embt) * img0 + embt * img1


def pair(seed=0):
    """An asymmetric pair: no flip or swap leaves it unchanged, so a missing undo shows."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, 6, 10, generator=generator), torch.rand(1, 3, 6, 10, generator=generator)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_each_transform_applied_twice_gives_back_the_pair(name):
    """Every transform is its own inverse on the inputs (flips, the time swap t -> 1 - t)."""
    forward, undo = TRANSFORMS[name]
    img0, img1 = pair()
    embt = torch.tensor([0.3]).view(1, 1, 1, 1)
    once = forward(img0, img1, embt)
    assert any(not torch.equal(a, b) for a, b in zip(once, (img0, img1, embt)))  # it does change the pair
    for got, want in zip(forward(*once), (img0, img1, embt)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-7)
    assert torch.equal(undo(undo(img0)), img0)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_the_undone_prediction_of_each_transform_is_the_plain_prediction(name):
    """On a model that commutes with the transforms, plain + undone transformed, averaged, is the plain frame;
    an undo that left the prediction flipped would move pixels of this asymmetric pair."""
    model = Blend()
    img0, img1 = pair(1)
    embt = torch.tensor([0.2, 0.7]).view(2, 1, 1, 1)
    plain = model.inference(img0, img1, embt)
    averaged = averaged_inference(model, img0, img1, embt, 0.5, [name])
    torch.testing.assert_close(averaged, plain, rtol=0, atol=1e-6)
    assert [call[3] for call in model.calls[1:]] == [0.5, 0.5]  # the scale reaches every pass
    forward, _ = TRANSFORMS[name]
    transformed = model.inference(*forward(img0, img1, embt))
    assert name == "time" or not torch.allclose(transformed, plain)  # the undo is not a no-op


def test_the_average_is_over_the_plain_pass_and_every_transform():
    class Counter(nn.Module):
        """Predicts the number of its call: 1, 2, 3 ..."""

        def __init__(self):
            super().__init__()
            self.count = 0

        def inference(self, img0, img1, embt, scale_factor=1.0):
            self.count += 1
            return torch.full_like(img0, float(self.count))

    img0, img1 = pair()
    embt = torch.full((1, 1, 1, 1), 0.5)
    assert torch.all(averaged_inference(Counter(), img0, img1, embt, transforms=["hflip", "vflip"]) == 2.0)  # (1+2+3)/3
    assert torch.all(averaged_inference(Counter(), img0, img1, embt, transforms=[]) == 1.0)
    assert torch.all(averaged_inference(Counter(), img0, img1, embt) == 1.5)  # the default: one extra pass
    assert DEFAULT_TTA == ("rot180",)


def test_the_wrapper_is_the_averaged_inference_and_refuses_unknown_names():
    model = seeded_model("IFRNet_S", lean=True)
    img0, img1 = pair(2)
    img0, img1 = (torch.nn.functional.interpolate(x, size=(32, 48)) for x in (img0, img1))
    embt = torch.full((1, 1, 1, 1), 0.5)
    with torch.inference_mode():
        wrapped = TestTimeAugmented(model).inference(img0, img1, embt)
        direct = averaged_inference(model, img0, img1, embt)
        plain = model.inference(img0, img1, embt)
    assert torch.equal(wrapped, direct) and not torch.equal(wrapped, plain)  # the real network is not rot180-equivariant
    with pytest.raises(ValueError, match="unknown test-time transforms \\['spin'\\]"):
        TestTimeAugmented(model, ["rot180", "spin"])


def test_one_transform_named_as_a_string_is_that_transform():
    """``tta="rot180"`` is the transform rot180, not the characters r, o, t, 1, 8, 0."""
    from models.interpolator import Interpolator

    model = Blend()
    assert Interpolator(model, "cpu", tta="rot180").tta == ("rot180",)
    assert TestTimeAugmented(model, "time").transforms == ("time",)
    with pytest.raises(ValueError, match="unknown test-time transforms \\['spin'\\]"):
        Interpolator(model, "cpu", tta="spin")
    with pytest.raises(ValueError, match="unknown test-time transforms \\['spin'\\]"):
        TestTimeAugmented(model, "spin")
