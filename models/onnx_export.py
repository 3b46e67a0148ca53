"""Exporting IFRNet's inference pass to ONNX, with dynamic batch, height and width.

The exported graph has three inputs and one output, all float32:

* ``img0``, ``img1``: (N, 3, H, W) in [0, 1], any H and W. The graph pads them to multiples of
  ``16 / scale_factor`` (16 at the default scale 1) as the Python tools do (centred, by edge
  replication: ``utils.padding.InputPadder``) and crops its result back, so a caller passes the
  frames as they are and gets the tools' frame.
* ``embt``: (N, 1, 1, 1), the timestep in (0, 1) of each pair; it is a graph input, so one file
  serves every timestep.
* ``imgt``: (N, 3, H, W) in [0, 1], the interpolated frame, the inputs' size.

The scale factor at which the flow network runs is fixed at export time.

Why the TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) and not the
``torch.export``-based one that torch 2.14 defaults to: with ``dynamic_shapes`` the latter records
``torch.linspace``'s step count (used by the backward warp to build its sampling grid) as the
example input's size, so its graph fails at any other height or width; it also takes about 60 s
for IFRNet_S on two CPU cores, against about 3 s here. The tracer records the sizes that feed
``linspace`` as graph values, so H and W stay dynamic with no change to the model; the padding
is computed on those traced sizes too. The test suite runs the exported graph at several
resolutions, multiples of 16 and not, to keep this true.

The graph is traced from the plain path (:class:`models.network.IFRNet`) on the model's own
weights, whichever class the model is: the lean sibling works in place on row bands whose count
depends on the input size, which a trace would freeze, and its channels_last layout means nothing
to ONNX (the runtime picks its own); a lean model's reduced precision is not exported either (the
graph is float32). The caller's model is neither copied nor changed.
"""
from __future__ import annotations

import importlib.util
import inspect
import io
import os
import warnings
from pathlib import Path
from typing import List, NamedTuple, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from models.network import IFRNet
from utils.atomic import atomic_writer
from utils.errors import InputError
from utils.padding import InputPadder, pad_multiple_for_scale

__all__ = [
    "INPUT_NAMES",
    "OUTPUT_NAME",
    "DEFAULT_OPSET",
    "MIN_OPSET",
    "MAX_OPSET",
    "InferenceGraph",
    "export_onnx",
    "check_opset",
    "CheckResult",
    "compare_with_onnxruntime",
]

INPUT_NAMES = ("img0", "img1", "embt")
OUTPUT_NAME = "imgt"
# GridSample (the backward warp) exists from opset 16; the TorchScript exporter stops at 20.
MIN_OPSET = 16
MAX_OPSET = 20
# 17 is the oldest opset with everything the graph needs that is not bleeding edge: the common
# runtimes (onnxruntime, TensorRT, OpenVINO) all read it.
DEFAULT_OPSET = 17

PathLike = Union[str, "os.PathLike[str]"]
Size = Union[int, torch.Tensor]  # a side: an int, or a 0-d tensor while tracing

# torch >= 2.5 chooses the exporter with ``dynamo=`` (and from 2.9 defaults to the other one);
# older versions have only the TorchScript exporter and no such argument.
_TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def _centred_padding(height: Size, width: Size, multiple: int) -> Tuple[Size, Size, Size, Size]:
    """(left, right, top, bottom) that pad ``height`` x ``width`` to multiples of ``multiple``, the
    odd pixel after: :class:`utils.padding.InputPadder`'s centred padding, computed on the sizes
    as given. In a trace they are tensors and the pads stay graph values; InputPadder turns sizes
    into Python ints, which a trace would freeze at the example's size."""
    pad_h, pad_w = (multiple - height % multiple) % multiple, (multiple - width % multiple) % multiple
    top, left = pad_h // 2, pad_w // 2
    return left, pad_w - left, top, pad_h - top


class InferenceGraph(nn.Module):
    """The plain ``inference`` of ``model``'s weights at a fixed scale factor, on frames of any size
    (padded to the multiple the scale needs and cropped back), as a module whose forward can be
    exported."""

    def __init__(self, model: IFRNet, scale_factor: float = 1.0) -> None:
        super().__init__()
        self.model = IFRNet.sharing_weights(model)  # the plain path over the same layers, whatever model is
        self.scale_factor = float(scale_factor)
        self.multiple = pad_multiple_for_scale(self.scale_factor)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor) -> torch.Tensor:
        height, width = img0.shape[2], img0.shape[3]
        left, right, top, bottom = pads = _centred_padding(height, width, self.multiple)
        img0, img1 = F.pad(img0, pads, mode="replicate"), F.pad(img1, pads, mode="replicate")
        frame = self.model.inference(img0, img1, embt, self.scale_factor)
        return frame.narrow(2, top, height).narrow(3, left, width)


def check_opset(opset: int) -> int:
    """``opset`` if the exporter can write it and the graph can use it; InputError otherwise."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise InputError(
            f"--opset must be between {MIN_OPSET} (GridSample, used by the warp) and {MAX_OPSET} "
            f"(the newest the TorchScript exporter writes), got {opset}"
        )
    return opset


def _example_inputs(multiple: int, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Trace inputs: batch 2 and unequal sides, so no size is mistaken for a constant 1 or a square.

    The sides (80x112 at scale 1) are deliberately not the ones ``--check`` and the tests use,
    so those runs prove the graph generalises beyond the traced size.
    """
    generator = torch.Generator().manual_seed(0)
    shape = (2, 3, 5 * multiple, 7 * multiple)
    img0 = torch.rand(shape, generator=generator)
    img1 = torch.rand(shape, generator=generator)
    embt = torch.tensor([0.3, 0.6]).view(2, 1, 1, 1)
    return img0.to(device), img1.to(device), embt.to(device)


def export_onnx(
    model: IFRNet,
    output: PathLike,
    *,
    opset: int = DEFAULT_OPSET,
    scale_factor: float = 1.0,
) -> Path:
    """Write ``model``'s inference graph to ``output`` (atomically) and return the path.

    Batch, height and width are dynamic; ``scale_factor`` is fixed. The file appears only once
    completely written, so an interrupted export never leaves a truncated model behind.
    """
    check_opset(opset)
    multiple = pad_multiple_for_scale(scale_factor)
    if importlib.util.find_spec("onnx") is None:  # the exporter needs it to write the file
        raise InputError("exporting to ONNX needs the onnx package: pip install onnx")
    graph = InferenceGraph(model, scale_factor)
    image_axes = {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The exporter announces its own deprecation, and the tracer warns about the shape
        # checks in IFRNet.inference/warp, which are Python-side validation, not graph values.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph,
            _example_inputs(multiple, next(model.parameters()).device),
            buffer,
            **_TORCHSCRIPT_EXPORTER,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamic_axes={"img0": image_axes, "img1": image_axes, "embt": {0: "batch"}, OUTPUT_NAME: image_axes},
            do_constant_folding=True,
        )
    output = Path(output)
    with atomic_writer(output) as handle:
        handle.write(_with_three_output_channels(buffer.getvalue()))
    return output


def _with_three_output_channels(serialized: bytes) -> bytes:
    """The exported model with its output declared (N, 3, H, W): the crop back to the inputs' size
    is a Slice with computed bounds, after which the exporter's shape inference no longer knows
    the channel count and would declare a symbolic one, which runtimes that build for fixed
    channels (TensorRT) cannot use."""
    import onnx

    exported = onnx.load_from_string(serialized)
    exported.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 3
    return exported.SerializeToString()


class CheckResult(NamedTuple):
    """One comparison of the exported graph with PyTorch: input size, timestep, max |difference|."""

    height: int
    width: int
    timestep: float
    max_abs_diff: float


def compare_with_onnxruntime(
    model: IFRNet,
    onnx_path: PathLike,
    sizes: Sequence[Tuple[int, int]],
    timesteps: Sequence[float],
    *,
    scale_factor: float = 1.0,
    seed: int = 0,
) -> List[CheckResult]:
    """Run the exported graph with onnxruntime (CPU) and ``model.inference`` (the model's own path,
    on frames padded and cropped back as the tools do: what they would compute) on the same
    random pairs.

    One pair per size (any size), interpolated at every timestep in one batch (the pair repeated).
    Needs the ``onnxruntime`` package.
    """
    try:
        import onnxruntime
    except ImportError:
        raise InputError("checking the export needs onnxruntime: pip install onnxruntime") from None
    multiple = pad_multiple_for_scale(scale_factor)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    embt = torch.tensor([float(t) for t in timesteps], dtype=torch.float32).view(-1, 1, 1, 1)
    results = []
    for height, width in sizes:
        img0 = torch.rand((1, 3, height, width), generator=generator).expand(len(timesteps), -1, -1, -1)
        img1 = torch.rand((1, 3, height, width), generator=generator).expand(len(timesteps), -1, -1, -1)
        padder = InputPadder(img0.shape, multiple=multiple, mode="replicate")
        with torch.no_grad():
            padded = (padded.to(device) for padded in padder.pad(img0, img1))
            expected = padder.unpad(model.inference(*padded, embt.to(device), scale_factor)).cpu().numpy()
        feed = {name: np.ascontiguousarray(x.numpy()) for name, x in zip(INPUT_NAMES, (img0, img1, embt))}
        (got,) = session.run([OUTPUT_NAME], feed)
        for i, t in enumerate(timesteps):
            results.append(CheckResult(height, width, float(t), float(np.abs(got[i] - expected[i]).max())))
    return results
