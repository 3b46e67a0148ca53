"""One interpolated pair and its files: what ``demo_2x.py``/``demo_8x.py`` (``apps.demo.run_demo``) and
the web app's Frames job both run, so their frames, names and contents stay the same.

:func:`interpolate_pair` runs the interpolator (with the fields on request) and writes one PNG
per timestep (``interp_t0.500.png``), for each frame the pictures of the fields it was merged from
when asked (:func:`utils.visualize.write_field_images`), and an animated GIF of image 0, the
frames and image 1, one second a cycle. The interpolator is passed in: any
object with the two methods of :class:`PairInterpolator`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Protocol, Sequence, Tuple

import numpy as np

from utils.output_checks import unwritable
from utils.image_io import save_gif, write_image
from utils.visualize import write_field_images

__all__ = ["PairInterpolator", "PairOutputs", "interpolate_pair", "write_pair_outputs"]


class PairInterpolator(Protocol):
    """What :func:`interpolate_pair` needs of ``models.interpolator.Interpolator``."""

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]) -> List[np.ndarray]: ...

    def interpolate_with_fields(
        self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]
    ) -> Tuple[List[np.ndarray], List[Any]]: ...


@dataclass
class PairOutputs:
    """The paths written, in the order they were written (frames, each frame's fields, the GIF)."""

    frames: List[Path]
    fields: List[List[Path]]  # per frame, in the order of utils.visualize.FIELD_NAMES, then the panel
    gif: Path

    def all(self) -> List[Path]:
        return [*self.frames, *(path for paths in self.fields for path in paths), self.gif]


def interpolate_pair(
    interpolator: PairInterpolator,
    folder: Path,
    frame0: np.ndarray,
    frame1: np.ndarray,
    timesteps: Sequence[float],
    *,
    visualize: bool = False,
    gif_name: str,
) -> PairOutputs:
    """Interpolate ``timesteps`` between two uint8 frames and write the results into ``folder``.

    ``visualize`` also writes each frame's flows, mask and residual (the fields it was merged from).
    """
    if visualize:
        frames, fields = interpolator.interpolate_with_fields(frame0, frame1, timesteps)
    else:
        frames, fields = interpolator.interpolate(frame0, frame1, timesteps), []
    return write_pair_outputs(folder, frame0, frame1, timesteps, frames, fields, gif_name=gif_name)


def write_pair_outputs(
    folder: Path,
    frame0: np.ndarray,
    frame1: np.ndarray,
    timesteps: Sequence[float],
    frames: Sequence[np.ndarray],
    fields: Sequence[Any] = (),
    *,
    gif_name: str,
) -> PairOutputs:
    """Write the frames at ``timesteps`` between ``frame0`` and ``frame1`` (and their ``fields``, one
    :class:`~models.network.Fields` per frame, or none) into ``folder``. A file that cannot be
    written (a full disk, a file system turned read-only) is the one-line InputError naming it."""
    folder = Path(folder)
    path = folder / gif_name
    try:
        written_frames = []
        for t, frame in zip(timesteps, frames):
            path = folder / f"interp_t{t:.3f}.png"
            write_image(path, frame)
            written_frames.append(path)
        written_fields = []
        for t, frame, frame_fields in zip(timesteps, frames, fields):
            path = folder / f"interp_t{t:.3f}"
            written_fields.append(write_field_images(path, frame0, frame, frame1, frame_fields))
        path = folder / gif_name
        sequence = [frame0, *frames, frame1]
        save_gif(path, sequence, duration_ms=max(20, 1000 // len(sequence)))
    except OSError as error:
        raise unwritable(path, error) from None
    return PairOutputs(written_frames, written_fields, path)
