"""What every benchmark script shares: its flags, loading the model, the run, the summary and the JSON.

``benchmarks/<Name>.py`` is a few lines calling :func:`run_benchmark` with its benchmark's name, so
all scripts accept the same flags (``--data_root --model_name --checkpoint --device --limit
--json``, ``--split`` where a benchmark has several, ``--devices``/``--ray`` for several workers)
and report in the same form.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch


from evaluation.benchmark_sets import Benchmark, check_samples_exist, get_benchmark, list_samples
from evaluation.json_report import write_json_report
from evaluation.runner import score_benchmark
from evaluation.scoring import BenchmarkResult
from evaluation.sharded import score_on_workers
from models import MODEL_NAMES, PUBLISHED, create_model
from models.arguments import add_weights_arguments
from models.timestep_policy import honours_timestep
from models.tta import TestTimeAugmented
from scale import WorkerContext, add_worker_arguments, open_pool, workers_from
from scale.pool import call_one
from utils.cli import whole_number_at_least
from utils.device import DEVICE_CHOICES, resolve_device
from utils.errors import InputError
from utils.output_checks import check_output_file, is_within
from utils.precision_choice import add_precision_argument

__all__ = ["build_parser", "run_benchmark", "build_report", "summary_line"]

ALL_SPLITS = "all"


def build_parser(benchmark: Benchmark, description: str) -> argparse.ArgumentParser:
    """The flags of one benchmark script; defaults name the benchmark's usual paths."""
    parser = argparse.ArgumentParser(
        description=f"{description} Protocol: {benchmark.protocol.describe()}.",
        epilog=f"Expected layout: {benchmark.layout}.",
    )
    parser.add_argument("--data_root", type=Path, default=Path(benchmark.default_root),
                        help=f"dataset folder (default: {benchmark.default_root})")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet", help="network width (default: IFRNet)")
    add_weights_arguments(parser, dataset=benchmark.checkpoint_dataset)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    add_precision_argument(parser)
    parser.add_argument("--limit", type=whole_number_at_least(1), default=None,
                        help="evaluate only the first N samples (of each split), e.g. for a quick check")
    parser.add_argument("--json", type=Path, default=None, help="also write the scores, per sample, to this JSON file")
    if len(benchmark.splits) > 1:
        parser.add_argument("--split", choices=(*benchmark.splits, ALL_SPLITS), default=ALL_SPLITS,
                            help=f"which list to evaluate (default: {ALL_SPLITS}, each reported separately)")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--tta", action="store_true",
                        help="test-time augmentation: average with the prediction on the pair turned by 180 degrees (about 2x the time)")
    add_worker_arguments(parser)
    return parser


def _split_entry(result: BenchmarkResult) -> Dict[str, object]:
    entry: Dict[str, object] = {"count": result.count, "psnr": result.psnr, "ssim": result.ssim}
    if result.with_ie:
        entry["ie"] = result.ie
    if result.exact_frames:
        entry["exact_frames"] = result.exact_frames
    return entry


def build_report(
    benchmark: Benchmark,
    split: str,
    model_name: str,
    checkpoint: Path,
    results: Dict[str, BenchmarkResult],
) -> Dict[str, object]:
    """The JSON document of a run over one split, or over several (``split='all'``)."""
    merged = BenchmarkResult(with_ie=benchmark.protocol.with_ie)
    per_sample: List[Dict[str, object]] = []
    for name, result in results.items():
        merged.samples.extend(result.samples)
        for sample in result.samples:
            entry = sample.to_dict(result.with_ie)
            per_sample.append({"split": name, **entry} if len(results) > 1 else entry)
    report: Dict[str, object] = {
        "dataset": benchmark.name,
        "split": split,
        "model_name": model_name,
        "checkpoint": str(checkpoint),
        "protocol": benchmark.protocol.describe(),
        **_split_entry(merged),
    }
    if len(results) > 1:
        report["splits"] = {name: _split_entry(result) for name, result in results.items()}
    report["per_sample"] = per_sample
    return report


def _scores(entry: Dict[str, object]) -> str:
    text = f"PSNR {entry['psnr']:.4f} SSIM {entry['ssim']:.5f}"
    if "ie" in entry:
        text += f" IE {entry['ie']:.4f}"
    exact = entry.get("exact_frames", 0)
    if exact:  # their PSNR is infinite: left out of the PSNR average (see utils.metrics.mean_psnr)
        return text + f" (n={entry['count']}; {exact} frame(s) predicted exactly, PSNR infinite, not in the PSNR average)"
    return text + f" (n={entry['count']})"


def summary_line(report: Dict[str, object]) -> str:
    """One line: dataset, split, model, checkpoint and the averages (per split for several splits)."""
    head = f"{report['dataset']} [{report['split']}] {report['model_name']} ({report['checkpoint']}):"
    if "splits" in report:
        return head + " " + " | ".join(f"{name} {_scores(entry)}" for name, entry in report["splits"].items())
    return f"{head} {_scores(report)}"


def run_benchmark(name: str, argv: Optional[Sequence[str]] = None, description: str = "") -> Dict[str, object]:
    """Parse ``argv``, evaluate, print the summary line, write --json; returns the report."""
    benchmark = get_benchmark(name)
    args = build_parser(benchmark, description or f"Evaluate IFRNet on {name}.").parse_args(argv)
    split = getattr(args, "split", benchmark.splits[0])
    splits = list(benchmark.splits) if split == ALL_SPLITS else [split]

    if args.json is not None:
        check_output_file(args.json, "--json")
        if is_within(args.json, args.data_root):  # a report never replaces, nor sits among, the dataset's files
            raise InputError(f"--json {args.json} is inside --data_root {args.data_root}; write the report outside the dataset")
    listed = {}
    for split_name in splits:  # every list and frame is checked before the model is loaded
        samples = list_samples(benchmark, args.data_root, split_name)
        if not samples:
            raise InputError(f"{benchmark.name} lists no samples under {args.data_root}; expected {benchmark.layout}")
        samples = samples[: args.limit] if args.limit else samples
        check_samples_exist(benchmark, samples)
        listed[split_name] = samples

    options = dict(name=args.model_name, weights=args.checkpoint or PUBLISHED, dataset=benchmark.checkpoint_dataset,
                   other_variant=True, offline=args.offline, precision=args.precision, tta=args.tta)
    workers = workers_from(args)
    if workers.several:
        with open_pool(workers, BenchmarkModel(options)) as pool:
            source, ignores_t = call_one(pool, _describe, None)
            _say_what_runs(benchmark, source, ignores_t)
            results = {name: score_on_workers(pool, None, samples, benchmark.protocol, description=_label(benchmark, splits, name),
                                              progress=not args.no_progress)
                       for name, samples in listed.items()}
    else:
        device = resolve_device(args.device)
        model = BenchmarkModel(options, progress=not args.no_progress)(None, device)
        source, ignores_t = _about(model)
        _say_what_runs(benchmark, source, ignores_t)
        results = {name: score_benchmark(model, samples, benchmark.protocol, device, description=_label(benchmark, splits, name),
                                         progress=not args.no_progress)
                   for name, samples in listed.items()}
    model_name, checkpoint, _ = source
    report = build_report(benchmark, split, model_name, checkpoint, results)
    print(summary_line(report))
    if args.json is not None:
        write_json_report(args.json, report)
    return report


def _label(benchmark: Benchmark, splits: List[str], split_name: str) -> str:
    return benchmark.name if len(splits) == 1 and split_name == benchmark.splits[0] else f"{benchmark.name} {split_name}"


def _say_what_runs(benchmark: Benchmark, source: tuple, ignores_t: bool) -> None:
    """The notes about the weights: a stand-in, and 8x weights that ignore t."""
    _, checkpoint, note = source
    if note:
        print(f"note: {note}", file=sys.stderr)
    if benchmark.checkpoint_dataset == "GoPro" and ignores_t:  # scored at t = 1/8 .. 7/8
        print(f"note: {Path(checkpoint).name} ignores t (weights trained for t = 1/2 only, such as the published "
              "Vimeo90K ones): every frame scored here is its middle frame; the paper scores the GoPro weights",
              file=sys.stderr)


class BenchmarkModel:
    """The model the flags ask for on a device (with --tta, wrapped): what a worker builds, once;
    picklable (the flags' arguments of :func:`models.create_model`, not a model)."""

    def __init__(self, options: Dict[str, object], progress: bool = False) -> None:
        self.options, self.progress = dict(options), progress

    def __call__(self, key: object, device: torch.device) -> torch.nn.Module:
        options = dict(self.options)
        tta = options.pop("tta")
        model = create_model(**options, progress=self.progress, device=device)
        return TestTimeAugmented(model) if tta else model


def _about(model: torch.nn.Module) -> Tuple[tuple, bool]:
    """Where the weights came from (name, file, note) and whether they ignore t."""
    inner = model.model if isinstance(model, TestTimeAugmented) else model
    return tuple(inner.weights_source), not honours_timestep(inner)


def _describe(context: WorkerContext, key: object) -> Tuple[tuple, bool]:
    """:func:`_about` the model of a worker."""
    return _about(context.model(key))
