"""What demo_2x.py and demo_8x.py share: their flags and the run from two images to PNGs and a GIF.

It builds a command line and runs the model's Interpolator, so it sits above ``models``, beside
the pair's files (:mod:`apps.pair_outputs`) that the web app writes too.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Sequence

from models import MODEL_NAMES
from models.arguments import add_timesteps_argument, add_weights_arguments
from models.interpolator import Interpolator
from models.timestep_policy import datasets_for
from utils.device import DEVICE_CHOICES, add_threads_argument, use_threads
from utils.heap import keep_freed_memory
from utils.errors import InputError
from utils.image_io import read_image
from utils.output_checks import check_folder_spares_input, check_output_folder
from apps.pair_outputs import interpolate_pair
from utils.precision_choice import add_precision_argument

__all__ = ["build_demo_parser", "run_demo"]

FIGURES = Path(__file__).resolve().parents[1] / "figures"


def build_demo_parser(description: str, *, dataset: str, default_output: str) -> argparse.ArgumentParser:
    """Flags of both demos; ``dataset`` picks the default published checkpoint (Vimeo90K or GoPro)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--img0", type=Path, default=FIGURES / "img0.png", help="first frame (default: the sample pair in figures/)")
    parser.add_argument("--img1", type=Path, default=FIGURES / "img1.png", help="second frame")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add_weights_arguments(parser, dataset=dataset)
    add_timesteps_argument(parser)
    parser.add_argument("--output", type=Path, default=Path(default_output), help=f"output folder (default: {default_output})")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    add_threads_argument(parser)
    add_precision_argument(parser)
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average with the prediction on the pair turned by 180 degrees (about 2x the time)")
    parser.add_argument("--visualize", action="store_true",
                        help="also write what the network predicted for each frame: its flows t->0 and t->1 (colour wheel), "
                        "merge mask (white = from img0) and residual (heat map), as interp_t*_<name>.png and one panel interp_t*_fields.png")
    parser.set_defaults(dataset=dataset)
    return parser


def run_demo(args: argparse.Namespace, timesteps: Sequence[float], gif_name: str) -> List[Path]:
    """Interpolate ``timesteps`` between --img0 and --img1; write one PNG per timestep and a GIF.

    The GIF plays img0, the interpolated frames and img1, one second per cycle. With
    ``--visualize`` each frame's flows, mask and residual are written too. Returns the paths
    written. An --output that cannot be created or written, or that holds an input, is refused
    before the model runs.
    """
    frame0, frame1 = read_image(args.img0), read_image(args.img1)
    for image in (args.img0, args.img1):  # interp_t0.500.png as an input would be written over
        check_folder_spares_input(args.output, image, "--output")
    check_output_folder(args.output)  # before the model runs, not after
    if args.visualize and args.tta:  # an averaged frame is not merged from one set of fields
        raise InputError("--visualize draws the fields a frame was merged from and cannot be combined with --tta")
    # the demo's own published weights first, then those the timesteps would take (GoPro -> Vimeo90K)
    datasets = (args.dataset,) + tuple(name for name in datasets_for(timesteps) if name != args.dataset)
    use_threads(args.threads)
    keep_freed_memory()  # the frames of a multi-frame demo reuse the first one's blocks
    interpolator = Interpolator.load(args.model_name, args.checkpoint, args.device, precision=args.precision,
                                     dataset=datasets, other_variant=True, offline=args.offline, tta=args.tta,
                                     timesteps=args.timesteps)
    for note in (interpolator.weights_note, interpolator.timestep_note):
        if note:
            print(f"note: {note}", file=sys.stderr)
    # the folder was checked, but a disk can still fill up or be remounted read-only: one line then
    return interpolate_pair(interpolator, args.output, frame0, frame1, timesteps, visualize=args.visualize,
                            gif_name=gif_name).all()


def print_written(paths: Sequence[Path], out=None) -> None:
    for path in paths:
        print(f"wrote {path}", file=out)
