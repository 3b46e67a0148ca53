"""Pictures of what IFRNet predicts for one frame: its two flows, its merge mask, its residual.

The paper's figures show these to explain the method; ``demo_2x.py --visualize`` and the web app
draw them with the functions here. Inputs are one frame's fields without the batch dimension
(see ``models.network.Fields``): flows (2, H, W) in pixels, mask (1, H, W) in [0, 1], residual
(3, H, W). Outputs are HxWx3 uint8 RGB images.

- Flows use torchvision's ``flow_to_image`` colour wheel (hue = direction, saturation = length),
  both normalised by the same largest motion so their colours compare.
- The mask is greyscale: white where the frame is taken from img0, black where from img1.
- The residual is drawn as a heat map of its mean absolute value over the colour channels,
  black for none up to yellow-white at the largest value in the frame (or ``residual_range``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from utils.image_io import write_image

__all__ = ["FIELD_NAMES", "flow_images", "mask_image", "residual_image", "field_images", "panel", "write_field_images"]

FIELD_NAMES = ("flow_t0", "flow_t1", "mask", "residual")

# A black -> red -> yellow -> white ramp ("hot"): dark where the residual does nothing.
_HEAT_STOPS = np.array([[0, 0, 0], [180, 20, 0], [255, 160, 0], [255, 255, 220]], dtype=np.float32)


def _to_uint8_hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).contiguous().numpy()


def flow_images(flow0: torch.Tensor, flow1: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """The flows t->0 and t->1 as colour-wheel images sharing one normalisation."""
    for name, flow in (("flow0", flow0), ("flow1", flow1)):
        if flow.dim() != 3 or flow.shape[0] != 2:
            raise ValueError(f"{name} must be (2, H, W), got {tuple(flow.shape)}")
    # Imported here: torchvision's import takes seconds (its ops load torch's compiler), and the demos
    # and the web app import this module whether or not they draw any fields.
    from torchvision.utils import flow_to_image

    # flow_to_image normalises by the largest motion of its whole batch: one batch, one scale.
    pictures = flow_to_image(torch.stack([flow0, flow1]).float().cpu())
    return _to_uint8_hwc(pictures[0]), _to_uint8_hwc(pictures[1])


def mask_image(mask: torch.Tensor) -> np.ndarray:
    """The merge mask (weight of warped img0) as a greyscale image."""
    if mask.dim() != 3 or mask.shape[0] != 1:
        raise ValueError(f"mask must be (1, H, W), got {tuple(mask.shape)}")
    grey = (mask.float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
    return _to_uint8_hwc(grey.expand(3, -1, -1))


def residual_image(residual: torch.Tensor, residual_range: Optional[float] = None) -> np.ndarray:
    """The residual's mean absolute value as a heat map, scaled to ``residual_range`` (default:
    its largest value in this frame)."""
    if residual.dim() != 3 or residual.shape[0] != 3:
        raise ValueError(f"residual must be (3, H, W), got {tuple(residual.shape)}")
    magnitude = residual.float().cpu().abs().mean(0).numpy()
    top = float(residual_range) if residual_range is not None else float(magnitude.max())
    level = np.clip(magnitude / top, 0, 1) if top > 0 else np.zeros_like(magnitude)
    position = level * (len(_HEAT_STOPS) - 1)
    lower = np.minimum(position.astype(np.int64), len(_HEAT_STOPS) - 2)
    weight = (position - lower)[..., None]
    colours = _HEAT_STOPS[lower] * (1 - weight) + _HEAT_STOPS[lower + 1] * weight
    return colours.round().astype(np.uint8)


def field_images(flow0: torch.Tensor, flow1: torch.Tensor, mask: torch.Tensor, residual: torch.Tensor) -> Dict[str, np.ndarray]:
    """All four pictures of one frame's fields, keyed by :data:`FIELD_NAMES`."""
    flow_t0, flow_t1 = flow_images(flow0, flow1)
    return dict(zip(FIELD_NAMES, (flow_t0, flow_t1, mask_image(mask), residual_image(residual))))


def panel(rows: Sequence[Sequence[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Equally sized images tiled in rows with a white ``gap``; short rows are padded white."""
    height, width = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    out = np.full((len(rows) * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            if image.shape[:2] != (height, width):
                raise ValueError(f"panel images must all be {width}x{height}, got {image.shape[1]}x{image.shape[0]}")
            top, left = r * (height + gap), c * (width + gap)
            out[top : top + height, left : left + width] = image
    return out


def write_field_images(stem: Path, frame0, frame, frame1, fields) -> List[Path]:
    """``<stem>_<name>.png`` for each picture of :func:`utils.visualize.field_images`, and
    ``<stem>_fields.png``: the inputs and the frame above the flows, mask and residual."""
    pictures = field_images(*fields)
    written = []
    for name, picture in pictures.items():
        path = stem.with_name(f"{stem.name}_{name}.png")
        write_image(path, picture)
        written.append(path)
    path = stem.with_name(f"{stem.name}_fields.png")
    write_image(path, panel([[frame0, frame, frame1], list(pictures.values())]))
    written.append(path)
    return written
