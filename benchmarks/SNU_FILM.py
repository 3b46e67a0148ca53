"""Evaluate IFRNet on SNU-FILM (2x; easy, medium, hard and extreme, 310 triplets each).

Frames are replicate-padded to a multiple of 20 and the network runs at scale 0.8, as the authors do.
Run from the repository root, e.g. `python benchmarks/SNU_FILM.py --data_root data/SNU-FILM`; see --help.
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
    return run_benchmark("SNU-FILM", argv, __doc__.splitlines()[0])


if __name__ == "__main__":
    run_cli(main)
