"""What differs between the paper's two trainings: the datasets, their flags and the defaults.

Vimeo90K (2x, t = 0.5): 300 epochs, batch 6 per GPU, crop 224, pseudo-label flow distillation,
evaluation every epoch on the 3,782 test triplets. GoPro (8x, t = k/8): 600 epochs, batch 2 windows
per GPU (each trained on all seven targets), crop 224, no flow distillation, evaluation every
8 epochs on a 512x512 centre crop of the test windows. Learning rate 1e-4 -> 1e-5 for both.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Tuple

from torch.utils.data import Dataset

from datasets.gopro import FLOW_LABEL_KINDS, GoProWindows
from datasets.vimeo90k import Vimeo90KTriplets

__all__ = ["Recipe", "VIMEO90K", "GOPRO", "crop_pair"]


def crop_pair(values: Any) -> Tuple[int, int]:
    """``--crop_size 224`` or ``--crop_size 256 448`` as (height, width)."""
    values = [int(v) for v in (values if isinstance(values, (list, tuple)) else [values])]
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


@dataclass(frozen=True)
class Recipe:
    """A training recipe: name, defaults of the shared flags, dataset-specific flags and builders."""

    name: str
    description: str
    defaults: Dict[str, Any]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    build_train: Callable[[argparse.Namespace], Dataset]
    build_test: Callable[[argparse.Namespace], Dataset]
    uses_flow: Callable[[argparse.Namespace], bool] = field(default=lambda args: False)


# ---------------------------------------------------------------------------------------------
# Vimeo90K


def _vimeo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--flow_loss",
        choices=("on", "off"),
        default="on",
        help="task-oriented flow distillation from the pseudo labels in <data_root>/flow (generate_flow.py); "
        "off trains without them (default: on)",
    )


def _vimeo_train(args: argparse.Namespace) -> Dataset:
    return Vimeo90KTriplets(
        args.data_root, "train", with_flow=args.flow_loss == "on", crop_size=crop_pair(args.crop_size), seed=args.seed
    )


def _vimeo_test(args: argparse.Namespace) -> Dataset:
    return Vimeo90KTriplets(args.data_root, "test", with_flow=False, augment=False)


VIMEO90K = Recipe(
    name="vimeo90k",
    description="Train IFRNet on Vimeo90K triplets (2x interpolation, t = 0.5), the paper's main recipe.",
    defaults=dict(
        data_root="data/vimeo_triplet", epochs=300, batch_size=6, eval_interval=1, eval_batch_size=4, crop_size=[224]
    ),
    add_arguments=_vimeo_arguments,
    build_train=_vimeo_train,
    build_test=_vimeo_test,
    uses_flow=lambda args: args.flow_loss == "on",
)


# ---------------------------------------------------------------------------------------------
# GoPro 8x


def _gopro_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--factor",
        type=int,
        default=8,
        help="frames from a window's first frame to its last: windows of factor + 1 frames, targets at t = k/factor "
        "(default: 8, the paper's 8x; 4 trains 5-frame windows at t = 1/4, 1/2, 3/4)",
    )
    parser.add_argument(
        "--spans",
        type=int,
        nargs="+",
        default=None,
        metavar="S",
        help="train on sub-windows: each sample draws a span S, S + 1 frames inside the window and one target at t = j/S "
        "(e.g. 2 4 8 trains 2x, 4x and 8x at once; default: whole windows with all their targets, the paper's recipe)",
    )
    parser.add_argument(
        "--flow_labels",
        choices=("none", *FLOW_LABEL_KINDS),
        default="none",
        help="flow distillation towards OpenCV DIS flows computed on every training crop (not the paper's recipe: "
        "GoPro has no labels; helps a short run learn large motion): dis, from each target to the two inputs; "
        "dis_linear, between the two inputs, carried to t by linear motion as the DIS-at-t baseline warps "
        "(default: none)",
    )
    parser.add_argument(
        "--eval_crop_size",
        type=int,
        nargs="+",
        default=[512],
        metavar="SIZE",
        help="centre crop of the test frames, one size or height width; 0 scores whole frames (default: 512, the paper's protocol)",
    )


def _gopro_train(args: argparse.Namespace) -> Dataset:
    return GoProWindows(args.data_root, "train", factor=args.factor, crop_size=crop_pair(args.crop_size), seed=args.seed,
                        spans=args.spans, flow_labels=None if args.flow_labels == "none" else args.flow_labels)


def _gopro_test(args: argparse.Namespace) -> Dataset:
    eval_crop = None if args.eval_crop_size[0] == 0 else crop_pair(args.eval_crop_size)
    return GoProWindows(args.data_root, "test", factor=args.factor, augment=False, eval_crop_size=eval_crop)


GOPRO = Recipe(
    name="gopro",
    description="Train IFRNet for 8x interpolation on GoPro (9-frame windows, seven targets at t = k/8).",
    defaults=dict(data_root="data/GOPRO", epochs=600, batch_size=2, eval_interval=8, eval_batch_size=1, crop_size=[224]),
    add_arguments=_gopro_arguments,
    build_train=_gopro_train,
    build_test=_gopro_test,
    uses_flow=lambda args: args.flow_labels != "none",
)
