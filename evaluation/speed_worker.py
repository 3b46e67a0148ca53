"""One inference in a fresh process, printing its peak memory as a JSON line (used by evaluation.speed).

A process's peak resident size only grows, so measuring several configurations in one process
would report the largest so far; a fresh process per configuration measures each alone. benchmarks/speed_parameters.py therefore starts this module once
per configuration: ``python -m evaluation.speed_worker --model_name IFRNet --height 720 --width 1280``.
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
from pathlib import Path
from typing import Optional

import torch

from utils.precision_choice import PRECISION_DTYPES
from evaluation.speed import build_timed_model, make_inputs, synchronize, timing_weights
from models import MODEL_NAMES
from utils.cli import run_cli

__all__ = ["max_rss_bytes", "main"]


def max_rss_bytes() -> int:
    """This process's peak resident set size in bytes.

    Linux: VmHWM of /proc/self/status, the high-water mark of this program's own address space.
    ``getrusage().ru_maxrss`` is not used there because Linux carries it over from the parent
    across fork and exec, so a worker started by a large process would report the parent's size.
    Elsewhere ru_maxrss is the only source (macOS reports bytes, other systems KiB).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", choices=MODEL_NAMES, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--device", default="cpu", help="a torch device string (cpu, cuda, cuda:1)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--reference_dir", type=Path, default=None)
    parser.add_argument("--precision", choices=tuple(PRECISION_DTYPES), default="fp32", help="compute precision of our model")
    args = parser.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    state_dict, _ = timing_weights(args.model_name, args.checkpoint)
    model = build_timed_model(args.model_name, state_dict, device, args.reference_dir,
                              precision=PRECISION_DTYPES[args.precision])
    del state_dict
    inputs = make_inputs(args.height, args.width, device)
    before = max_rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.inference_mode():
        model.inference(*inputs)
    synchronize(device)
    report = {"peak_rss_gb": max_rss_bytes() / 1e9, "rss_before_inference_gb": before / 1e9}
    if device.type == "cuda":
        report["peak_cuda_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    print(json.dumps(report))


if __name__ == "__main__":
    run_cli(main)
