"""Image quality metrics exactly as IFRNet's evaluations compute them: PSNR, 3-D SSIM and IE.

The reference fixes its SSIM window on the CUDA device at import time; here every tensor is
created on the input's device and dtype, so the same call works on CPU and GPU.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["calculate_psnr", "calculate_ssim", "calculate_ie"]


def calculate_psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB for images in [0, 1]: -10 log10(MSE). The prediction is not quantised."""
    return -10 * torch.log10(((pred - target) * (pred - target)).mean())


def calculate_ie(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Middlebury interpolation error: mean absolute difference of the 8-bit quantised images."""
    return torch.abs(torch.round(pred * 255.0) - torch.round(target * 255.0)).mean()


@lru_cache(maxsize=8)
def _gaussian_window_3d(size: int, sigma: float = 1.5) -> torch.Tensor:
    """Separable, normalised size^3 Gaussian window shaped (1, 1, size, size, size), on the CPU."""
    gauss = torch.tensor([math.exp(-((x - size // 2) ** 2) / float(2 * sigma**2)) for x in range(size)])
    gauss = (gauss / gauss.sum()).unsqueeze(1)
    plane = gauss.mm(gauss.t())
    return (plane.unsqueeze(2) @ gauss.t()).expand(1, 1, size, size, size).contiguous()


def _dynamic_range(image: torch.Tensor) -> float:
    """The reference's guess of the value range: 255 if values exceed 128, and [-1, 1] if negative."""
    max_val = 255 if torch.max(image) > 128 else 1
    min_val = -1 if torch.min(image) < -0.5 else 0
    return max_val - min_val


def calculate_ssim(pred: torch.Tensor, target: torch.Tensor, *, window_size: int = 11) -> torch.Tensor:
    """SSIM of (B, C, H, W) images as the reference defines it: one 3-D volume per sample.

    Channels are a third spatial axis: an 11x11x11 Gaussian window slides over (C, H, W) with
    replicate padding of 5 on every axis, and the map is averaged. This is not the usual per-channel
    2-D SSIM; it is kept because the paper's SSIM numbers were measured with it.
    """
    if pred.shape != target.shape or pred.dim() != 4:
        raise ValueError(f"expected two (B, C, H, W) tensors of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    dynamic_range = _dynamic_range(pred)
    height, width = pred.shape[2:]
    window = _gaussian_window_3d(min(window_size, height, width)).to(pred)

    img1, img2 = pred.unsqueeze(1), target.unsqueeze(1)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv3d(F.pad(x, (5, 5, 5, 5, 5, 5), mode="replicate"), window, padding=0, groups=1)

    mu1, mu2 = blur(img1), blur(img2)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    sigma1_sq = blur(img1 * img1) - mu1_sq
    sigma2_sq = blur(img2 * img2) - mu2_sq
    sigma12 = blur(img1 * img2) - mu1_mu2

    c1 = (0.01 * dynamic_range) ** 2
    c2 = (0.03 * dynamic_range) ** 2
    v1 = 2.0 * sigma12 + c2
    v2 = sigma1_sq + sigma2_sq + c2
    ssim_map = ((2 * mu1_mu2 + c1) * v1) / ((mu1_sq + mu2_sq + c1) * v2)
    return ssim_map.mean()
