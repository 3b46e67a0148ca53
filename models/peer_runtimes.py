"""The project's ONNX export run by the inference engines a user might pick instead of PyTorch.

``benchmarks/peers.py`` times our model against ONNX Runtime and OpenVINO on the same weights; this
module opens the exported graph (:mod:`models.onnx_export`) in each and hands back a callable that
maps (img0, img1, embt) tensors to the interpolated frame, so the benchmark times every runtime
through one interface. Both runtimes are optional (``requirements-peers.txt``): :func:`peer_runtimes`
lists only the ones this environment has and says which are missing.

Each engine gets the threads torch uses and is told not to spin between calls (ONNX Runtime's
worker threads otherwise busy-wait after each run and would slow the next runtime timed in turn).
OpenVINO runs a precision only where this CPU computes it natively, as it reports
(``OPTIMIZATION_CAPABILITIES``): bf16 needs it there, f32 always runs.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Tuple

import numpy as np
import torch

from models.onnx_export import INPUT_NAMES, OUTPUT_NAME

__all__ = ["PeerRuntime", "peer_runtimes", "onnxruntime_runner", "openvino_runner", "openvino_precisions"]

Runner = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class PeerRuntime:
    """One engine at one precision, opened on an ONNX file by ``open(path, threads)``."""

    name: str  # e.g. "ONNX Runtime"
    precision: str  # fp32, bf16, ...
    open: Callable[[Path, int], Runner]


def _feed(img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> dict:
    return {name: np.ascontiguousarray(x.detach().cpu().numpy()) for name, x in zip(INPUT_NAMES, (img0, img1, embt))}


def onnxruntime_runner(path: Path, threads: int) -> Runner:
    """The graph in an ONNX Runtime CPU session with every graph optimisation, ``threads`` threads, no spinning."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> torch.Tensor:
        (frame,) = session.run([OUTPUT_NAME], _feed(img0, img1, embt))
        return torch.from_numpy(frame)

    return run


def openvino_precisions() -> Tuple[str, ...]:
    """The precisions OpenVINO's CPU plugin runs natively here: fp32, and bf16 where it says BF16."""
    import openvino

    capabilities = set(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    return ("fp32",) + (("bf16",) if "BF16" in capabilities else ())


def openvino_runner(path: Path, threads: int, precision: str = "fp32") -> Runner:
    """The graph compiled by OpenVINO for the CPU, latency hint, ``threads`` threads, at ``precision``
    (``INFERENCE_PRECISION_HINT``: f32 or bf16; OpenVINO's own default would pick bf16 where it can)."""
    import openvino

    core = openvino.Core()
    config = {"INFERENCE_PRECISION_HINT": {"fp32": "f32", "bf16": "bf16"}[precision],
              "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    request = compiled.create_infer_request()

    def run(img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> torch.Tensor:
        request.infer(_feed(img0, img1, embt))
        return torch.from_numpy(request.get_output_tensor(0).data.copy())

    return run


def peer_runtimes() -> Tuple[List[PeerRuntime], List[str]]:
    """The runtimes installed here (each at the precisions it runs natively on this CPU), and a
    one-line note for each one that is not installed."""
    runtimes: List[PeerRuntime] = []
    missing: List[str] = []
    if importlib.util.find_spec("onnxruntime") is not None:
        runtimes.append(PeerRuntime("ONNX Runtime", "fp32", onnxruntime_runner))
    else:
        missing.append("ONNX Runtime skipped: not installed (pip install -r requirements-peers.txt)")
    if importlib.util.find_spec("openvino") is not None:
        for precision in openvino_precisions():
            runtimes.append(PeerRuntime("OpenVINO", precision,
                                        lambda path, threads, precision=precision: openvino_runner(path, threads, precision)))
    else:
        missing.append("OpenVINO skipped: not installed (pip install -r requirements-peers.txt)")
    return runtimes, missing
