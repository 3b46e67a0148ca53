"""8x interpolation: seven frames at t = 1/8 .. 7/8 between two images, in one batched call.

Writes interp_t*.png and out_8x.gif into --output. See docs/demos.md for the flags and defaults.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: see utils.device.add_threads_argument

from typing import Optional

from utils.cli import run_cli
from apps.demo import build_demo_parser, print_written, run_demo

TIMESTEPS = [k / 8 for k in range(1, 8)]


def main(argv: Optional[list] = None) -> None:
    parser = build_demo_parser(__doc__.splitlines()[0], dataset="GoPro", default_output="results/demo_8x")
    args = parser.parse_args(argv)
    print_written(run_demo(args, TIMESTEPS, "out_8x.gif"))


if __name__ == "__main__":
    run_cli(main)
