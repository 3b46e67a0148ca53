"""Synthetic scenes of the starter set: layered photographs in affine motion, rendered with exact flow.

A public-domain / CC0 photograph shipped with scikit-image is the background, moving by a small
global affine (camera motion); 1-3 pieces cut from other photographs (ellipses or star-shaped
polygons) move over it, each with its own affine motion, composited in depth order so that they
occlude each other and the background. Every motion is linear in time, so the frame rendered at
t = 0.5 is exactly the middle frame, and :func:`scene_flow` gives exact flow labels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Optional, Tuple

import numpy as np

from utils.errors import InputError

__all__ = [
    "PHOTOS",
    "Size",
    "load_photos",
    "Motion",
    "Layer",
    "Scene",
    "random_scene",
    "render_scene",
    "scene_flow",
    "SPLIT_STREAMS",
    "synthetic_scene",
    "triplet_frames",
    "triplet_flow_labels",
    "synthetic_triplet",
]

Size = Tuple[int, int]  # (width, height), as the command line and PIL take it


# Photographs of scikit-image that may be used freely (public domain, CC0, or no known copyright
# restrictions per skimage.data's docstrings). The grey CC0 textures are used as grey RGB.
PHOTOS: Dict[str, str] = {
    "astronaut": "NASA, public domain",
    "coffee": "Rachel Michetti, CC0",
    "chelsea": "Stefan van der Walt, CC0",
    "rocket": "SpaceX, public domain",
    "hubble_deep_field": "NASA, public domain",
    "retina": "Mikael Haggstrom, CC0",
    "immunohistochemistry": "CMMI, no known copyright restrictions",
    "camera": "Lav Varshney, CC0",
    "brick": "CC0Textures, CC0",
    "grass": "linolafett, CC0",
    "gravel": "CC0Textures, CC0",
}


@lru_cache(maxsize=1)
def load_photos() -> Tuple[np.ndarray, ...]:
    """The :data:`PHOTOS` as read-only (H, W, 3) uint8 RGB arrays, in that order."""
    try:
        import skimage.data
    except ImportError:
        raise InputError("the starter set's synthetic scenes use scikit-image's photographs: pip install scikit-image") from None
    photos = []
    for name in PHOTOS:
        image = np.asarray(getattr(skimage.data, name)(), dtype=np.uint8)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        image = np.ascontiguousarray(image[:, :, :3])
        image.setflags(write=False)
        photos.append(image)
    return tuple(photos)


@dataclass(frozen=True)
class Motion:
    """A similarity motion linear in time, given at the middle instant t = 0.5.

    The layer point ``anchor`` appears at ``centre + (t - 0.5) * shift``, rotated by
    ``(t - 0.5) * rotation`` radians and scaled by ``exp((t - 0.5) * log_zoom)`` about it.
    """

    anchor: Tuple[float, float]
    centre: Tuple[float, float]
    shift: Tuple[float, float] = (0.0, 0.0)
    rotation: float = 0.0
    log_zoom: float = 0.0

    def matrix(self, t: float) -> np.ndarray:
        """The 2x3 affine mapping layer pixels to frame pixels at time ``t``."""
        dt = t - 0.5
        scale = math.exp(dt * self.log_zoom)
        cos, sin = scale * math.cos(dt * self.rotation), scale * math.sin(dt * self.rotation)
        cx, cy = self.centre[0] + dt * self.shift[0], self.centre[1] + dt * self.shift[1]
        ax, ay = self.anchor
        return np.array([[cos, -sin, cx - cos * ax + sin * ay], [sin, cos, cy - sin * ax - cos * ay]], dtype=np.float64)


@dataclass(frozen=True)
class Layer:
    """An image (float32 RGB) with an alpha mask (float32 in [0, 1], None: opaque) and its motion."""

    image: np.ndarray
    mask: Optional[np.ndarray]
    motion: Motion


@dataclass(frozen=True)
class Scene:
    """Layers back to front; the first is the opaque background. ``size`` is (width, height)."""

    size: Size
    layers: Tuple[Layer, ...]


def _prescaled(photo: np.ndarray, scale: float, flip: bool) -> np.ndarray:
    """The photo resized by ``scale`` with area averaging (so later warps do not alias), as float32."""
    import cv2

    image = photo[:, ::-1] if flip else photo
    height, width = image.shape[:2]
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA).astype(np.float32)


def _piece_mask(rng: np.random.Generator, shape: Tuple[int, int], centre: Tuple[float, float], radius: float) -> np.ndarray:
    """An anti-aliased ellipse or star-shaped polygon mask of about ``radius`` pixels, float32 in [0, 1]."""
    import cv2

    shift = 4  # cv2 draws with 4 fractional bits, so the outline is placed to 1/16 pixel
    mask = np.zeros(shape, dtype=np.uint8)
    centre_fixed = (int(round(centre[0] * 16)), int(round(centre[1] * 16)))
    if rng.random() < 0.5:
        axes = (int(round(radius * 16)), int(round(radius * rng.uniform(0.45, 1.0) * 16)))
        cv2.ellipse(mask, centre_fixed, axes, float(rng.uniform(0, 180)), 0, 360, 255, -1, cv2.LINE_AA, shift)
    else:
        count = int(rng.integers(5, 11))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radii = radius * rng.uniform(0.45, 1.0, count)
        points = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift)
    return mask.astype(np.float32) / 255.0


def _random_shift(rng: np.random.Generator, largest: float) -> Tuple[float, float]:
    """A displacement of uniformly random direction and length in [0, largest] pixels."""
    length, angle = rng.uniform(0.0, largest), rng.uniform(0.0, 2 * np.pi)
    return (float(length * np.cos(angle)), float(length * np.sin(angle)))


def random_scene(
    rng: np.random.Generator,
    size: Size = (448, 256),
    *,
    max_shift: float = 24.0,
    max_background_shift: float = 12.0,
    photos: Optional[Sequence[np.ndarray]] = None,
) -> Scene:
    """A random scene: a moving background photo and 1-3 moving pieces of other photos over it.

    Shifts are the displacements between t = 0 and t = 1: up to ``max_shift`` pixels for the
    pieces (with up to +-5 degrees of rotation and +-8% of zoom) and ``max_background_shift`` for
    the background (+-2 degrees, +-3%; one scene in five has a still background).
    """
    width, height = size
    photos = load_photos() if photos is None else photos
    background_index = int(rng.integers(len(photos)))
    photo = photos[background_index]
    # Scale so the photo covers the frame with room to move, then show a random part of it.
    scale = max(width / photo.shape[1], height / photo.shape[0]) * rng.uniform(1.15, 1.6)
    image = _prescaled(photo, scale, bool(rng.random() < 0.5))
    margin_x, margin_y = width / 2 + max_background_shift, height / 2 + max_background_shift
    anchor = (
        rng.uniform(min(margin_x, image.shape[1] / 2), max(image.shape[1] - margin_x, image.shape[1] / 2)),
        rng.uniform(min(margin_y, image.shape[0] / 2), max(image.shape[0] - margin_y, image.shape[0] / 2)),
    )
    still = rng.random() < 0.2
    background = Layer(
        image,
        None,
        Motion(
            anchor=anchor,
            centre=(width / 2, height / 2),
            shift=(0.0, 0.0) if still else _random_shift(rng, max_background_shift),
            rotation=0.0 if still else math.radians(rng.uniform(-2.0, 2.0)),
            log_zoom=0.0 if still else rng.uniform(-0.03, 0.03),
        ),
    )
    layers = [background]
    others = [i for i in range(len(photos)) if i != background_index] or [background_index]
    for _ in range(int(rng.integers(1, 4))):
        photo = photos[others[int(rng.integers(len(others)))]]
        image = _prescaled(photo, rng.uniform(0.4, 1.0), bool(rng.random() < 0.5))
        radius = rng.uniform(0.08, 0.3) * min(width, height) * rng.uniform(1.0, 1.6)
        # The piece lies inside its photo with a few pixels to spare, so its anti-aliased edge
        # never samples the black outside the photo.
        radius = min(radius, min(image.shape[:2]) / 2 - 4)
        centre_in_photo = (
            rng.uniform(radius + 3, image.shape[1] - radius - 3),
            rng.uniform(radius + 3, image.shape[0] - radius - 3),
        )
        layers.append(
            Layer(
                image,
                _piece_mask(rng, image.shape[:2], centre_in_photo, radius),
                Motion(
                    anchor=centre_in_photo,
                    centre=(rng.uniform(0, width), rng.uniform(0, height)),
                    shift=_random_shift(rng, max_shift),
                    rotation=math.radians(rng.uniform(-5.0, 5.0)),
                    log_zoom=rng.uniform(-0.08, 0.08),
                ),
            )
        )
    return Scene(size, tuple(layers))


def render_scene(scene: Scene, t: float) -> np.ndarray:
    """The frame at time ``t`` as (H, W, 3) uint8 RGB: every layer warped (bilinear) and composited."""
    import cv2

    frame = None
    for layer in scene.layers:
        matrix = layer.motion.matrix(t)
        border = cv2.BORDER_REFLECT_101 if layer.mask is None else cv2.BORDER_CONSTANT
        colour = cv2.warpAffine(layer.image, matrix, scene.size, flags=cv2.INTER_LINEAR, borderMode=border)
        if layer.mask is None:
            frame = colour
            continue
        alpha = cv2.warpAffine(layer.mask, matrix, scene.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[:, :, None]
        frame = frame * (1.0 - alpha) + colour * alpha
    return np.clip(np.rint(frame), 0, 255).astype(np.uint8)


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    return np.vstack([matrix, (0.0, 0.0, 1.0)])


def scene_flow(scene: Scene, t: float, target: float) -> np.ndarray:
    """The exact optical flow from the frame at ``t`` to the frame at ``target``, (H, W, 2) float32 (u, v).

    At each pixel it is the motion of the surface seen there at ``t``: the topmost layer whose
    anti-aliased alpha reaches 0.5, as :func:`render_scene` composites them. This is the label the
    network's backward warp wants, also where that surface is hidden at ``target`` (occlusion),
    which an estimator such as DIS, matching appearance, cannot give.
    """
    import cv2

    width, height = scene.size
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    flow = np.empty((height, width, 2), dtype=np.float32)
    for layer in scene.layers:
        now = layer.motion.matrix(t)
        mapping = _homogeneous(layer.motion.matrix(target)) @ np.linalg.inv(_homogeneous(now))
        u = mapping[0, 0] * xs + mapping[0, 1] * ys + mapping[0, 2] - xs
        v = mapping[1, 0] * xs + mapping[1, 1] * ys + mapping[1, 2] - ys
        if layer.mask is None:
            flow[..., 0], flow[..., 1] = u, v
            continue
        alpha = cv2.warpAffine(layer.mask, now, scene.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        visible = alpha >= 0.5
        flow[visible, 0], flow[visible, 1] = u[visible], v[visible]
    return flow


SPLIT_STREAMS = {"train": 0, "test": 1}


def synthetic_scene(seed: int, index: int, split: str = "train", size: Size = (448, 256), max_shift: float = 24.0) -> Scene:
    """Synthetic scene ``index`` of ``split``; a function of its arguments only.

    Each scene draws from its own generator seeded by (seed, split, index), so a scene does not
    depend on how many others are built, and train and test scenes never coincide.
    """
    return random_scene(np.random.default_rng([seed, SPLIT_STREAMS[split], index]), size, max_shift=max_shift)


def triplet_frames(scene: Scene) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The frames of ``scene`` at t = 0, 0.5 and 1."""
    return render_scene(scene, 0.0), render_scene(scene, 0.5), render_scene(scene, 1.0)


def triplet_flow_labels(scene: Scene) -> Tuple[np.ndarray, np.ndarray]:
    """The exact labels (flow_t0, flow_t1) of ``scene``'s triplet: from the middle frame to the outer ones."""
    return scene_flow(scene, 0.5, 0.0), scene_flow(scene, 0.5, 1.0)


def synthetic_triplet(
    seed: int, index: int, split: str = "train", size: Size = (448, 256), max_shift: float = 24.0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames at t = 0, 0.5, 1 of :func:`synthetic_scene` ``index`` of ``split``."""
    return triplet_frames(synthetic_scene(seed, index, split, size, max_shift))
