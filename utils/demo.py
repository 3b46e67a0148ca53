"""What demo_2x.py and demo_8x.py share: their flags and the run from two images to PNGs and a GIF."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Sequence

from models import MODEL_NAMES
from models.checkpoint import add_weights_arguments
from models.interpolator import Interpolator
from utils.device import DEVICE_CHOICES
from utils.image_io import read_image, save_gif, write_image
from utils.precision import add_precision_argument

__all__ = ["build_demo_parser", "run_demo"]

FIGURES = Path(__file__).resolve().parents[1] / "figures"


def build_demo_parser(description: str, *, dataset: str, default_output: str) -> argparse.ArgumentParser:
    """Flags of both demos; ``dataset`` picks the default published checkpoint (Vimeo90K or GoPro)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--img0", type=Path, default=FIGURES / "img0.png", help="first frame (default: the sample pair in figures/)")
    parser.add_argument("--img1", type=Path, default=FIGURES / "img1.png", help="second frame")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add_weights_arguments(parser, dataset=dataset)
    parser.add_argument("--output", type=Path, default=Path(default_output), help=f"output folder (default: {default_output})")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    add_precision_argument(parser)
    parser.set_defaults(dataset=dataset)
    return parser


def run_demo(args: argparse.Namespace, timesteps: Sequence[float], gif_name: str) -> List[Path]:
    """Interpolate ``timesteps`` between --img0 and --img1; write one PNG per timestep and a GIF.

    The GIF plays img0, the interpolated frames and img1, one second per cycle. Returns the paths
    written.
    """
    frame0, frame1 = read_image(args.img0), read_image(args.img1)
    interpolator = Interpolator(args.model_name, args.checkpoint, args.device, precision=args.precision,
                                dataset=args.dataset, offline=args.offline)
    if interpolator.weights_note:
        print(f"note: {interpolator.weights_note}", file=sys.stderr)
    frames = interpolator.interpolate(frame0, frame1, timesteps)

    written = []
    for t, frame in zip(timesteps, frames):
        path = args.output / f"interp_t{t:.3f}.png"
        write_image(path, frame)
        written.append(path)
    sequence = [frame0, *frames, frame1]
    gif = args.output / gif_name
    save_gif(gif, sequence, duration_ms=max(20, 1000 // len(sequence)))
    written.append(gif)
    return written


def print_written(paths: Sequence[Path], out=None) -> None:
    for path in paths:
        print(f"wrote {path}", file=out)
