"""Backward warping with dense optical flow, as IFRNet defines it."""
from __future__ import annotations

import functools
from typing import Optional

import torch
import torch.nn.functional as F

__all__ = ["warp", "resize"]


@functools.lru_cache(maxsize=32)
def _base_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Normalised sampling grid (1, 2, H, W) in [-1, 1], x first, float32, on ``device``; cached.

    Built with ``linspace`` exactly as the reference does, so warped values agree to the last bit.
    Made once per (H, W, device) on the device itself: a forward warps eight times, and building
    the grid on the host and copying it over each time cost a full-resolution transfer per warp.
    Callers add to it (never in place) and broadcast it over the batch.
    """
    with torch.inference_mode(False), torch.no_grad():  # a normal tensor, usable later in training
        xs = torch.linspace(-1.0, 1.0, width, device=device).view(1, 1, 1, width).expand(1, 1, height, width)
        ys = torch.linspace(-1.0, 1.0, height, device=device).view(1, 1, height, 1).expand(1, 1, height, width)
        return torch.cat([xs, ys], 1)


def warp(image: torch.Tensor, flow: torch.Tensor, *, out: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Sample ``image`` at ``p + flow(p)`` for every output pixel ``p``.

    ``flow`` is (B, 2, H, W) in pixels (u along width, v along height). Sampling is bilinear with
    border padding and ``align_corners=True``: pixel centres sit on the grid corners, so a flow of
    one pixel moves content by exactly one pixel. Sampling positions are computed in float32 even
    for float16 flows under autocast (float16 positions are off by up to a tenth of a pixel on wide
    maps); only without autocast, where grid_sample needs one dtype, does the grid follow a
    half-precision image.

    ``out``, if given, receives the result and is returned: a (B, C, H, W) tensor of any layout and
    dtype, such as a channel slice of the next layer's input, written without a whole-frame
    temporary.
    """
    if flow.dim() != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B, 2, H, W), got {tuple(flow.shape)}")
    if image.dim() != 4 or image.shape[0] != flow.shape[0] or image.shape[2:] != flow.shape[2:]:
        raise ValueError(
            f"image must be (B, C, H, W) matching flow {tuple(flow.shape)}, got {tuple(image.shape)}"
        )
    _, _, height, width = flow.shape
    flow = flow.to(torch.promote_types(flow.dtype, torch.float32))
    flow_normalised = torch.cat(
        [flow[:, 0:1] / ((width - 1.0) / 2.0), flow[:, 1:2] / ((height - 1.0) / 2.0)], 1
    )
    grid = (_base_grid(height, width, flow.device) + flow_normalised).permute(0, 2, 3, 1)
    if grid.dtype != image.dtype and not torch.is_autocast_enabled(image.device.type):
        grid = grid.to(image.dtype)
    bands = _row_bands(image, height)
    if bands == 1:
        sampled = _sample(image, grid)
        return sampled if out is None else out.copy_(sampled)
    # One call samples the bands side by side as a batch of views of the same image; each output
    # pixel is computed exactly as before, so the values are bit for bit those of a single band.
    sampled = _sample(image.expand(bands, -1, -1, -1), grid.view(bands, height // bands, width, 2))
    if out is None:
        out = sampled.new_empty((1, image.shape[1], height, width))
    for band, rows in zip(sampled, out.split(height // bands, dim=2)):
        rows.copy_(band)
    return out


def _sample(image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _row_bands(image: torch.Tensor, height: int) -> int:
    """How many row bands to sample a single image in: torch's CPU grid_sample shares its work among
    threads by batch item only, so one image runs on one thread (1080p inference spends 0.3 s per
    frame there on any number of cores). Bands split the rows evenly among the threads; 1 off the
    CPU, for batches, under autograd (whose backward would need the expanded views' gradients), and
    while tracing (an exported graph must not carry this machine's thread count, nor batch 1).
    """
    if image.device.type != "cpu" or image.shape[0] != 1 or torch.is_grad_enabled() or torch.jit.is_tracing():
        return 1
    threads = min(torch.get_num_threads(), height)
    return max(bands for bands in range(1, threads + 1) if height % bands == 0)


def resize(x: torch.Tensor, scale_factor: float) -> torch.Tensor:
    """Bilinear resize by a scale factor (``align_corners=False``), the reference's only resampler.

    The scale factor (not a target size) drives the coordinate mapping, as in the reference, so
    non-integer scales such as 0.8 reproduce its results exactly.
    """
    return F.interpolate(x, scale_factor=scale_factor, mode="bilinear", align_corners=False)
