"""IFRNet on this CPU: our model against ONNX Runtime and OpenVINO on the same weights, taking turns.

Each precision of ours that this CPU runs natively (fp32; bf16 with avx512_bf16 or AMX) and each
installed peer (ONNX Runtime fp32; OpenVINO fp32, and bf16 where it runs natively) interpolates the
same seeded frames at each ``--sizes``; the peers run the project's ONNX export of the same weights
(``export_onnx.py``: the graph pads to a multiple of 16 and crops back, as our tools do). The
runtimes take turns, round after round, so the machine's load hits all alike; the table gives each
one's best and median time, its speed against our fp32, its GFLOP/s as a fraction of this CPU's
float32 matmul probe (``speed_parameters.py``'s), and how far its frame lies from ours.

    python benchmarks/peers.py                              # IFRNet at 1280x720 and 1920x1080
    python benchmarks/peers.py --sizes 1280x720 --rounds 3 --json peers.json

Peers are optional (``pip install -r requirements-peers.txt``); a missing one is skipped with a note.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from evaluation.json_report import write_json_report  # noqa: E402
from evaluation.speed import build_timed_model, count_flops, measure_matmul_gflops, time_interleaved, timing_weights  # noqa: E402
from models import MODEL_NAMES  # noqa: E402
from models.onnx_export import export_onnx  # noqa: E402
from models.peer_runtimes import peer_runtimes  # noqa: E402
from utils.cli import run_cli, whole_number_at_least  # noqa: E402
from utils.heap import keep_freed_memory  # noqa: E402
from utils.output_checks import check_output_file  # noqa: E402
from utils.padding import InputPadder  # noqa: E402
from utils.precision_choice import PRECISION_DTYPES, cpu_description, cpu_has_native_bfloat16  # noqa: E402

OURS = "ours (PyTorch)"
CPU = torch.device("cpu")
Call = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def parse_size(text: str) -> Tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. 1280x720) as (height, width)."""
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
        raise argparse.ArgumentTypeError(f"a size is WIDTHxHEIGHT, e.g. 1280x720, got {text!r}")
    return int(height), int(width)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--model_name", choices=MODEL_NAMES, default="IFRNet", help="variant (default: IFRNet)")
    add("--sizes", type=parse_size, nargs="+", default=[(720, 1280), (1080, 1920)],
        help="frame sizes WIDTHxHEIGHT, any (default: 1280x720 1920x1080)")
    add("--checkpoint", type=Path, default=None,
        help="weights (default: the variant's published checkpoint if present, else seeded random weights, which run "
        "at the same speed)")
    add("--rounds", type=whole_number_at_least(1), default=2, help="timed rounds, every runtime once per round (default: 2)")
    add("--warmup", type=whole_number_at_least(0), default=1,
        help="untimed rounds first, after the one that compares the outputs (default: 1)")
    add("--threads", type=whole_number_at_least(1), default=None, help="threads of every runtime (default: torch's count)")
    add("--matmul_size", type=whole_number_at_least(1), default=2048, help="side of the float32 matmul probe (default: 2048)")
    add("--json", type=Path, default=None, help="also write the figures to this JSON file")
    return parser


def our_precisions() -> List[str]:
    """The precisions of ours this CPU runs natively (what ``--precision`` accepts on it)."""
    return ["fp32"] + (["bf16"] if cpu_has_native_bfloat16() else [])


def _ours(model: torch.nn.Module) -> Call:
    """Our model on frames of any size, padded and cropped back as the tools and the ONNX graph do."""
    def run(img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> torch.Tensor:
        padder = InputPadder(img0.shape, multiple=16, mode="replicate")
        return padder.unpad(model.inference(*padder.pad(img0, img1), embt))
    return run


def _frames(height: int, width: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    img0, img1 = (torch.rand(1, 3, height, width, generator=generator) for _ in range(2))
    return img0, img1, torch.full((1, 1, 1, 1), 0.5)


def measure(args: argparse.Namespace, log: Callable[[str], None]) -> Dict[str, object]:
    """Every runtime at every size, in turns; the JSON report."""
    threads = torch.get_num_threads()
    state_dict, weights = timing_weights(args.model_name, args.checkpoint)
    models = {precision: build_timed_model(args.model_name, state_dict, CPU, precision=PRECISION_DTYPES[precision])
              for precision in our_precisions()}
    runners: List[Tuple[str, str, Call]] = [(OURS, precision, _ours(model)) for precision, model in models.items()]
    peers, notes = peer_runtimes()
    for note in notes:
        log(f"note: {note}")
    with tempfile.TemporaryDirectory() as folder:
        if peers:
            log("exporting the ONNX graph of the same weights")
            path = export_onnx(models["fp32"], Path(folder) / "model.onnx")
            runners += [(peer.name, peer.precision, peer.open(path, threads)) for peer in peers]
        matmul = measure_matmul_gflops(CPU, args.matmul_size)
        log(f"float32 matmul ({args.matmul_size}x{args.matmul_size}): {matmul:.1f} GFLOP/s")
        load_before = os.getloadavg()[0]
        rows = []
        for height, width in args.sizes:
            inputs = _frames(height, width)
            padded = InputPadder(inputs[0].shape, multiple=16).pad(*inputs[:2])
            flops = count_flops(models["fp32"], (*padded, inputs[2]))  # of the padded frames, as every runtime computes
            log(f"{width}x{height}: comparing outputs, then {args.warmup} warm-up and {args.rounds} timed rounds")
            with torch.inference_mode():
                outputs = [run(*inputs) for _, _, run in runners]
            times = time_interleaved([lambda run=run: run(*inputs) for _, _, run in runners], args.rounds, args.warmup, CPU)
            ours = min(times[0])
            for (name, precision, _), output, seconds in zip(runners, outputs, times):
                best = min(seconds)
                rows.append({"runtime": name, "precision": precision, "width": width, "height": height,
                             "best_s": best, "median_s": statistics.median(seconds), "seconds": seconds,
                             "speed_vs_ours_fp32": ours / best, "gflops": flops / 1e9,
                             "matmul_fraction": flops / best / 1e9 / matmul,
                             "max_abs_diff_vs_ours_fp32": float((output - outputs[0]).abs().max())})
    return {"cpu": cpu_description(), "threads": threads, "torch": torch.__version__, "model_name": args.model_name,
            "weights": weights, "matmul_size": args.matmul_size, "matmul_gflops": matmul, "rounds": args.rounds,
            "warmup": args.warmup, "load_before": load_before, "load_after": os.getloadavg()[0],
            "skipped": notes, "rows": rows}


def format_table(report: Dict[str, object]) -> str:
    """The report as the header lines and the markdown table docs/benchmarks.md holds."""
    lines = [f"{report['model_name']} on {report['cpu']}, {report['threads']} threads, torch {report['torch']}; "
             f"float32 matmul probe {report['matmul_gflops']:.1f} GFLOP/s; best of {report['rounds']} rounds taking turns; "
             f"1-minute load {report['load_before']:.2f} before, {report['load_after']:.2f} after",
             "| size | runtime | precision | best (s) | median (s) | speed vs ours fp32 | GFLOP/s | of matmul | max diff vs ours fp32 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in report["rows"]:
        lines.append(f"| {row['width']}x{row['height']} | {row['runtime']} | {row['precision']} | {row['best_s']:.3f} | "
                     f"{row['median_s']:.3f} | {row['speed_vs_ours_fp32']:.2f}x | {row['gflops'] / row['best_s']:.1f} | "
                     f"{row['matmul_fraction']:.0%} | {row['max_abs_diff_vs_ours_fp32']:.1e} |")
    return "\n".join(lines + [f"note: {note}" for note in report["skipped"]])


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    """Measure, print the table, write --json; returns the report (also for tests)."""
    args = build_parser().parse_args(argv)
    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as the tools run: freed blocks reused, for every runtime timed here
    report = measure(args, lambda message: print(message, file=sys.stderr))
    print(format_table(report))
    if args.json is not None:
        write_json_report(args.json, report)
    return report


if __name__ == "__main__":
    run_cli(main)
