"""The losses on their own: values on known inputs and where gradients may flow."""
import math

import pytest
import torch

from models.losses import (
    AdaptiveCharbonnierLoss,
    CensusLoss,
    CharbonnierLoss,
    GeometryConsistencyLoss,
    census_distance,
    robust_flow_weight,
)


def census_transform(x, patch_size, per_channel):
    """The soft census (ternary) transform written out, which the losses fuse and never build:
    normalised neighbour differences d / sqrt(0.81 + d^2), as (B, K, H, W) with K = patch_size**2
    (grey: the channel mean) or (B, C*K, H, W) with ``per_channel``; neighbours outside count as 0."""
    batch, channels, height, width = x.shape
    maps = x.reshape(batch * channels, 1, height, width) if per_channel else x.mean(dim=1, keepdim=True)
    radius = patch_size // 2
    padded = torch.nn.functional.pad(maps, [radius] * 4)
    diffs = torch.cat(
        [padded[:, :, dy : dy + height, dx : dx + width] for dy in range(patch_size) for dx in range(patch_size)], 1
    ) - maps
    return (diffs / torch.sqrt(0.81 + diffs**2)).reshape(batch, -1, height, width)


def test_charbonnier_is_a_smooth_l1():
    diff = torch.tensor([0.0, 3.0, -4.0])
    expected = (math.sqrt(1e-6) + math.sqrt(9 + 1e-6) + math.sqrt(16 + 1e-6)) / 3
    assert math.isclose(CharbonnierLoss()(diff).item(), expected, rel_tol=1e-6)
    mask = torch.tensor([0.0, 1.0, 0.0])
    assert math.isclose(CharbonnierLoss()(diff, mask).item(), math.sqrt(9 + 1e-6), rel_tol=1e-5)


def test_census_transform_matches_an_identity_kernel_convolution():
    """The reference computes neighbours with a one-hot 7x7 convolution; ours slices. Same numbers."""
    x = torch.rand(2, 3, 20, 24)
    grey = x.mean(1, keepdim=True)
    kernel = torch.eye(49).view(49, 1, 7, 7)
    diffs = torch.nn.functional.conv2d(grey, kernel, padding=3) - grey
    expected = diffs / torch.sqrt(0.81 + diffs**2)
    torch.testing.assert_close(census_transform(x, 7, per_channel=False), expected, rtol=0, atol=1e-7)
    per_channel = census_transform(x, 3, per_channel=True)
    assert per_channel.shape == (2, 27, 20, 24)


def test_census_is_zero_for_identical_images_and_ignores_the_border():
    x = torch.rand(1, 3, 16, 16)
    assert CensusLoss()(x, x).item() == 0.0
    y = x.clone()
    y[..., :3, :] = 1 - y[..., :3, :]  # only rows the border mask hides, and their neighbours
    assert CensusLoss()(x, y).item() > 0  # neighbourhoods of inner pixels reach into the change
    z = torch.zeros(1, 3, 16, 16)
    assert CensusLoss()(z, z + 0.3).item() == 0.0  # a brightness shift is invisible to census


def test_census_target_is_detached_and_geometry_is_not():
    pred, target = torch.rand(1, 3, 16, 16, requires_grad=True), torch.rand(1, 3, 16, 16, requires_grad=True)
    CensusLoss()(pred, target).backward()
    assert pred.grad.abs().sum() > 0 and target.grad is None
    feat_pred, feat_target = torch.rand(1, 4, 8, 8, requires_grad=True), torch.rand(1, 4, 8, 8, requires_grad=True)
    GeometryConsistencyLoss()(feat_pred, feat_target).backward()
    assert feat_pred.grad.abs().sum() > 0 and feat_target.grad.abs().sum() > 0


def test_robust_weight_and_adaptive_charbonnier():
    pred = torch.zeros(1, 2, 4, 4, requires_grad=True)
    label = torch.zeros(1, 2, 4, 4)
    label[:, 0, 0, 0] = 3.0
    label[:, 1, 0, 0] = 4.0  # EPE 5 at one pixel
    weight = robust_flow_weight(pred, label, beta=0.3)
    assert not weight.requires_grad
    assert math.isclose(weight[0, 0, 0, 0].item(), math.exp(-1.5), rel_tol=1e-6)
    assert weight[0, 0, 1, 1].item() == 1.0
    diff = torch.full((1, 2, 4, 4), 0.5)
    ones = torch.ones(1, 1, 4, 4)
    eps = 10 ** (-(10 - 1) / 3)
    assert math.isclose(AdaptiveCharbonnierLoss()(diff, ones).item(), (0.25 + eps**2) ** 0.5, rel_tol=1e-6)
    assert AdaptiveCharbonnierLoss()(diff, torch.zeros_like(ones)).item() == 1.0  # power 0: no pull


def explicit_census_loss(x, y, patch_size, per_channel):
    """The reference formulation, written out: full transforms, zero padding, border mask."""
    tx, ty = census_transform(x, patch_size, per_channel), census_transform(y, patch_size, per_channel)
    diff = tx - ty
    batch, _, height, width = x.shape
    dist = (diff**2 / (0.1 + diff**2)).mean(1, keepdim=True)
    radius = patch_size // 2
    mask = torch.nn.functional.pad(torch.ones(batch, 1, height - 2 * radius, width - 2 * radius, dtype=x.dtype), [radius] * 4)
    return (dist * mask).mean()


@pytest.mark.parametrize("patch_size, per_channel", [(7, False), (3, True)])
def test_fused_census_equals_the_explicit_formulation_with_gradients(patch_size, per_channel):
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(2, 4, 19, 23, dtype=torch.float64, generator=generator, requires_grad=True)
    y = torch.rand(2, 4, 19, 23, dtype=torch.float64, generator=generator, requires_grad=True)
    expected = explicit_census_loss(x, y, patch_size, per_channel)
    expected_grads = torch.autograd.grad(expected, [x, y])
    fused = census_distance(x, y, patch_size, per_channel)
    fused_grads = torch.autograd.grad(fused, [x, y])
    torch.testing.assert_close(fused, expected, rtol=1e-12, atol=0)
    for got, want in zip(fused_grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-16)


# ---------------------------------------------------------------------------------------------
# precision under autocast and the chunking policy per device (see GPU.md)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_census_of_half_precision_features_is_summed_in_float32(dtype):
    """Geometry-loss sized work (1.8 M terms): a float16 running sum passes 65504 and reads inf."""
    generator = torch.Generator().manual_seed(3)
    x = torch.rand(1, 16, 112, 112, generator=generator)
    y = torch.rand(1, 16, 112, 112, generator=generator)
    x32, y32 = x.clone().requires_grad_(), y.clone().requires_grad_()
    expected = census_distance(x32, y32, 3, per_channel=True)
    expected.backward()
    xh, yh = x.to(dtype).requires_grad_(), y.to(dtype).requires_grad_()
    got = census_distance(xh, yh, 3, per_channel=True)
    got.backward()
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert abs(got.item() - expected.item()) < 0.01 * expected.item()
    for low, full in ((xh.grad, x32.grad), (yh.grad, y32.grad)):
        assert low.dtype == dtype
        assert float((low.float() - full).norm() / full.norm()) < 0.05


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_training_losses_under_cpu_autocast_are_float32_and_close_to_float32(dtype):
    from models import build_model

    torch.manual_seed(0)
    model = build_model("IFRNet_S")
    generator = torch.Generator().manual_seed(0)
    img0, img1, imgt = (torch.rand(1, 3, 48, 48, generator=generator) for _ in range(3))
    flow = torch.randn(1, 4, 48, 48, generator=generator) * 2
    embt = torch.full((1, 1, 1, 1), 0.5)

    def losses_and_gradients(autocast):
        model.zero_grad()
        with autocast:
            losses = model(img0, img1, embt, imgt, flow)[1:]
        sum(losses).backward()
        return losses, torch.cat([p.grad.flatten() for p in model.parameters()])

    full, full_grads = losses_and_gradients(torch.autocast("cpu", enabled=False))
    low, low_grads = losses_and_gradients(torch.autocast("cpu", dtype=dtype))
    for got, want in zip(low, full):
        assert got.dtype == torch.float32 and torch.isfinite(got)
        assert abs(got.item() - want.item()) <= 0.01 * abs(want.item())
    assert float((low_grads - full_grads).norm() / full_grads.norm()) < 0.05


def test_census_chunking_follows_the_device_and_never_changes_the_value():
    from models.losses import census_chunk_elements

    assert census_chunk_elements("cpu") == 1 << 16  # the CPU's cache-sized pieces (float32 sums pinned by the goldens)
    assert census_chunk_elements("cuda") is None  # one pass per neighbour offset: few kernel launches
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(1, 40, 48, 48, generator=generator, dtype=torch.float64, requires_grad=True)  # 2 CPU chunks
    y = torch.rand(1, 40, 48, 48, generator=generator, dtype=torch.float64, requires_grad=True)
    values = {}
    for kind in ("cpu", "cuda"):
        value = census_distance(x, y, 3, per_channel=True, device_type=kind)
        values[kind] = (value, *torch.autograd.grad(value, [x, y]))
    for cpu, cuda in zip(values["cpu"], values["cuda"]):
        torch.testing.assert_close(cpu, cuda, rtol=1e-12, atol=1e-18)


def test_training_step_op_count_per_device_kind():
    """GPU kernel launches per step (ATen ops, counted on the CPU): the GPU chunking does not grow with the
    image, the CPU's cache-sized chunks do. At Vimeo's batch 6, crop 224, IFRNet: 56,757 ops per step with
    the CPU chunking (what CUDA ran before), 6,304 with the CUDA one (benchmarks/train_speed.py --count_ops)."""
    from benchmarks.train_speed import count_step_ops, make_inputs
    from models import build_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # dispatch-mode counting is Python-bound: a second thread only contends
    torch.manual_seed(0)
    model = build_model("IFRNet_S")
    small, large = (make_inputs(2, size, True, torch.device("cpu")) for size in (48, 96))
    cuda_small, cuda_large = count_step_ops(model, small, "cuda"), count_step_ops(model, large, "cuda")
    cpu_large = count_step_ops(model, large, "cpu")
    torch.set_num_threads(threads)
    assert cuda_small == cuda_large  # one pass per neighbour offset, whatever the size
    assert cpu_large["forward"] > cuda_large["forward"] and cpu_large["backward"] > cuda_large["backward"]
    assert cuda_large["optimizer"] < cpu_large["optimizer"]  # foreach AdamW, CUDA's default
    assert all(module.chunk_device is None for module in model.modules() if hasattr(module, "chunk_device"))
