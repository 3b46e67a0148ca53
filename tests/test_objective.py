"""The training objective (models.objective): each term's floor on an exact prediction, and what moves it."""
import math

import pytest
import torch

from models.objective import DISTILLATION_WEIGHT, GEOMETRY_WEIGHT, IFRNetObjective

# On an exact prediction the Charbonnier penalty is sqrt(0 + 1e-6) everywhere and the census and
# geometry terms are 0. Distillation with trusted labels (weight 1) is the generalised Charbonnier
# at eps = 10^(-(10 - 1)/3) = 1e-3, i.e. sqrt(0 + 1e-6) = 1e-3, for 3 levels x 2 directions.
RECONSTRUCTION_FLOOR = math.sqrt(1e-6)
DISTILLATION_FLOOR = 3 * 2 * DISTILLATION_WEIGHT * 1e-3


def exact_inputs(height=32, width=48):
    """A prediction equal to its target, features equal to the target's, and flows at every level
    that upsample exactly to the pseudo labels (a constant flow, halved per level)."""
    generator = torch.Generator().manual_seed(0)
    imgt = torch.rand(2, 3, height, width, generator=generator)
    features = [torch.rand(2, c, height >> level, width >> level, generator=generator) for level, c in ((1, 8), (2, 12), (3, 16))]
    label = torch.tensor([3.0, -1.5, -2.0, 0.5]).view(1, 4, 1, 1).expand(2, 4, height, width).contiguous()
    flows0 = [label[:, 0:2, : height >> level, : width >> level] / 2**level for level in range(4)]
    flows1 = [label[:, 2:4, : height >> level, : width >> level] / 2**level for level in range(4)]
    return imgt.clone(), imgt, features, [f.clone() for f in features], flows0, flows1, label


def test_every_term_is_at_its_floor_on_an_exact_prediction():
    terms = IFRNetObjective()(*exact_inputs())
    assert terms.reconstruction.item() == pytest.approx(RECONSTRUCTION_FLOOR, rel=1e-5)
    assert terms.geometry.item() == 0.0
    assert terms.distillation.item() == pytest.approx(DISTILLATION_FLOOR, rel=1e-5)
    pred, imgt, features, targets, flows0, flows1, _ = exact_inputs()
    without_labels = IFRNetObjective()(pred, imgt, features, targets, flows0, flows1)
    assert without_labels.distillation.item() == 0.0 and without_labels.distillation.dim() == 0


@pytest.mark.parametrize("term", ["reconstruction", "geometry", "distillation"])
def test_an_error_in_what_a_term_watches_raises_it_and_only_it(term):
    pred, imgt, features, targets, flows0, flows1, label = exact_inputs()
    generator = torch.Generator().manual_seed(1)
    if term == "reconstruction":
        pred = (pred + 0.1 * torch.randn(pred.shape, generator=generator)).clamp(0, 1)
    elif term == "geometry":
        features = [f + torch.randn(f.shape, generator=generator) for f in features]
    else:
        flows0 = [flows0[0]] + [f + 0.5 for f in flows0[1:]]  # the supervised levels, not the final flow
    terms = IFRNetObjective()(pred, imgt, features, targets, flows0, flows1, label)
    floors = {"reconstruction": RECONSTRUCTION_FLOOR, "geometry": 0.0, "distillation": DISTILLATION_FLOOR}
    for name, floor in floors.items():
        value = getattr(terms, name).item()
        if name == term:
            assert value > floor * 1.5 + 1e-6, (name, value)
        else:
            assert value == pytest.approx(floor, rel=1e-5, abs=1e-12), (name, value)
    assert terms.geometry.item() < GEOMETRY_WEIGHT * 3  # weighted: each level's e^2 / (0.1 + e^2) averages below 1


def test_a_label_the_final_flow_disagrees_with_pulls_less():
    """Task-oriented distillation: the trust exp(-0.3 EPE) in a label is read from the network's own
    final flow, so where that disagrees with the label, the label barely moves the other levels."""
    def pull(final_offset):
        _, _, _, _, flows0, flows1, label = exact_inputs()
        levels = [f.clone().requires_grad_() for f in flows0[1:]]
        final = flows0[0] + final_offset
        IFRNetObjective().distillation_term([final, *[l + 0.5 for l in levels]], flows1, label).backward()
        return sum(level.grad.abs().sum().item() for level in levels)

    trusted, distrusted = pull(0.0), pull(20.0)
    assert trusted > 0 and distrusted < 0.01 * trusted


def test_flow_labels_of_the_wrong_shape_are_refused():
    pred, imgt, features, targets, flows0, flows1, label = exact_inputs()
    with pytest.raises(ValueError, match="flow labels must be \\(B, 4, H, W\\) at the image size \\(32, 48\\)"):
        IFRNetObjective()(pred, imgt, features, targets, flows0, flows1, label[:, :, :16])
