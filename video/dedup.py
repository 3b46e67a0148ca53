"""De-duplication: animation and screen recordings hold each picture for two or three frames.

Interpolating between two identical frames gives identical frames, so held pictures stay held and
the motion comes in jerks. Dropping the repeats before interpolation leaves the distinct pictures
at their own timestamps; the output clock then fills the dropped positions with in-between frames
of the pictures around them, so a picture held for two frames becomes motion and the output
keeps the input's timing and frame count.

The measure is the one scene-cut detection uses (:mod:`utils.scene`): mean absolute grey difference,
0-255, of frames shrunk to ~64 pixels, here against the last frame kept.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from utils.scene import thumbnail_grey

__all__ = ["HeldFrameFilter"]


class HeldFrameFilter:
    """Passes on frames (SourceFrame-like: ``.image``) that differ from the last one passed on by
    at least ``threshold``; the first frame always passes. ``dropped`` counts the others."""

    def __init__(self, threshold: float) -> None:
        if threshold < 0:
            raise ValueError(f"the de-duplication threshold must be at least 0, got {threshold}")
        self.threshold = threshold
        self.dropped = 0

    def __call__(self, frames: Iterable) -> Iterator:
        kept = None
        for frame in frames:
            thumbnail = thumbnail_grey(frame.image)
            if kept is not None and float(np.abs(thumbnail - kept).mean()) < self.threshold:
                self.dropped += 1
                continue
            kept = thumbnail
            yield frame
