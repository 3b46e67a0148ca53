"""Turn trained IFRNet_S weights into the shipped starter checkpoint (half precision, ~5.6 MB).

    python tools/make_starter_checkpoint.py --weights runs/vimeo90k_IFRNet_S/IFRNet_S_latest.pth

Any checkpoint load_checkpoint accepts will do (a training checkpoint too); the weights are
checked against IFRNet_S by loading them, then stored as a plain float16 state_dict, which
load_checkpoint turns back into float32. Several --weights are averaged parameter by parameter
(a uniform "model soup" of runs from the same start, which can score better than each run):

    python tools/make_starter_checkpoint.py --weights runs/a/IFRNet_S_latest.pth runs/b/IFRNet_S_latest.pth \
        --output runs/soup/IFRNet_S_soup.pth --precision float32

(--precision float32 keeps full precision, for a file that further training starts from.)
"""
from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

import torch

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from models import create_model  # noqa: E402
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT, STARTER_MODEL_NAME  # noqa: E402
from utils.atomic import atomic_writer  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.output_checks import check_output_file, unwritable  # noqa: E402


PRECISIONS = {"float16": torch.float16, "float32": torch.float32}


def averaged_weights(paths: Sequence[Path]) -> Dict[str, torch.Tensor]:
    """The float32 IFRNet_S state_dict averaging the weights in ``paths`` (each loaded, so checked, as IFRNet_S)."""
    total: Dict[str, torch.Tensor] = {}
    for path in paths:
        state = create_model(STARTER_MODEL_NAME, weights=path).state_dict()
        for key, value in state.items():
            total[key] = total[key] + value.double() if key in total else value.double()
    return {key: (value / len(paths)).float() for key, value in total.items()}


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, nargs="+", required=True, metavar="PATH",
                        help="trained IFRNet_S weights or training checkpoint; several are averaged")
    parser.add_argument("--output", type=Path, default=CHECKPOINT_DIR / STARTER_CHECKPOINT,
                        help="file to write (default: checkpoints/starter/IFRNet_S_starter.pth, the shipped one)")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="float16",
                        help="stored precision: float16 ships, float32 is for a start of further training (default: float16)")
    args = parser.parse_args(argv)
    check_output_file(args.output, "--output")
    stored = {key: value.to(PRECISIONS[args.precision]) for key, value in averaged_weights(args.weights).items()}
    buffer = io.BytesIO()
    torch.save(stored, buffer)
    try:
        with atomic_writer(args.output) as handle:
            handle.write(buffer.getvalue())
    except OSError as error:
        raise unwritable(args.output, error, "--output") from None
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    run_cli(main)
