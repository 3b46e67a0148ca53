"""Measuring IFRNet's cost: parameters, FLOPs, latency, peak memory, and the machine's matmul rate.

Latency alone is hard to compare across machines, and on a shared machine even across runs. So
every run also measures the machine's dense float32 matrix-multiply throughput and reports each
model's achieved GFLOP/s as a fraction of it: a slow figure caused by a busy machine shows up as
a low matmul rate too. When the authors' code is given, our model and theirs are timed in
alternation in the same run, so load changes hit both alike. Peak memory is read in a fresh
process per configuration (:mod:`evaluation.speed_worker`) so it is not the maximum of all the
work this process did before.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch.utils.flop_counter import FlopCounterMode

from evaluation.reference import build_reference_model
from models import WIDTHS, create_model
from models.lean_inference import LeanIFRNet
from models.checkpoint import resolve_weights
from utils.precision_choice import PRECISION_DTYPES
from utils.errors import InputError

__all__ = [
    "SpeedRow",
    "make_inputs",
    "count_parameters",
    "count_flops",
    "synchronize",
    "time_interleaved",
    "measure_matmul_gflops",
    "measure_peak_memory",
    "release_cached_memory",
    "tf32_settings",
    "format_table",
    "timing_weights",
    "build_timed_model",
    "measure_speed",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
Inputs = Tuple[torch.Tensor, torch.Tensor, torch.Tensor]


@dataclass
class SpeedRow:
    """The figures of one variant (and of the authors' implementation of it, when timed)."""

    model_name: str
    weights: str
    params_m: float
    gflops: float
    latency_s: float
    achieved_gflops: float
    matmul_fraction: float
    peak_rss_gb: float
    rss_before_inference_gb: float
    peak_cuda_gb: Optional[float] = None
    reference_latency_s: Optional[float] = None
    speedup: Optional[float] = None
    reference_peak_rss_gb: Optional[float] = None

    def to_dict(self) -> Dict[str, object]:
        return asdict(self)


def timing_weights(model_name: str, checkpoint: Optional[Union[str, Path]] = None) -> Tuple[Dict[str, torch.Tensor], str]:
    """The weights to time and a note saying which they are.

    Whatever :func:`models.checkpoint.resolve_weights` finds on disk for the variant (``checkpoint``
    when given), never downloading and never another width; else the default initialisation
    under seed 0. The speed of a network does not depend on its weights' values, so timing needs
    no download.
    """
    path = resolve_weights(model_name, checkpoint, offline=True).path
    if path.is_file():
        return create_model(model_name, weights=path).state_dict(), str(path)
    torch.manual_seed(0)
    return create_model(model_name, weights=None).state_dict(), "random init (seed 0)"


def build_timed_model(
    model_name: str,
    state_dict: Dict[str, torch.Tensor],
    device: torch.device,
    reference_dir: Optional[Path] = None,
    *,
    precision: torch.dtype = torch.float32,
) -> torch.nn.Module:
    """Our model, or the authors' from ``reference_dir``, holding ``state_dict``, in eval mode on ``device``.

    Ours is timed as the tools run it: the memory-lean :class:`~models.lean_inference.LeanIFRNet`,
    its convolutions in ``precision``. The precision is built here rather than through
    ``models.create_model`` because a benchmark may time what the device runs only emulated
    (``benchmarks/precision.py``: bfloat16 on a CPU without it), which the factory refuses.
    """
    if reference_dir is not None:
        if precision != torch.float32:
            raise InputError(f"the authors' model runs float32 only, not {precision}")
        model = build_reference_model(reference_dir, model_name, state_dict)
    else:
        model = LeanIFRNet(WIDTHS[model_name], precision=precision)
        model.load_state_dict(state_dict, strict=True)
    return model.to(device).eval()


def make_inputs(height: int, width: int, device: torch.device) -> Inputs:
    """Two seeded random frames in [0, 1] of (1, 3, height, width) and the timestep 0.5."""
    generator = torch.Generator().manual_seed(0)
    img0 = torch.rand(1, 3, height, width, generator=generator)
    img1 = torch.rand(1, 3, height, width, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    return img0.to(device), img1.to(device), embt.to(device)


def count_parameters(model: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def count_flops(model: torch.nn.Module, inputs: Inputs) -> int:
    """FLOPs of one interpolated frame, as torch.utils.flop_counter counts them.

    It counts convolutions and matrix products (2 FLOPs per multiply-add) and leaves out cheap
    element-wise work (PReLU, warping, resizing).
    """
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model.inference(*inputs)
    return int(counter.get_total_flops())


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures the work and not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(calls: Sequence[Callable[[], object]], runs: int, warmup: int, device: torch.device) -> List[List[float]]:
    """Seconds per run of each call; the calls take turns, so all see the same machine load."""
    with torch.inference_mode():
        for _ in range(warmup):
            for call in calls:
                call()
        synchronize(device)
        times: List[List[float]] = [[] for _ in calls]
        for _ in range(runs):
            for index, call in enumerate(calls):
                synchronize(device)
                start = time.perf_counter()
                call()
                synchronize(device)
                times[index].append(time.perf_counter() - start)
    return times


def measure_matmul_gflops(device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    """Median dense float32 (size x size) @ (size x size) throughput in GFLOP/s on ``device``."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    (seconds,) = time_interleaved([lambda: torch.mm(a, b)], runs=repeats, warmup=1, device=device)
    return 2.0 * size**3 / statistics.median(seconds) / 1e9


def release_cached_memory(device: torch.device) -> None:
    """Give this process's cached GPU memory back to the driver before a memory child starts.

    PyTorch's caching allocator keeps freed blocks reserved, so without this the child measured
    next would find the GPU holding the parent's timing allocations and could run out of memory.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


def tf32_settings(device: torch.device) -> Dict[str, bool]:
    """Whether TF32 (10-bit mantissa products on Ampere and later) is allowed, per kind of op, on CUDA.

    PyTorch allows it for cuDNN convolutions by default (most of IFRNet's FLOPs) but not for
    float32 matmuls, which the matmul probe uses: on such GPUs the models' GFLOP/s can exceed the
    probe's float32 rate. Empty on other devices.
    """
    if device.type != "cuda":
        return {}
    return {"convolutions": bool(torch.backends.cudnn.allow_tf32), "matmul": bool(torch.backends.cuda.matmul.allow_tf32)}


def measure_peak_memory(
    model_name: str,
    height: int,
    width: int,
    device: torch.device,
    *,
    threads: Optional[int] = None,
    checkpoint: Optional[Path] = None,
    reference_dir: Optional[Path] = None,
    precision: str = "fp32",
) -> Dict[str, float]:
    """Peak memory of one inference, measured in a fresh Python process (see speed_worker).

    Returns ``peak_rss_gb`` (whole process: interpreter, torch, weights and the inference),
    ``rss_before_inference_gb`` and, on CUDA, ``peak_cuda_gb``.
    """
    command = [sys.executable, "-m", "evaluation.speed_worker", "--model_name", model_name,
               "--height", str(height), "--width", str(width), "--device", str(device)]
    if threads is not None:
        command += ["--threads", str(threads)]
    if checkpoint is not None:
        command += ["--checkpoint", str(checkpoint)]
    if reference_dir is not None:
        command += ["--reference_dir", str(reference_dir)]
    command += ["--precision", precision]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit code {done.returncode}"]
        raise InputError(f"the memory measurement of {model_name} failed: {lines[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cell(value: Optional[float], digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(rows: Sequence[SpeedRow], with_reference: bool) -> str:
    """A markdown table of the rows, ready for a README or an issue."""
    header = ["variant", "params (M)", "GFLOPs", "latency (s)", "GFLOP/s", "of matmul", "peak RSS (GB)"]
    with_cuda = any(row.peak_cuda_gb is not None for row in rows)
    if with_cuda:
        header.append("peak CUDA (GB)")
    if with_reference:
        header += ["reference latency (s)", "speed-up", "reference peak RSS (GB)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.model_name, f"{row.params_m:.3f}", f"{row.gflops:.1f}", f"{row.latency_s:.4f}",
                 f"{row.achieved_gflops:.1f}", f"{row.matmul_fraction:.0%}", f"{row.peak_rss_gb:.2f}"]
        if with_cuda:
            cells.append(_cell(row.peak_cuda_gb, 2))
        if with_reference:
            speedup = "-" if row.speedup is None else f"{row.speedup:.2f}x"
            cells += [_cell(row.reference_latency_s, 4), speedup, _cell(row.reference_peak_rss_gb, 2)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measure_speed(
    model_names: Sequence[str],
    *,
    height: int,
    width: int,
    device: torch.device,
    runs: int,
    warmup: int,
    threads: Optional[int] = None,
    checkpoint: Optional[Path] = None,
    reference_dir: Optional[Path] = None,
    matmul_size: int = 2048,
    precision: str = "fp32",
    log: Callable[[str], None] = lambda message: None,
) -> Dict[str, object]:
    """All figures of ``model_names`` at ``height`` x ``width``: the JSON report of speed_parameters.py.

    ``precision`` (fp32, bf16, fp16; already checked against the device) is our models'; the
    authors' models run float32."""
    matmul = measure_matmul_gflops(device, matmul_size)
    log(f"float32 matmul ({matmul_size}x{matmul_size}) on {device}: {matmul:.1f} GFLOP/s")
    inputs = make_inputs(height, width, device)
    rows = []
    for name in model_names:
        state_dict, weights = timing_weights(name, checkpoint)
        model = build_timed_model(name, state_dict, device, precision=PRECISION_DTYPES[precision])
        calls = [lambda model=model: model.inference(*inputs)]
        if reference_dir is not None:
            reference = build_timed_model(name, state_dict, device, reference_dir)
            calls.append(lambda reference=reference: reference.inference(*inputs))
        log(f"{name}: counting FLOPs, then timing {runs} runs after {warmup} warm-up runs")
        flops = count_flops(model, inputs)
        times = time_interleaved(calls, runs, warmup, device)
        latency = statistics.median(times[0])
        achieved = flops / latency / 1e9
        parameters = count_parameters(model)
        del calls, model  # the memory child should find the GPU as free as possible
        if reference_dir is not None:
            del reference
        release_cached_memory(device)
        memory = measure_peak_memory(name, height, width, device, threads=threads, checkpoint=checkpoint,
                                     precision=precision)
        row = SpeedRow(
            model_name=name, weights=weights, params_m=parameters / 1e6, gflops=flops / 1e9,
            latency_s=latency, achieved_gflops=achieved, matmul_fraction=achieved / matmul,
            peak_rss_gb=memory["peak_rss_gb"], rss_before_inference_gb=memory["rss_before_inference_gb"],
            peak_cuda_gb=memory.get("peak_cuda_gb"),
        )
        if reference_dir is not None:
            row.reference_latency_s = statistics.median(times[1])
            row.speedup = row.reference_latency_s / latency
            reference_memory = measure_peak_memory(name, height, width, device, threads=threads,
                                                   checkpoint=checkpoint, reference_dir=reference_dir)
            row.reference_peak_rss_gb = reference_memory["peak_rss_gb"]
        rows.append(row)
    return {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "height": height,
        "width": width,
        "runs": runs,
        "warmup": warmup,
        "matmul_size": matmul_size,
        "matmul_gflops": matmul,
        "precision": precision,
        "tf32": tf32_settings(device),
        "reference_dir": None if reference_dir is None else str(reference_dir),
        "models": [row.to_dict() for row in rows],
        "table": format_table(rows, reference_dir is not None),
    }
