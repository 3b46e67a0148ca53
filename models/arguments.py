"""The model flags every tool shares: which weights (``--checkpoint``, ``--offline``) and how a
pair's timesteps are run (``--timesteps``), so that a name, its default and its help live once."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from models.checkpoint import published_checkpoint_path
from models.downloads import OFFLINE_VARIABLE
from models.timestep_policy import TIMESTEP_MODES

__all__ = ["add_weights_arguments", "add_timesteps_argument"]


def add_weights_arguments(parser: argparse.ArgumentParser, *, dataset: Optional[str] = "Vimeo90K") -> None:
    """``--checkpoint`` and ``--offline``, the same in every tool that loads weights.

    ``dataset=None`` for a tool that picks the published weights by the job's timesteps
    (:func:`models.timestep_policy.datasets_for`). ``--checkpoint`` stays a string so an http(s)
    URL survives (``Path`` would fold its ``//``).
    """
    if dataset is None:
        default = ("the published checkpoint of the variant, downloaded on first use: Vimeo90K when every new "
                   "frame is at a multiple of 1/2^k (2x, 4x, 8x), GoPro for other timesteps (e.g. 24 -> 60 fps)")
    else:
        example = published_checkpoint_path("IFRNet", dataset, root=Path("checkpoints"))
        default = f"the published {dataset} checkpoint of the variant, e.g. {example} in the checkout, downloaded on first use"
    parser.add_argument(
        "--checkpoint", default=None, help=f"weights file or http(s) URL (downloaded once, verified; default: {default})")
    parser.add_argument(
        "--offline", action="store_true",
        help=f"never download: without the published checkpoint use the starter weights (same as {OFFLINE_VARIABLE}=1)")


def add_timesteps_argument(parser: argparse.ArgumentParser) -> None:
    """``--timesteps auto|direct|bisect``, the same in every tool that makes frames at several t."""
    parser.add_argument(
        "--timesteps", choices=TIMESTEP_MODES, default="auto",
        help="how the in-between frames are made: direct (one network call at each t), bisect (every frame at "
        "t = 1/2 between two earlier ones; other t at the nearest 1/16), or auto (default): bisect weights that "
        "ignore t, such as the published Vimeo90K ones, run the others directly")
