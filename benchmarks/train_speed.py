"""Time one IFRNet optimiser step (forward with losses, backward, AdamW step) and print the median.

    python benchmarks/train_speed.py --model_name IFRNet --batch_size 4 --size 224 --threads 2
    python benchmarks/train_speed.py --batch_size 6 --size 224 --count_ops   # kernel launches per step, CPU vs GPU chunking
    python benchmarks/train_speed.py --amp --threads 2   # float32 against mixed precision, as train_*.py --amp

With ``--amp`` a second copy of the model (same weights) trains under the autocast of the
training engine's ``--amp`` (bfloat16 on CPU, float16 on CUDA); both are timed in alternation and
the losses of every step are printed side by side, to show whether mixed precision pays and
whether it follows the float32 run.

With ``--reference_dir PATH`` pointing at a checkout of the authors' repository
(github.com/ltkong218/IFRNet), their ``models/IFRNet*.py`` Model is imported from there at run time (by
``evaluation.reference``, isolated from this project's modules of the same names),
given the same weights and inputs, and both are timed in alternation (so a change in machine load
hits both alike); the script prints both medians, the
speed-up, and the largest differences of the three losses and of the gradients (one step from
identical weights). Nothing of the authors' code is stored in this project.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import MODEL_NAMES, build_model  # noqa: E402
from utils.cli import run_cli, whole_number_at_least  # noqa: E402
from utils.device import DEVICE_CHOICES, resolve_device  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.padding import NETWORK_MULTIPLE  # noqa: E402
from evaluation.reference import load_reference_class  # noqa: E402

Inputs = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor]]


def make_inputs(batch: int, size: int, with_flow: bool, device: torch.device, seed: int = 0) -> Inputs:
    """Smooth random frames and flows (low-resolution noise upsampled), fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)

    def smooth(channels: int, scale: float) -> torch.Tensor:
        coarse = torch.rand(batch, channels, max(size // 16, 1), max(size // 16, 1), generator=generator)
        return F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False) * scale

    img0, img1, imgt = (smooth(3, 1.0).clamp(0, 1) for _ in range(3))
    flow = (smooth(4, 8.0) - 4.0) if with_flow else None
    embt = torch.full((batch, 1, 1, 1), 0.5)
    return tuple(t.to(device) if t is not None else None for t in (img0, img1, embt, imgt, flow))  # type: ignore[return-value]


def gradients(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def losses_and_gradients(model: torch.nn.Module, inputs: Inputs) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The three losses and all gradients of one forward/backward (no optimiser step)."""
    model.zero_grad(set_to_none=True)
    _, loss_rec, loss_geo, loss_dis = model(*inputs)
    (loss_rec + loss_geo + loss_dis).backward()
    return torch.stack([loss_rec.detach(), loss_geo.detach(), loss_dis.detach()]), gradients(model)


class StepTimer:
    """Times optimiser steps (zero_grad, forward, backward, AdamW step) of one model on fixed inputs.

    ``amp`` runs the forward under the training engine's autocast (bfloat16 on CPU, float16 on
    CUDA; no loss scaling, which only matters for float16 underflow over many steps).
    """

    def __init__(self, model: torch.nn.Module, inputs: Inputs, device: torch.device, amp: bool = False) -> None:
        self.model, self.inputs = model, inputs
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
        self.sync: Callable[[], None] = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.autocast = lambda: torch.autocast(device.type, dtype=amp_dtype, enabled=amp)
        self.times: List[float] = []
        self.losses: List[float] = []

    def step(self, record: bool = True) -> None:
        self.sync()
        started = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            _, loss_rec, loss_geo, loss_dis = self.model(*self.inputs)
        total = loss_rec.float() + loss_geo.float() + loss_dis.float()
        total.backward()
        self.optimizer.step()
        self.sync()
        if record:
            self.times.append(time.perf_counter() - started)
        self.losses.append(total.item())


class _OpCounter(TorchDispatchMode):
    """Counts every ATen operation dispatched while active (each is one kernel launch on a GPU)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_step_ops(model: torch.nn.Module, inputs: Inputs, device_kind: str) -> Dict[str, int]:
    """ATen ops of one training step (forward with losses, backward, AdamW step) with ``device_kind``'s chunking.

    The census losses choose their chunking by device (models.losses.census_chunk_elements);
    setting their ``chunk_device`` runs that choice here, so a CPU shows what a GPU would launch.
    AdamW uses its multi-tensor (foreach) form on "cuda", as PyTorch does there by default. An
    uncounted forward pass comes first, so one-time work (the cached warp grids) is left out.
    """
    from models.losses import CensusLoss, GeometryConsistencyLoss

    losses = [m for m in model.modules() if isinstance(m, (CensusLoss, GeometryConsistencyLoss))]
    saved = [m.chunk_device for m in losses]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0, foreach=device_kind == "cuda")
    counts = {}
    try:
        for m in losses:
            m.chunk_device = device_kind
        with torch.no_grad():
            model(*inputs)
        optimizer.zero_grad(set_to_none=True)
        with _OpCounter() as counter:
            _, loss_rec, loss_geo, loss_dis = model(*inputs)
            total = loss_rec + loss_geo + loss_dis
        counts["forward"] = counter.count
        with _OpCounter() as counter:
            total.backward()
        counts["backward"] = counter.count
        with _OpCounter() as counter:
            optimizer.step()
        counts["optimizer"] = counter.count
    finally:
        for m, kind in zip(losses, saved):
            m.chunk_device = kind
    counts["total"] = counts["forward"] + counts["backward"] + counts["optimizer"]
    return counts


def time_alternating(timers: List[StepTimer], steps: int, warmup: int) -> None:
    """Step every timer in turn, ``warmup`` untimed rounds then ``steps`` timed ones.

    Alternating means a change in machine load during the run hits all models alike, so their
    ratio stays meaningful on a shared machine.
    """
    for index in range(warmup + steps):
        for timer in timers:
            timer.step(record=index >= warmup)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet")
    parser.add_argument("--batch_size", type=whole_number_at_least(1), default=4)
    parser.add_argument("--size", type=int, default=224, help="square crop side, a multiple of 16 (default: 224)")
    parser.add_argument("--steps", type=whole_number_at_least(1), default=5, help="timed steps (default: 5)")
    parser.add_argument("--warmup", type=whole_number_at_least(0), default=1, help="untimed steps first (default: 1)")
    parser.add_argument("--threads", type=whole_number_at_least(1), default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--flow", choices=("on", "off"), default="on", help="include pseudo flow labels (distillation loss)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference_dir", type=Path, default=None, metavar="PATH",
                        help="checkout of the authors' repository to compare against (timed and checked)")
    parser.add_argument("--count_ops", action="store_true",
                        help="instead of timing, count the ATen ops (GPU kernel launches) of one step with the "
                        "census chunking of a CPU and of a GPU; runs on this machine's --device")
    parser.add_argument("--amp", action="store_true",
                        help="also time a copy of the model under the training's --amp autocast (bfloat16 on CPU, "
                        "float16 on CUDA) and print its losses beside float32's")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    args = build_parser().parse_args(argv)
    if args.size <= 0 or args.size % NETWORK_MULTIPLE:
        raise InputError(f"--size must be a positive multiple of {NETWORK_MULTIPLE}, got {args.size}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    torch.manual_seed(args.seed)
    ours = build_model(args.model_name).to(device).train()
    initial = {k: v.clone() for k, v in ours.state_dict().items()}
    inputs = make_inputs(args.batch_size, args.size, args.flow == "on", device, args.seed)
    print(f"{args.model_name}, batch {args.batch_size}, {args.size}x{args.size}, flow labels {args.flow}, "
          f"device {device}, {torch.get_num_threads()} threads, median of {args.steps} steps after {args.warmup} warm-up")

    if args.count_ops:
        for kind in ("cpu", "cuda"):
            counts = count_step_ops(ours, inputs, kind)
            print(f"ops per step with {kind} chunking: {counts['total']} (forward {counts['forward']}, "
                  f"backward {counts['backward']}, optimizer {counts['optimizer']})")
        return

    reference = None
    if args.reference_dir is not None:
        reference = load_reference_class(args.reference_dir, args.model_name)().to(device).train()
        reference.load_state_dict(initial, strict=True)

    our_losses, our_grads = losses_and_gradients(ours, inputs)
    print(f"losses (rec, geo, dis): {', '.join(f'{v:.6e}' for v in our_losses.tolist())}")
    if reference is not None:
        ref_losses, ref_grads = losses_and_gradients(reference, inputs)
        print(f"reference losses:       {', '.join(f'{v:.6e}' for v in ref_losses.tolist())}")
        loss_diff = (our_losses - ref_losses).abs().max().item()
        grad_diff = max((our_grads[k] - ref_grads[k]).abs().max().item() for k in ref_grads)
        grad_scale = max(g.abs().max().item() for g in ref_grads.values())
        missing = sorted(set(ref_grads) ^ set(our_grads))
        print(f"max |loss difference| {loss_diff:.3e}; max |gradient difference| {grad_diff:.3e} "
              f"(largest gradient {grad_scale:.3e}){'; parameters without a match: ' + ', '.join(missing) if missing else ''}")

    timers = [StepTimer(ours, inputs, device)]
    labels = ["ours:     "]
    if reference is not None:
        timers.append(StepTimer(reference, inputs, device))
        labels.append("reference:")
    if args.amp:
        mixed = build_model(args.model_name).to(device).train()
        mixed.load_state_dict(initial, strict=True)
        timers.append(StepTimer(mixed, inputs, device, amp=True))
        labels.append("ours, amp:")
    time_alternating(timers, args.steps, args.warmup)
    medians = [statistics.median(timer.times) for timer in timers]
    for label, timer, median in zip(labels, timers, medians):
        print(f"{label} median {median:.3f} s per step  (steps: {', '.join(f'{t:.3f}' for t in timer.times)})")
    if reference is not None:
        print(f"speed-up: {medians[1] / medians[0]:.2f}x")
    if args.amp:
        print(f"amp against float32: {medians[0] / medians[-1]:.2f}x the speed; total loss per step, float32 | amp: "
              + ", ".join(f"{a:.5f} | {b:.5f}" for a, b in zip(timers[0].losses, timers[-1].losses)))

if __name__ == "__main__":
    os.environ.setdefault("KMP_WARNINGS", "0")
    run_cli(main)
