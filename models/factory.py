"""One way to get a ready IFRNet: ``create_model(name, weights=..., lean=..., precision=..., device=...)``.

Every tool (the Interpolator, the benchmark command line, the export, the hub entry points, the
benchmark and starter scripts) needs resolve -> build -> load -> move -> eval. That sequence is
written once here, as torchvision's and timm's builders do, so every tool makes the same checks in
the same order, with the rules of the options checked before anything slow happens:

* the weights: :data:`PUBLISHED` (the default) takes what :func:`models.checkpoint.resolve_weights`
  decides (the published checkpoint of ``dataset``, downloaded on first use unless ``offline``,
  else the starter weights with a note: for IFRNet_S, or for another width with
  ``other_variant=True``, the tools' opt-in; otherwise a missing file raises), a path or URL loads
  that file, ``None`` keeps the initial weights. Which file was loaded, and any note for the user,
  is ``model.weights_source``;
* the inference path: ``lean=True`` (the default, what every tool runs) the memory-lean
  :class:`~models.lean_inference.LeanIFRNet`, ``lean=False`` the plain
  :class:`~models.network.IFRNet` with the same weights and values (the reference maths);
* reduced precision is a construction choice of the lean model, and float16 needs CUDA: both
  rules are checked here and only here (:func:`_check_precision`, which asks
  :func:`utils.precision_choice.resolve_precision` what the device runs), before the weights
  are read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence, Union

import torch

from models.checkpoint import ResolvedWeights, load_checkpoint, resolve_weights
from models.lean_inference import LeanIFRNet
from models.network import MODEL_NAMES, WIDTHS, IFRNet
from utils.device import resolve_device
from utils.errors import InputError
from utils.precision_choice import resolve_precision

__all__ = ["PUBLISHED", "WeightsSetting", "build_model", "create_model"]

PUBLISHED = "published"  # the weights resolve_weights picks; a file of that name is passed as a Path
WeightsSetting = Union[str, Path, None]


def build_model(name: str = "IFRNet") -> IFRNet:
    """A freshly initialised IFRNet of the named width, the plain maths (load weights with
    ``load_checkpoint``). ``create_model(..., lean=True)`` gives the memory-lean sibling."""
    if name not in WIDTHS:
        raise ValueError(f"unknown model name {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    return IFRNet(WIDTHS[name])


def _check_precision(precision: Union[str, torch.dtype], device: torch.device, lean: bool) -> torch.dtype:
    """The compute dtype of ``precision`` on ``device``; reduced precision needs the lean model.

    The plain model is the reference computation and stays float32 (see :mod:`models.low_precision`).
    """
    dtype = resolve_precision(precision, device)
    if dtype != torch.float32 and not lean:
        raise InputError("reduced precision runs on the lean inference path; drop lean=False or use precision fp32")
    return dtype


def create_model(
    name: str = "IFRNet",
    *,
    weights: WeightsSetting = PUBLISHED,
    dataset: Union[str, Sequence[str]] = "Vimeo90K",
    other_variant: bool = False,
    offline: bool = False,
    progress: bool = True,
    lean: bool = True,
    precision: Union[str, torch.dtype] = "fp32",
    device: Union[str, torch.device] = "cpu",
) -> IFRNet:
    """IFRNet ``name`` with its weights, in eval mode on ``device``: a memory-lean
    :class:`~models.lean_inference.LeanIFRNet` computing its convolutions in ``precision`` ("fp32",
    "bf16", "fp16", "auto" or a dtype), or with ``lean=False`` the plain :class:`~models.network.IFRNet`.

    ``dataset``, ``other_variant``, ``offline`` and ``progress`` (a download's bar) are
    :func:`~models.checkpoint.resolve_weights`' (only used with ``weights=PUBLISHED`` or a URL). Only
    with ``other_variant=True`` can the built variant differ from ``name`` (the starter weights, an
    IFRNet_S, standing in): ``model.weights_source.model_name`` and ``.note`` say so.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    dtype = _check_precision(precision, device, lean)  # before the (slow) resolve and load
    source: Optional[ResolvedWeights] = None
    if weights is None:
        model = build_model(name)
    else:
        checkpoint = None if isinstance(weights, str) and weights == PUBLISHED else weights
        source = resolve_weights(name, checkpoint, dataset, other_variant=other_variant, offline=offline, progress=progress)
        model = build_model(source.model_name)
        load_checkpoint(model, source.path)
    if lean:  # the same layers, walked by the lean sibling
        model = LeanIFRNet.sharing_weights(model, precision=dtype)
    model.weights_source = source  # a plain attribute: not in the state_dict
    return model.to(device).eval()
