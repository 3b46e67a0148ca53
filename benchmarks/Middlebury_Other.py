"""Evaluate IFRNet on Middlebury Other (2x, the 12 sequences with public ground truth).

Frames are zero-padded at the bottom/right to 480x640; PSNR, SSIM and the interpolation error (IE).
Run from the repository root, e.g. `python benchmarks/Middlebury_Other.py --data_root data/Middlebury`; see --help.
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
    return run_benchmark("Middlebury-Other", argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    run_cli(main)
