"""Speed and quality of reduced-precision (bfloat16) inference against float32, on this CPU.

Times IFRNet at 1280x720 in each precision (taking turns, median of --runs), then scores the
trained starter weights on the first frames of the real clips at their own size (Big Buck Bunny
1280x720, opening on a near-static scene; bikes 640x272): each consecutive triplet's middle frame
is predicted and compared with the real one (PSNR) and with the float32 output.

    python benchmarks/precision.py                       # time IFRNet at 1280x720, score the starter on both clips
    python benchmarks/precision.py --frames 40 --output_layers  # docs/benchmarks.md's table (also bf16 with
                                                                # the decoders' output layers in bf16)
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from datasets.starter_data import CLIPS, clip_path  # noqa: E402
from evaluation.json_report import write_json_report  # noqa: E402
from evaluation.precision_scores import PrecisionVariant, read_frames, score_clip, time_variants  # noqa: E402
from evaluation.speed import timing_weights  # noqa: E402
from models import MODEL_NAMES, create_model  # noqa: E402
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT  # noqa: E402
from utils.cli import run_cli, whole_number_at_least  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.precision_choice import cpu_has_native_bfloat16  # noqa: E402

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--timed_model", choices=MODEL_NAMES, default="IFRNet", help="variant to time (default: IFRNet)")
    add("--height", type=whole_number_at_least(1), default=720, help="timed frame height, a multiple of 16 (default: 720)")
    add("--width", type=whole_number_at_least(1), default=1280, help="timed frame width, a multiple of 16 (default: 1280)")
    add("--runs", type=whole_number_at_least(1), default=5, help="timed runs per precision; the median is reported (default: 5)")
    add("--warmup", type=whole_number_at_least(0), default=1, help="untimed runs per precision first (default: 1)")
    add("--threads", type=whole_number_at_least(1), default=None, help="CPU threads for torch (default: torch's choice)")
    add("--model_name", choices=MODEL_NAMES, default="IFRNet_S", help="variant scored on the clips (default: IFRNet_S)")
    add("--checkpoint", type=Path, default=CHECKPOINT_DIR / STARTER_CHECKPOINT,
        help="trained weights scored on the clips (default: checkpoints/starter/IFRNet_S_starter.pth)")
    add("--clips", nargs="+", choices=tuple(CLIPS), default=list(CLIPS), help="clips to score (default: both)")
    add("--frames", type=whole_number_at_least(1), default=120, help="first N frames of each clip, N-2 triplets (default: 120)")
    add("--output_layers", action="store_true",
        help="also run bf16 with the decoders' output layers in bf16, to show what keeping them float32 costs and saves")
    add("--skip_timing", action="store_true", help="only score the clips")
    add("--skip_quality", action="store_true", help="only time")
    add("--json", type=Path, default=None, help="also write the figures (and per-triplet PSNRs) to this JSON file")
    add("--no_progress", action="store_true", help="hide the progress bars")
    return parser


def main(argv: Optional[List[str]] = None) -> dict:
    """Time, score, print the table, write --json; returns the report."""
    args = build_parser().parse_args(argv)
    if args.height % 16 or args.width % 16:
        raise InputError(f"--height and --width must be multiples of 16, got {args.height}x{args.width}")
    if not args.skip_quality and not args.checkpoint.is_file():
        raise InputError(f"no checkpoint at {args.checkpoint}; give --checkpoint (or --skip_quality)")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    variants = [PrecisionVariant("fp32", torch.float32), PrecisionVariant("bf16", torch.bfloat16)]
    if args.output_layers:
        variants.append(PrecisionVariant("bf16, output layers bf16", torch.bfloat16, float32_outputs=False))
    report: Dict[str, object] = {"native_bfloat16": cpu_has_native_bfloat16(), "threads": torch.get_num_threads(),
                                 "load_before": os.getloadavg()[0]}
    if not cpu_has_native_bfloat16():
        print("note: this CPU has no native bfloat16 (avx512_bf16/AMX): bf16 runs emulated, slower than float32",
              file=sys.stderr)
    if not args.skip_timing:
        state_dict, weights = timing_weights(args.timed_model)
        seconds = time_variants(args.timed_model, state_dict, variants, height=args.height, width=args.width,
                                runs=args.runs, warmup=args.warmup)
        report["timing"] = {"model_name": args.timed_model, "weights": weights, "size": [args.height, args.width],
                            "runs": args.runs, "seconds": seconds}
    if not args.skip_quality:
        model = create_model(args.model_name, weights=args.checkpoint)
        clips = {}
        for clip in args.clips:
            frames = read_frames(clip_path(clip), args.frames)
            scores = score_clip(frames, model.eval(), variants, description=clip, progress=not args.no_progress)
            size = f"{frames[0].shape[1]}x{frames[0].shape[0]}"
            clips[clip] = {"size": size, "triplets": len(frames) - 2,
                           "psnr": {v.name: scores.mean_truth(v.name) for v in variants},
                           "psnr_vs_fp32": {v.name: scores.mean_agreement(v.name) for v in variants[1:]},
                           "per_triplet": scores.truth}
        report["quality"] = {"model_name": args.model_name, "checkpoint": str(args.checkpoint), "clips": clips}
    report["load_after"] = os.getloadavg()[0]
    print("\n".join(_table(report, [v.name for v in variants])))
    if args.json is not None:
        write_json_report(args.json, report)
    return report


def _table(report: dict, names: List[str]) -> List[str]:
    lines = [f"1-minute load average {report['load_before']:.2f} before, {report['load_after']:.2f} after; "
             f"{report['threads']} threads; native bfloat16: {'yes' if report['native_bfloat16'] else 'no'}"]
    timing, quality = report.get("timing"), report.get("quality")
    head = f"| precision | time {timing['size'][1]}x{timing['size'][0]} {timing['model_name']} | speed-up |" if timing else "| precision |"
    clips = quality["clips"] if quality else {}
    for clip, row in clips.items():
        head += f" {clip} {row['size']} PSNR (dB) | vs fp32 (dB) |"
    lines += [head, "|" + "---|" * (head.count("|") - 1)]
    for name in names:
        line = f"| {name} |"
        if timing:
            seconds = timing["seconds"][name]
            line += f" {seconds:.2f} s | {timing['seconds']['fp32'] / seconds:.2f}x |"
        for clip, row in clips.items():
            agreement = row["psnr_vs_fp32"].get(name)
            line += f" {row['psnr'][name]:.3f} ({row['psnr'][name] - row['psnr']['fp32']:+.3f}) |"
            line += f" {agreement:.1f} |" if agreement is not None else " - |"
        lines.append(line)
    if quality:
        lines.append(f"PSNR: {quality['model_name']} from {quality['checkpoint']}, middle frames of the consecutive "
                     "triplets of each clip's first frames against the real ones (in brackets: change from fp32)")
    return lines


if __name__ == "__main__":
    run_cli(main)
