"""Turn trained IFRNet_S weights into the shipped starter checkpoint (half precision, ~5.6 MB).

    python tools/make_starter_checkpoint.py --weights runs/vimeo90k_IFRNet_S/IFRNet_S_latest.pth

Any checkpoint load_checkpoint accepts will do (a training checkpoint too); the weights are
checked against IFRNet_S by loading them, then stored as a plain float16 state_dict, which
load_checkpoint turns back into float32.
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Optional

import torch

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from models import create_model  # noqa: E402
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT, STARTER_MODEL_NAME  # noqa: E402
from utils.atomic import atomic_writer, check_output_file, unwritable  # noqa: E402
from utils.cli import run_cli  # noqa: E402


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="trained IFRNet_S weights or training checkpoint")
    parser.add_argument("--output", type=Path, default=CHECKPOINT_DIR / STARTER_CHECKPOINT,
                        help="file to write (default: checkpoints/starter/IFRNet_S_starter.pth, the shipped one)")
    args = parser.parse_args(argv)
    check_output_file(args.output, "--output")
    model = create_model(STARTER_MODEL_NAME, weights=args.weights)
    half = {key: value.half() for key, value in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(half, buffer)
    try:
        with atomic_writer(args.output) as handle:
            handle.write(buffer.getvalue())
    except OSError as error:
        raise unwritable(args.output, error, "--output") from None
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    run_cli(main)
