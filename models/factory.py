"""One way to get a ready IFRNet: ``create_model(name, weights=..., lean=..., precision=..., device=...)``.

Every tool used to repeat resolve -> build -> load -> move -> eval (the Interpolator, the benchmark
command line, the export, the hub entry points, the benchmark and starter scripts), each with its
own order of checks. Here that sequence is written once, as torchvision's and timm's builders do,
with the rules of the options checked before anything slow happens:

* the weights: :data:`PUBLISHED` (the default) takes what :func:`models.checkpoint.resolve_weights`
  decides (the published checkpoint of ``dataset``, downloaded on first use unless ``offline``,
  else the starter weights with a note), a path or URL loads that file, ``None`` keeps the initial
  weights. Which file was loaded, and any note for the user, is ``model.weights_source``;
* reduced precision is a choice of the lean inference path (:func:`check_precision`), and float16
  needs CUDA (:func:`utils.precision_choice.resolve_precision`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import torch

from models import build_model
from models.checkpoint import ResolvedWeights, load_checkpoint, resolve_weights
from models.network import IFRNet
from utils.device import resolve_device
from utils.errors import InputError
from utils.precision_choice import resolve_precision

__all__ = ["PUBLISHED", "WeightsSetting", "create_model", "check_precision"]

PUBLISHED = "published"  # the weights resolve_weights picks; a file of that name is passed as a Path
WeightsSetting = Union[str, Path, None]


def check_precision(precision: Union[str, torch.dtype], device: torch.device, lean: bool) -> torch.dtype:
    """The compute dtype of ``precision`` on ``device``; reduced precision needs the lean path.

    The plain path is the reference computation and stays float32 (see :mod:`models.low_precision`).
    """
    dtype = resolve_precision(precision, device)
    if dtype != torch.float32 and not lean:
        raise InputError("reduced precision runs on the lean inference path; drop lean=False or use precision fp32")
    return dtype


def create_model(
    name: str = "IFRNet",
    *,
    weights: WeightsSetting = PUBLISHED,
    dataset: str = "Vimeo90K",
    other_variant: bool = True,
    offline: bool = False,
    progress: bool = True,
    lean: bool = False,
    precision: Union[str, torch.dtype] = "fp32",
    device: Union[str, torch.device] = "cpu",
) -> IFRNet:
    """IFRNet ``name`` with its weights, in eval mode on ``device``, its inference path and precision set.

    ``dataset``, ``other_variant``, ``offline`` and ``progress`` (a download's bar) are
    :func:`~models.checkpoint.resolve_weights`' (only used with ``weights=PUBLISHED`` or a URL). The built variant can differ from ``name``
    when the starter weights stand in (an IFRNet_S): ``model.weights_source.model_name`` says so.
    """
    device = resolve_device(device) if isinstance(device, str) else device
    dtype = check_precision(precision, device, lean)  # before the (slow) resolve and load
    source: Optional[ResolvedWeights] = None
    if weights is None:
        model = build_model(name, lean=lean)
    else:
        checkpoint = None if isinstance(weights, str) and weights == PUBLISHED else weights
        source = resolve_weights(name, checkpoint, dataset, other_variant=other_variant, offline=offline, progress=progress)
        model = build_model(source.model_name, lean=lean)
        load_checkpoint(model, source.path)
    model.weights_source = source  # a plain attribute: not in the state_dict
    return model.to(device).eval().set_precision(dtype)
