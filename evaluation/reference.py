"""The authors' IFRNet, imported from a checkout of their repository, holding our weights.

The import itself (isolated from this project's modules of the same names) is
:func:`evaluation.reference_code.load_reference_class`; here the authors' model gets this project's
weights, to time it beside ours.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

import torch

from utils.errors import InputError
from evaluation.reference_code import load_reference_class

__all__ = ["load_reference_class", "build_reference_model"]


def build_reference_model(reference_dir: Union[str, Path], model_name: str, state_dict: Dict[str, torch.Tensor]) -> torch.nn.Module:
    """The authors' model of ``model_name`` holding ``state_dict`` (the same weights as ours), in eval mode."""
    model = load_reference_class(reference_dir, model_name)()
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise InputError(f"the reference {model_name} does not accept this project's weights: {first}") from None
    return model.eval()
