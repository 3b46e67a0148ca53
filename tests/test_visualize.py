"""Intermediate outputs of ``inference`` (flows, mask, residual) and their pictures.

The fields returned on request must be the ones the frame was merged from: merging them again
with the paper's formula reproduces the returned frame, on both inference paths, at several
timesteps and at a reduced flow scale.
"""
from pathlib import Path

import numpy as np
import pytest
import torch

from models.interpolator import Interpolator
from tests.seeded import seeded_model
from utils.image_io import read_image
from utils.visualize import FIELD_NAMES, field_images, flow_images, mask_image, panel, residual_image
from utils.warp import warp

ROOT = Path(__file__).resolve().parents[1]


def sample_pair(height=96, width=160):
    """A crop of the real sample pair (Big Buck Bunny) where the rabbit moves."""
    crops = [read_image(ROOT / "figures" / name)[150 : 150 + height, 250 : 250 + width] for name in ("img0.png", "img1.png")]
    return [torch.from_numpy(np.ascontiguousarray(c)).permute(2, 0, 1)[None].float() / 255 for c in crops], crops


@pytest.mark.parametrize("lean, scale", [(False, 1.0), (True, 1.0), (False, 0.5)])
def test_returned_fields_are_those_the_frame_was_merged_from(lean, scale):
    model = seeded_model("IFRNet_S", lean=lean)
    (img0, img1), _ = sample_pair()
    embt = torch.tensor([0.25, 0.5]).view(-1, 1, 1, 1)
    with torch.no_grad():
        plain_return = model.inference(img0, img1, embt, scale)
        frame, fields = model.inference(img0, img1, embt, scale, return_fields=True)
    assert torch.equal(frame, plain_return)  # asking for the fields changes nothing else
    flow0, flow1, mask, residual = fields
    assert flow0.shape == flow1.shape == (2, 2, 96, 160)
    assert mask.shape == (2, 1, 96, 160) and residual.shape == (2, 3, 96, 160)
    assert 0 <= mask.min() and mask.max() <= 1
    assert flow0.abs().max() > 0.1 and not torch.allclose(flow0[0], flow0[1])  # real, per-timestep flows
    # The paper's merge, recomputed from the returned fields alone.
    mean = torch.cat([img0, img1], 2).mean(dim=(1, 2, 3), keepdim=True)
    centred0, centred1 = (img0 - mean).expand(2, -1, -1, -1), (img1 - mean).expand(2, -1, -1, -1)
    merged = mask * warp(centred0, flow0) + (1 - mask) * warp(centred1, flow1) + mean + residual
    torch.testing.assert_close(merged.clamp(0, 1), frame, atol=1e-5, rtol=0)
    # ...and a different flow would not have given this frame.
    swapped = mask * warp(centred0, flow1) + (1 - mask) * warp(centred1, flow0) + mean + residual
    assert (swapped.clamp(0, 1) - frame).abs().max() > 1e-2


def test_interpolator_returns_the_cropped_fields_of_its_frames():
    _, (frame0, frame1) = sample_pair(93, 150)  # not multiples of 16: padded, then cropped back
    interpolator = Interpolator(seeded_model("IFRNet_S", lean=True), "cpu")
    frames, fields = interpolator.interpolate_with_fields(frame0, frame1, [0.5, 0.75])
    assert len(fields) == 2
    assert [np.array_equal(a, b) for a, b in zip(frames, interpolator.interpolate(frame0, frame1, [0.5, 0.75]))] == [True, True]
    for field in fields:
        assert field.flow0.shape == field.flow1.shape == (2, 93, 150)
        assert field.mask.shape == (1, 93, 150) and field.residual.shape == (3, 93, 150)
    pictures = field_images(*fields[0])
    assert list(pictures) == list(FIELD_NAMES)
    assert all(p.shape == (93, 150, 3) and p.dtype == np.uint8 for p in pictures.values())
    # The flow pictures draw exactly these flows, with torchvision's colour wheel.
    from torchvision.utils import flow_to_image  # imported here: 2 s that only this test needs to pay

    wheel = flow_to_image(torch.stack([fields[0].flow0, fields[0].flow1]))
    assert np.array_equal(pictures["flow_t0"], wheel[0].permute(1, 2, 0).numpy())
    assert np.array_equal(pictures["flow_t1"], wheel[1].permute(1, 2, 0).numpy())


def test_both_flows_share_one_colour_scale():
    flow = torch.zeros(2, 8, 8)
    flow[0] = 1.0
    slow, fast = flow_images(flow, 4 * flow)
    white = np.array([255, 255, 255])
    # The slow flow is paler (nearer white) than the fast one, which has the full colour.
    assert np.abs(slow[0, 0].astype(int) - white).sum() < np.abs(fast[0, 0].astype(int) - white).sum()


def test_mask_is_grey_and_residual_is_a_heat_map():
    mask = torch.tensor([[[0.0, 0.5, 1.0]]])
    assert mask_image(mask)[0].tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    residual = torch.zeros(3, 1, 3)
    residual[:, 0, 1] = 0.05
    residual[:, 0, 2] = -0.2  # the sign does not matter, the size does
    heat = residual_image(residual)
    assert heat[0, 0].tolist() == [0, 0, 0]
    assert heat[0, 2].tolist() == [255, 255, 220]  # the largest value: the top of the ramp
    assert 0 < heat[0, 1].sum() < heat[0, 2].sum()
    assert residual_image(torch.zeros(3, 2, 2)).max() == 0  # no residual: black, no division by zero
    with pytest.raises(ValueError, match=r"\(1, H, W\)"):
        mask_image(torch.zeros(2, 4, 4))


def test_panel_tiles_rows_and_pads_short_ones():
    tile = np.zeros((2, 3, 3), np.uint8)
    out = panel([[tile, tile], [tile]], gap=1)
    assert out.shape == (5, 7, 3)
    assert out[3:, 4:].min() == 255  # the missing tile is white
    with pytest.raises(ValueError, match="must all be"):
        panel([[tile, np.zeros((3, 3, 3), np.uint8)]])
