"""Interpolate a video (or a folder of frames) to a higher frame rate or slow motion with IFRNet.

Examples:
  python interpolate_video.py --input clip.mp4 --output clip_2x.mp4                # 25 -> 50 fps
  python interpolate_video.py --input clip.mp4 --output clip_60.mp4 --fps 60
  python interpolate_video.py --input frames/ --output out/ --factor 4 --input_fps 30
  python interpolate_video.py --input anime.mp4 --output anime_2x.mp4 --dedup 1     # held drawings become motion
  python interpolate_video.py --input clip.mp4 --output loop.gif --loop --start 2 --duration 3
See docs/video.md for every flag and more recipes.
"""
from __future__ import annotations

import argparse
import logging
import sys
from fractions import Fraction
from pathlib import Path
from typing import Optional

from models import MODEL_NAMES
from models.arguments import add_timesteps_argument, add_weights_arguments
from models.interpolator import TOOLS_BATCH_SIZE, Interpolator
from models.timestep_policy import datasets_for
from utils.cli import interrupt_on_sigterm, run_cli, whole_number_at_least
from utils.device import DEVICE_CHOICES, autotune_convolutions, resolve_device
from utils.errors import InputError
from utils.precision_choice import add_precision_argument, resolve_precision
from utils.scene import DEFAULT_SCENE_THRESHOLD
from video.convert import MAX_OUTPUT_FPS, ConversionJob, check_job, convert, parse_rate


def rate_arg(text: str):
    """A frame rate flag: parse_rate's message, as argparse's error for the flag."""
    try:
        return parse_rate(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seconds_arg(text: str) -> Fraction:
    """A time in seconds ("2", "1.5"), exact; negative values are refused by the job's checks."""
    try:
        return Fraction(str(text).strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True, help="a video file, or a folder of image frames (png, jpg, webp ...; natural name order)")
    parser.add_argument("--output", type=Path, required=True,
                        help="a video file (.mp4 .mkv .mov .webm .avi), an animated .gif, or a folder for numbered frames (see --image_format)")
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument("--factor", type=whole_number_at_least(2), default=None,
                      help="output rate = input rate x N; the originals stay at every N-th frame (default: 2)")
    rate.add_argument("--fps", type=rate_arg, default=None,
                      help="output frame rate instead of a factor (e.g. 60, 59.94, 60000/1001); each frame gets the timestep its timestamp implies. "
                      f"At most {MAX_OUTPUT_FPS} fps, whether from --fps or --factor: more is a typo, not slow motion")
    parser.add_argument("--input_fps", type=rate_arg, default=parse_rate("25"),
                        help="frame rate of a folder of frames (default: 25; ignored for video files)")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add_weights_arguments(parser, dataset=None)
    add_timesteps_argument(parser)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    parser.add_argument("--scale_factor", default="auto",
                        help="resolution the flow is estimated at: 1, 0.5, 0.25 ... or auto (1 up to 1080p, 0.5 at 4K, 0.25 at 8K; default)")
    add_precision_argument(parser, fp16_alias=True)
    parser.add_argument("--batch_size", type=whole_number_at_least(1), default=TOOLS_BATCH_SIZE,
                        help=f"most in-between frames computed in one network call (default: {TOOLS_BATCH_SIZE}; lower it if memory runs out)")
    parser.add_argument("--codec", default=None,
                        help="video encoder (default: libx264; libvpx-vp9 for .webm); checked up front, e.g. h264_nvenc needs an NVIDIA GPU")
    parser.add_argument("--crf", type=int, default=18,
                        help="constant-quality level, lower is better: 0-51 for x264/x265, 0-63 for VP9/SVT-AV1/AOM (default: 18)")
    parser.add_argument("--scene_threshold", type=float, default=DEFAULT_SCENE_THRESHOLD,
                        help="scene-cut threshold: mean absolute grey difference (0-255) of two consecutive frames, "
                        f"shrunk to ~64 px; above it the in-between frames repeat the nearer original (default: {DEFAULT_SCENE_THRESHOLD:g}; 0 disables)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output file, or in an existing output folder its numbered frames (other files stay); "
                        "a folder output that holds the input is always refused")
    parser.add_argument("--strict", action="store_true",
                        help="a video that ends before the frame count its header promises (truncated, damaged) is an error "
                        "instead of a warning, and no output is written")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: each new frame is the mean of the prediction and the one on the pair "
                        "turned by 180 degrees; slightly better frames for about 2x the time")
    parser.add_argument("--dedup", type=float, default=0.0, metavar="T",
                        help="drop frames that differ from the last kept one by less than T (mean absolute grey difference, "
                        "0-255, as --scene_threshold measures) before interpolating, so drawings held for 2-3 frames "
                        "(animation, screen recordings) become motion; timing and frame count stay (default: 0, off; try 1)")
    parser.add_argument("--loop", action="store_true",
                        help="also interpolate from the last frame back to the first, so the output loops without a jump")
    parser.add_argument("--montage", action="store_true",
                        help="the input (each frame held) on the left and the result on the right, side by side, same timing")
    parser.add_argument("--image_format", choices=("png", "jpg", "webp"), default=None,
                        help="format of the frames of a folder output (default: png)")
    parser.add_argument("--quality", type=int, default=None,
                        help="quality 1-100 of jpg/webp frames (default: 95); refused for png frames and video files")
    parser.add_argument("--start", type=seconds_arg, default=Fraction(0),
                        help="begin this many seconds into the input (default: 0), e.g. for a quick look before a long run")
    parser.add_argument("--duration", type=seconds_arg, default=None,
                        help="process only this many seconds (default: to the end)")
    parser.add_argument("--no_progress", action="store_true",
                        help="no progress bars (the conversion, a weights download), as in every other tool; log lines stay")
    parser.add_argument("--quiet", action="store_true", help="--no_progress and no log lines either (warnings stay)")
    return parser


def main(argv: Optional[list] = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="interpolate_video: %(message)s",
                        stream=sys.stderr)
    resolve_precision(args.precision, resolve_device(args.device))  # refused before the input is read
    job = ConversionJob(
        input=args.input,
        output=args.output,
        factor=args.factor if args.factor is not None or args.fps is not None else 2,
        fps=args.fps,
        input_fps=args.input_fps,
        codec=args.codec,
        crf=args.crf,
        scene_threshold=args.scene_threshold,
        overwrite=args.overwrite,
        strict=args.strict,
        progress=not (args.quiet or args.no_progress),
        **{name: getattr(args, name) for name in ("dedup", "loop", "montage", "image_format", "quality", "start", "duration")},
    )
    # Bad flags and paths fail before the model loads; the input stays open, read up to --start, for convert.
    log = logging.getLogger("ifrnet.video")
    with check_job(job) as checked:
        timesteps = checked.timesteps
        interpolator = Interpolator.load(args.model_name, args.checkpoint, args.device,
                                         scale_factor=args.scale_factor, precision=args.precision,
                                         batch_size=args.batch_size, dataset=datasets_for(timesteps),
                                         other_variant=True,  # the starter (an IFRNet_S) may stand in, with its note
                                         offline=args.offline, tta=args.tta, timesteps=args.timesteps,
                                         progress=not (args.quiet or args.no_progress))
        autotune_convolutions(interpolator.device)  # every frame of a video has one size
        if interpolator.weights_note:
            log.warning("%s", interpolator.weights_note)
        log.info("weights: %s", Path(interpolator.checkpoint).name)
        if interpolator.timestep_note:
            log.log(logging.INFO if interpolator.timestep_mode == "bisect" else logging.WARNING, "%s", interpolator.timestep_note)
        if timesteps:
            interpolator.note_approximations([float(t) for t in timesteps])
        interrupt_on_sigterm()  # the temporary output is removed
        stats = convert(checked, interpolator.interpolate)
    log.info(
        "wrote %s: %d frames from %d (%d interpolated, %d scene cut%s) in %.1f s",
        args.output, stats.frames_out, stats.frames_in, stats.interpolated, stats.scene_cuts,
        "" if stats.scene_cuts == 1 else "s", stats.total_seconds)


if __name__ == "__main__":
    run_cli(main)
