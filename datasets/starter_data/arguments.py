"""The command-line flags the two starter builders share (``tools/build_starter_dataset.py`` for
triplets, ``tools/build_starter_windows.py`` for multi-frame windows): one definition, so a flag
reads and defaults the same in both."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Union

from datasets.starter_data.clips import CLIPS
from datasets.starter_data.build import StarterSettings
from datasets.starter_data.windows import WindowSettings

__all__ = ["add_shared_arguments"]


def add_shared_arguments(parser: argparse.ArgumentParser, defaults: Union[StarterSettings, WindowSettings], *,
                         output: str, unit: str, size_note: str = "") -> None:
    """Add --output (default ``output``), --seed, --num_synthetic, --num_synthetic_test,
    --synthetic_size, --max_shift and --clips, with ``defaults``' values; ``unit``
    names what a builder writes ("triplets", "windows") in the help; ``size_note`` adds what else
    --synthetic_size sets."""
    add = parser.add_argument
    add("--output", type=Path, default=Path(output), help=f"folder to write (default: {output})")
    add("--seed", type=int, default=defaults.seed, help=f"seed of the synthetic scenes (default: {defaults.seed})")
    add("--num_synthetic", type=int, default=defaults.num_synthetic,
        help=f"synthetic training {unit} (default: {defaults.num_synthetic})")
    add("--num_synthetic_test", type=int, default=defaults.num_synthetic_test,
        help=f"held-out synthetic {unit} (default: {defaults.num_synthetic_test})")
    add("--synthetic_size", type=int, nargs=2, default=list(defaults.synthetic_size), metavar=("WIDTH", "HEIGHT"),
        help=f"synthetic frame size{size_note} (default: 448 256, as Vimeo90K)")
    add("--max_shift", type=float, default=defaults.max_shift,
        help=f"largest motion of a synthetic piece between the first and the last frame, pixels (default: {defaults.max_shift:g})")
    add("--clips", nargs="*", choices=tuple(CLIPS), default=list(defaults.clips),
        help="real clips to use (default: all); none for a synthetic-only set")
