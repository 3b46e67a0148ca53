"""PSNR, SSIM and IE equal the reference's values, on whatever device the input lives."""
import pytest
import torch

from tests.seeded import GOLDEN_DIR
from utils.metrics import calculate_ie, calculate_psnr, calculate_ssim

GOLDEN = torch.load(GOLDEN_DIR / "metrics_golden.pt")
METRICS = [(calculate_psnr, "psnr"), (calculate_ssim, "ssim"), (calculate_ie, "ie")]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("metric, key", METRICS)
def test_metric_matches_reference(metric, key, device):
    value = metric(GOLDEN["a"].to(device), GOLDEN["b"].to(device))
    assert value.device.type == device
    torch.testing.assert_close(value.cpu(), GOLDEN[key], rtol=1e-6, atol=0)


def test_identical_images_score_perfectly():
    a = GOLDEN["a"]
    assert calculate_ssim(a, a).item() == pytest.approx(1.0, abs=1e-6)
    assert calculate_ie(a, a).item() == 0.0
    assert calculate_psnr(a, a).item() == float("inf")


def test_psnr_of_a_known_error():
    a = torch.zeros(1, 3, 8, 8)
    assert calculate_psnr(a, a + 0.1).item() == pytest.approx(20.0, abs=1e-4)


def test_ssim_is_the_reference_3d_variant_not_per_channel_2d():
    """Permuting channels changes a 3-D SSIM (channels are an axis) but not a per-channel one.

    (Reversing them would not: the window and the padding are symmetric along that axis.)
    """
    a, b = GOLDEN["a"], GOLDEN["b"]
    swapped = calculate_ssim(a[:, [1, 0, 2]], b[:, [1, 0, 2]])
    assert abs(swapped.item() - calculate_ssim(a, b).item()) > 1e-5


def test_ssim_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        calculate_ssim(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 8))


def test_separable_ssim_equals_the_reference_conv3d_formula():
    """Our SSIM blurs with three 1-D passes; the reference with one 11x11x11 conv3d. Same numbers."""
    import math

    import torch.nn.functional as F

    gauss = torch.tensor([math.exp(-((x - 5) ** 2) / (2 * 1.5**2)) for x in range(11)])
    gauss = (gauss / gauss.sum()).unsqueeze(1)
    window = (gauss.mm(gauss.t()).unsqueeze(2) @ gauss.t()).expand(1, 1, 11, 11, 11).contiguous()

    def blur(x):
        return F.conv3d(F.pad(x.unsqueeze(1), (5,) * 6, mode="replicate"), window)

    generator = torch.Generator().manual_seed(5)
    a = torch.rand(2, 3, 37, 53, generator=generator)
    b = (a + 0.1 * torch.randn(2, 3, 37, 53, generator=generator)).clamp(0, 1)
    mu1, mu2 = blur(a), blur(b)
    s1, s2, s12 = blur(a * a) - mu1**2, blur(b * b) - mu2**2, blur(a * b) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    expected = (((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s1 + s2 + c2))).mean()
    torch.testing.assert_close(calculate_ssim(a, b), expected, rtol=1e-6, atol=0)


def test_psnr_mean_leaves_out_exact_frames_but_keeps_nan():
    import math

    from utils.metrics import count_exact, mean_psnr

    assert mean_psnr([30.0, math.inf, 40.0]) == 35.0 and count_exact([30.0, math.inf, 40.0]) == 1
    assert mean_psnr([math.inf, math.inf]) == math.inf  # every frame exact: the honest mean
    assert math.isnan(mean_psnr([30.0, math.nan])) and math.isnan(mean_psnr([]))  # a broken score is not hidden
