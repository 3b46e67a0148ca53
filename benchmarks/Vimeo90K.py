"""Evaluate IFRNet on the Vimeo90K triplet test set (2x, 3,782 triplets of 448x256).

Plain inference at t = 0.5 with the Vimeo90K weights; PSNR and SSIM of the middle frame.
Run from the repository root, e.g. `python benchmarks/Vimeo90K.py --data_root data/vimeo_triplet`; see --help.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from evaluation.benchmark_command_line import run_benchmark  # noqa: E402
from utils.cli import run_cli  # noqa: E402


def main(argv: Optional[list] = None) -> dict:
    """Evaluate and report; returns the JSON report (also for tests)."""
    return run_benchmark("Vimeo90K", argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    run_cli(main)
