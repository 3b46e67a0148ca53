"""Interpolate a video (or a folder of frames) to a higher frame rate or slow motion with IFRNet.

Examples:
  python interpolate_video.py --input clip.mp4 --output clip_2x.mp4                # 25 -> 50 fps
  python interpolate_video.py --input clip.mp4 --output clip_60.mp4 --fps 60
  python interpolate_video.py --input frames/ --output out/ --factor 4 --input_fps 30
  python interpolate_video.py --input anime.mp4 --output anime_2x.mp4 --dedup 1     # held drawings become motion
  python interpolate_video.py --input clip.mp4 --output loop.gif --loop --start 2 --duration 3
  python interpolate_video.py --input videos/ --output videos_2x/                  # every video of a folder
  python interpolate_video.py --input long.mp4 --output long_2x.mp4 --devices cuda:0,cuda:1   # segments on two GPUs
See docs/video.md for every flag and more recipes.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: see utils.device.add_threads_argument

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from models import MODEL_NAMES
from models.arguments import add_timesteps_argument, add_weights_arguments
from models.interpolator import TOOLS_BATCH_SIZE
from scale import add_worker_arguments, workers_from
from utils.cli import add_option_arguments, interrupt_on_sigterm, options_from, run_cli, whole_number_at_least
from utils.device import DEVICE_CHOICES, add_threads_argument, resolve_device, use_threads
from utils.heap import keep_freed_memory
from utils.precision_choice import add_precision_argument, resolve_precision
from video.batch import expand_inputs, run_batch
from video.convert import ConversionJob, check_job, convert
from video.loading import ModelFor, PooledModels, WorkerModels, local_models

_INPUT_HELP = next(item.metadata["flag"]["help"] for item in dataclasses.fields(ConversionJob) if item.name == "input")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", nargs="+", type=Path, required=True,
                        help=_INPUT_HELP)  # the job's field, given several values here (video.batch)
    add_option_arguments(parser, ConversionJob, leave_out=("input",))  # the job's flags, defined with its fields
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add_weights_arguments(parser, dataset=None)
    add_timesteps_argument(parser)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    add_threads_argument(parser)
    add_worker_arguments(parser)
    parser.add_argument("--scale_factor", default="auto",
                        help="resolution the flow is estimated at: 1, 0.5, 0.25 ... or auto (1 up to 1080p, 0.5 at 4K, 0.25 at 8K; default)")
    add_precision_argument(parser, fp16_alias=True)
    parser.add_argument("--batch_size", type=whole_number_at_least(1), default=TOOLS_BATCH_SIZE,
                        help=f"most in-between frames computed in one network call (default: {TOOLS_BATCH_SIZE}; lower it if memory runs out)")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: each new frame is the mean of the prediction and the one on the pair "
                        "turned by 180 degrees; slightly better frames for about 2x the time")
    parser.add_argument("--no_progress", action="store_true",
                        help="no progress bars (the conversion, a weights download), as in every other tool; log lines stay")
    parser.add_argument("--quiet", action="store_true", help="--no_progress and no log lines either (warnings stay)")
    return parser


def main(argv: Optional[list] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="interpolate_video: %(message)s",
                        stream=sys.stderr)
    resolve_precision(args.precision, resolve_device(args.device))  # refused before the input is read
    use_threads(args.threads)
    keep_freed_memory()  # every frame reuses the last one's blocks
    inputs, batch = expand_inputs(args.input, args.output)
    job = options_from(ConversionJob, args, input=inputs[0], progress=not (args.quiet or args.no_progress))
    workers = workers_from(args)
    interrupt_on_sigterm()  # the temporary output is removed
    if workers.several:
        with PooledModels(workers, WorkerModels(_model_options(args))) as pooled:
            _run(args, job, inputs, batch, pooled.model_for)
    else:
        _run(args, job, inputs, batch, local_models(_model_options(args), args.device, job.progress))


def _run(args: argparse.Namespace, job: ConversionJob, inputs: list, batch: bool, model_for: ModelFor) -> None:
    if batch:
        result = run_batch(job, inputs, model_for)
        if result.failed:
            sys.exit(1)
        return
    # Bad flags and paths fail before the model loads; the input stays open, read up to --start, for convert.
    with check_job(job) as checked:
        interpolate, model = model_for(checked)
        stats = convert(checked, interpolate, model=model)
    logging.getLogger("ifrnet.video").info(
        "wrote %s: %d frames from %d (%d interpolated, %d scene cut%s) in %.1f s",
        args.output, stats.frames_out, stats.frames_in, stats.interpolated, stats.scene_cuts,
        "" if stats.scene_cuts == 1 else "s", stats.total_seconds)


def _model_options(args: argparse.Namespace) -> Dict[str, Any]:
    """The arguments of :meth:`Interpolator.load` that the flags give (all but the device and the dataset)."""
    return dict(model_name=args.model_name, checkpoint=args.checkpoint, scale_factor=args.scale_factor,
                precision=args.precision, batch_size=args.batch_size,
                other_variant=True,  # the starter (an IFRNet_S) may stand in, with its note
                offline=args.offline, tta=args.tta, timesteps=args.timesteps)


if __name__ == "__main__":
    run_cli(main)
