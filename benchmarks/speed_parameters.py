"""Parameters, FLOPs, latency and peak memory of the IFRNet variants (optionally beside the authors' code).

The paper times 1280x720 frames (the default here); the authors' script used 448x256 with 100
warm-up and 100 timed runs (``--height 256 --width 448 --runs 100 --warmup 100``). The same run
measures the machine's float32 matmul throughput, so each model's achieved GFLOP/s can be read as
a fraction of what the machine delivers (a busy machine lowers both). Run from the repository root:
``python benchmarks/speed_parameters.py --device cpu``. On CUDA the table adds each model's peak
GPU memory (allocated by the inference, measured in a fresh process after this one has released
its cached memory) and the run states whether TF32 was allowed for convolutions and matmuls.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from evaluation.json_report import write_json_report  # noqa: E402
from evaluation.speed import measure_speed  # noqa: E402
from models import MODEL_NAMES  # noqa: E402
from utils.cli import run_cli, whole_number_at_least  # noqa: E402
from utils.device import DEVICE_CHOICES, resolve_device  # noqa: E402
from utils.heap import keep_freed_memory  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.output_checks import check_output_file  # noqa: E402
from utils.precision_choice import PRECISION_DTYPES, add_precision_argument, resolve_precision  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", choices=MODEL_NAMES, default=None, help="one variant (default: all three)")
    parser.add_argument("--height", type=whole_number_at_least(1), default=720, help="frame height, a multiple of 16 (default: 720)")
    parser.add_argument("--width", type=whole_number_at_least(1), default=1280, help="frame width, a multiple of 16 (default: 1280)")
    parser.add_argument("--runs", type=whole_number_at_least(1), default=10, help="timed runs; the median is reported (default: 10)")
    parser.add_argument("--warmup", type=whole_number_at_least(0), default=2, help="untimed runs first (default: 2)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    parser.add_argument("--threads", type=whole_number_at_least(1), default=None, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="weights to time (needs --model_name; default: the published Vimeo90K checkpoint if "
                        "present, else random weights, which run at the same speed)")
    parser.add_argument("--reference_dir", type=Path, default=None,
                        help="a checkout of the authors' IFRNet repository: time its models/<name>.py beside ours, "
                        "with the same weights, and report the speed-up")
    add_precision_argument(parser, " (of our models; the authors' run fp32)")
    parser.add_argument("--matmul_size", type=whole_number_at_least(1), default=2048, help="side of the matmul probe (default: 2048)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return parser


def main(argv: Optional[list] = None) -> dict:
    """Measure, print the table, write --json; returns the report (also for tests)."""
    args = build_parser().parse_args(argv)
    if args.height % 16 or args.width % 16:
        raise InputError(f"--height and --width must be multiples of 16 (the network's stride), got {args.height}x{args.width}")
    if args.checkpoint is not None and args.model_name is None:
        raise InputError("--checkpoint holds one variant's weights: give --model_name too")
    if args.reference_dir is not None and not args.reference_dir.is_dir():
        raise InputError(f"--reference_dir {args.reference_dir} is not a folder; point it at a checkout of the authors' repository")
    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the tools run: freed blocks reused, for every runtime timed here
    device = resolve_device(args.device)
    dtype = resolve_precision(args.precision, device)
    precision = next(name for name, value in PRECISION_DTYPES.items() if value == dtype)
    names = [args.model_name] if args.model_name else list(MODEL_NAMES)
    report = measure_speed(
        names, height=args.height, width=args.width, device=device, runs=args.runs, warmup=args.warmup,
        threads=args.threads, checkpoint=args.checkpoint, reference_dir=args.reference_dir,
        matmul_size=args.matmul_size, precision=precision, log=lambda message: print(message, file=sys.stderr),
    )
    print(f"IFRNet at {args.height}x{args.width} on {report['device']} ({report['threads']} threads, torch "
          f"{report['torch']}), {precision}, median of {args.runs} runs after {args.warmup} warm-up; float32 matmul "
          f"{report['matmul_gflops']:.1f} GFLOP/s")
    if report["tf32"]:
        tf32 = report["tf32"]
        print(f"TF32: {'on' if tf32['convolutions'] else 'off'} for convolutions (cuDNN's default: on), "
              f"{'on' if tf32['matmul'] else 'off'} for the float32 matmul probe; on Ampere or later GPUs the "
              "models' GFLOP/s may therefore exceed the probe's")
    print(report["table"])
    if args.json is not None:
        write_json_report(args.json, report)
    return report


if __name__ == "__main__":
    run_cli(main)
