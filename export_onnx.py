"""Export IFRNet's inference pass to ONNX (dynamic batch, height and width; the timestep is an input).

Inputs img0, img1 (N,3,H,W float32 in [0,1], any H and W) and embt (N,1,1,1); output imgt (N,3,H,W).
The graph pads the frames to multiples of 16 / --scale_factor and crops the result back, as the
Python tools do. See models/onnx_export.py for why the graph is built as it is.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from models import MODEL_NAMES, PUBLISHED, create_model
from models.arguments import add_weights_arguments
from models.interpolator import pad_multiple_for_scale
from models.onnx_export import (
    DEFAULT_OPSET,
    MAX_OPSET,
    MIN_OPSET,
    check_opset,
    compare_with_onnxruntime,
    export_onnx,
)
from utils.atomic import remove_stale_temporaries
from utils.cli import run_cli
from utils.errors import InputError
from utils.output_checks import check_output_folder, unwritable

CHECK_TIMESTEPS = (0.25, 0.7)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add_weights_arguments(parser)
    parser.add_argument("--output", type=Path, default=None, help="ONNX file to write (default: <model_name>.onnx)")
    parser.add_argument(
        "--opset",
        type=int,
        default=DEFAULT_OPSET,
        help=f"ONNX opset, {MIN_OPSET}..{MAX_OPSET} (default: {DEFAULT_OPSET})",
    )
    parser.add_argument(
        "--scale_factor",
        type=float,
        default=1.0,
        help="scale at which the flow network runs, fixed in the graph: 1, 0.5, 0.25 ... (default: 1.0)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="after exporting, run the graph with onnxruntime on random pairs at two sizes (one that needs "
        "padding) and print the largest difference to PyTorch",
    )
    return parser


def main(argv: Optional[list] = None) -> None:
    args = build_parser().parse_args(argv)
    check_opset(args.opset)
    multiple = pad_multiple_for_scale(args.scale_factor)
    output = args.output or Path(f"{args.model_name}.onnx")
    if output.is_dir():
        raise InputError(f"--output is a folder ({output}); give a file name such as {output / args.model_name}.onnx")
    check_output_folder(output.parent, "--output's folder")
    stale = remove_stale_temporaries(output.parent, output=output)  # left by an export that was killed
    if stale:
        print(f"note: removed {len(stale)} partial file(s) of an interrupted export: {', '.join(p.name for p in stale)}",
              file=sys.stderr)
    # An exported graph is a deployment artifact of the width --model_name names, so the export
    # never lets the starter's IFRNet_S stand in for another variant (create_model's default):
    # without that variant's weights it stops and says how to get them. The graph is the plain path
    # of these weights (models/onnx_export.py); the model built is the lean one the other tools
    # run, which --check compares it with.
    model = create_model(args.model_name, weights=args.checkpoint or PUBLISHED, offline=args.offline)
    model_name, checkpoint, note = model.weights_source
    if note:
        print(f"note: {note}", file=sys.stderr)

    print(f"exporting {model_name} ({checkpoint}) at scale_factor {args.scale_factor}, opset {args.opset} ...")
    try:
        export_onnx(model, output, opset=args.opset, scale_factor=args.scale_factor)
    except OSError as error:  # e.g. the file system is read-only or full
        raise unwritable(output, error, "--output") from None
    print(f"wrote {output}")
    print(
        f"inputs img0, img1 (N,3,H,W float32 in [0,1], any H and W) and embt (N,1,1,1); output imgt (N,3,H,W). "
        f"The graph pads H and W to multiples of {multiple} by edge replication and crops its result back."
    )
    if args.check:
        sizes = ((4 * multiple, 6 * multiple), (6 * multiple - 3, 8 * multiple + 5))  # the second needs padding
        results = compare_with_onnxruntime(model, output, sizes, CHECK_TIMESTEPS, scale_factor=args.scale_factor)
        for r in results:
            print(f"check {r.height}x{r.width} t={r.timestep:g}: max |onnxruntime - PyTorch| = {r.max_abs_diff:.2e}")


if __name__ == "__main__":
    run_cli(main)
