"""How a video's frames are shown: the axis-aligned part of its display matrix (phones store frames
sideways or mirrored and let the player turn them).

A video output keeps the display matrix, so its frames need no change; an image, a GIF or a
montage has none to keep, so its frames are turned and mirrored here to look as a player shows them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

__all__ = ["Orientation", "orientation_from_matrix"]

_ONE = 1 << 16  # the display matrix's 2x2 part is 16.16 fixed point


@dataclass(frozen=True)
class Orientation:
    """One of the eight turns and mirrors of a frame: transposed first, then flipped.

    ``transpose`` swaps rows and columns (width and height trade places); ``flip_rows`` turns the
    result upside down; ``flip_columns`` mirrors it left to right. The identity changes nothing."""

    transpose: bool = False
    flip_rows: bool = False
    flip_columns: bool = False

    @property
    def is_identity(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_columns)

    def shape(self, width: int, height: int) -> Tuple[int, int]:
        """(width, height) of a ``width`` x ``height`` frame once oriented."""
        return (height, width) if self.transpose else (width, height)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """``image`` (H, W[, C]) as shown; a view where no copy is needed."""
        if self.transpose:
            image = image.swapaxes(0, 1)
        if self.flip_rows:
            image = image[::-1]
        if self.flip_columns:
            image = image[:, ::-1]
        return image


def orientation_from_matrix(matrix: Optional[Sequence[int]]) -> Optional[Orientation]:
    """The orientation a player shows frames with, from FFmpeg's 3x3 display matrix (9 int32, as in
    a frame's side data); the identity for None; None for a matrix that is not a quarter turn
    and/or a mirror (a 30 degree tilt): that is left to a player.

    FFmpeg's matrix maps a stored pixel (x, y), y down, to the shown one: x' = a x + c y,
    y' = b x + d y with a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]. A scaling on top
    of a quarter turn or a mirror (a player shows the frame larger, or stretched) still gives the
    turn and mirror: the frames keep their pixel size, only the display size is the player's.
    """
    if matrix is None:
        return Orientation()
    a, b, c, d = (matrix[i] / _ONE for i in (0, 1, 3, 4))
    tolerance = 1e-3 * max(abs(a), abs(b), abs(c), abs(d))  # relative, so a scaled matrix is judged as an unscaled one
    if tolerance == 0:
        return None
    zero = lambda value: abs(value) <= tolerance  # noqa: E731
    if zero(b) and zero(c) and not (zero(a) or zero(d)):  # x' = a x, y' = d y
        return Orientation(transpose=False, flip_rows=d < 0, flip_columns=a < 0)
    if zero(a) and zero(d) and not (zero(b) or zero(c)):  # x' = c y, y' = b x: transposed, then flipped
        return Orientation(transpose=True, flip_rows=b < 0, flip_columns=c < 0)
    return None
