"""Backward warping with dense optical flow, as IFRNet defines it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["warp", "resize"]


def _base_grid(batch: int, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Normalised sampling grid (B, 2, H, W) in [-1, 1], x first.

    Built with ``linspace`` exactly as the reference does, so warped values agree to the last bit.
    """
    xs = torch.linspace(-1.0, 1.0, width).view(1, 1, 1, width).expand(batch, -1, height, -1)
    ys = torch.linspace(-1.0, 1.0, height).view(1, 1, height, 1).expand(batch, -1, -1, width)
    return torch.cat([xs, ys], 1).to(like)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` at ``p + flow(p)`` for every output pixel ``p``.

    ``flow`` is (B, 2, H, W) in pixels (u along width, v along height). Sampling is bilinear with
    border padding and ``align_corners=True``: pixel centres sit on the grid corners, so a flow of
    one pixel moves content by exactly one pixel.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B, 2, H, W), got {tuple(flow.shape)}")
    if image.dim() != 4 or image.shape[0] != flow.shape[0] or image.shape[2:] != flow.shape[2:]:
        raise ValueError(
            f"image must be (B, C, H, W) matching flow {tuple(flow.shape)}, got {tuple(image.shape)}"
        )
    batch, _, height, width = flow.shape
    grid = _base_grid(batch, height, width, image)
    flow_normalised = torch.cat(
        [flow[:, 0:1] / ((width - 1.0) / 2.0), flow[:, 1:2] / ((height - 1.0) / 2.0)], 1
    )
    grid = (grid + flow_normalised).permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def resize(x: torch.Tensor, scale_factor: float) -> torch.Tensor:
    """Bilinear resize by a scale factor (``align_corners=False``), the reference's only resampler.

    The scale factor (not a target size) drives the coordinate mapping, as in the reference, so
    non-integer scales such as 0.8 reproduce its results exactly.
    """
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)
