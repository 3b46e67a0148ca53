"""Scene-cut detection: blending two unrelated shots gives a ghostly double exposure, not motion.

The measure is the mean absolute difference of the two frames in grey, after shrinking them to
about 64 pixels on their longer side, in grey levels on the 0-255 scale. Shrinking first makes it
independent of the resolution and insensitive to noise and small motion; within one shot it
stays mostly under 10 (fast motion reaches 15-20), while a cut between unrelated shots
is typically 40-80.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_SCENE_THRESHOLD", "scene_difference", "is_scene_cut", "thumbnail_grey", "thumbnail_difference"]

DEFAULT_SCENE_THRESHOLD = 30.0
_THUMBNAIL_SIDE = 64


def thumbnail_grey(frame: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> a small float32 grey image (block means, ~64 px on the longer side).

    The square blocks are at most the short side, so a strip (1024x8) still gives one row of
    blocks; a larger block would leave no pixel to compare, and the measure would be NaN.
    """
    grey = frame.astype(np.float32).mean(axis=2)
    block = max(1, min(max(grey.shape) // _THUMBNAIL_SIDE, min(grey.shape)))
    height, width = (grey.shape[0] // block) * block, (grey.shape[1] // block) * block
    grey = grey[:height, :width]
    return grey.reshape(height // block, block, width // block, block).mean(axis=(1, 3))


def thumbnail_difference(thumbnail0: np.ndarray, thumbnail1: np.ndarray) -> float:
    """The measure on thumbnails already made (a caller comparing a sequence makes each once)."""
    return float(np.abs(thumbnail0 - thumbnail1).mean())


def scene_difference(frame0: np.ndarray, frame1: np.ndarray) -> float:
    """Mean absolute grey difference of the two frames' thumbnails, in [0, 255]."""
    return thumbnail_difference(thumbnail_grey(frame0), thumbnail_grey(frame1))


def is_scene_cut(frame0: np.ndarray, frame1: np.ndarray, threshold: float) -> bool:
    """True when the frames differ by more than ``threshold``; a threshold <= 0 turns detection off."""
    return threshold > 0 and scene_difference(frame0, frame1) > threshold
