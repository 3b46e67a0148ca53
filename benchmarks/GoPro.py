"""Evaluate IFRNet on the GoPro test set (8x: seven frames per 9-frame window, GoPro weights).

Each window is centre-cropped to 512x512 as in the authors' training evaluation; the seven predictions (t = 1/8..7/8) are scored against the real frames.
Run from the repository root, e.g. `python benchmarks/GoPro.py --data_root data/GOPRO`; see --help.
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
    return run_benchmark("GoPro", argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    run_cli(main)
