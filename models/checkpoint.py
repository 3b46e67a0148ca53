"""Loading IFRNet weights from the files found in the wild.

Accepted: the authors' published plain state_dicts, this project's training checkpoints (a dict
with the weights under ``"model"``), the common wrappers (``"state_dict"``, ``"model_state_dict"``)
and keys prefixed by DDP (``module.``) or ``torch.compile`` (``_orig_mod.``). A checkpoint of
another width is recognised from its shapes and refused with one sentence naming both variants.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional, Union

import torch
import torch.nn as nn

from models.ifrnet import WIDTHS, IFRNet
from utils.errors import InputError

__all__ = [
    "CheckpointError",
    "PUBLISHED_CHECKPOINTS_URL",
    "CHECKPOINT_DIR",
    "published_checkpoint_path",
    "STARTER_CHECKPOINT",
    "STARTER_MODEL_NAME",
    "ResolvedWeights",
    "resolve_weights",
    "extract_state_dict",
    "detect_variant",
    "load_checkpoint",
]

PUBLISHED_CHECKPOINTS_URL = "https://www.dropbox.com/sh/hrewbpedd2cgdp3/AADbEivu0-CKDQcHtKdMNJPJa?dl=0"
CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"

_PUBLISHED_FOLDERS = {"IFRNet": "IFRNet", "IFRNet_L": "IFRNet_large", "IFRNet_S": "IFRNet_small"}
_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
_KEY_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(InputError):
    """A checkpoint that cannot be used, with a one-line explanation fit for a CLI error."""


def published_checkpoint_path(model_name: str, dataset: str = "Vimeo90K", root: Optional[Path] = None) -> Path:
    """Where the authors' release keeps a variant's weights, e.g. checkpoints/IFRNet_large/IFRNet_L_GoPro.pth."""
    if model_name not in _PUBLISHED_FOLDERS:
        raise ValueError(f"unknown model name {model_name!r}; expected one of {', '.join(_PUBLISHED_FOLDERS)}")
    if dataset not in ("Vimeo90K", "GoPro"):
        raise ValueError(f"published checkpoints exist for 'Vimeo90K' and 'GoPro', not {dataset!r}")
    base = Path(root) if root is not None else CHECKPOINT_DIR
    return base / _PUBLISHED_FOLDERS[model_name] / f"{model_name}_{dataset}.pth"


# Weights trained by this project on redistributable footage (see checkpoints/starter/README.md):
# the fallback when no published checkpoint has been downloaded.
STARTER_MODEL_NAME = "IFRNet_S"
STARTER_CHECKPOINT = Path("starter") / "IFRNet_S_starter.pth"  # relative to CHECKPOINT_DIR


class ResolvedWeights(NamedTuple):
    """Which variant to build and which file to load, with a note for the user if it fell back."""

    model_name: str
    path: Path
    note: Optional[str]


def resolve_weights(
    model_name: str,
    checkpoint: Optional[Union[str, Path]] = None,
    dataset: str = "Vimeo90K",
    *,
    starter: Optional[Path] = None,
    other_variant: bool = True,
) -> ResolvedWeights:
    """The weights a tool should load: ``checkpoint`` when given (it always wins); else the published
    checkpoint of the variant when it has been downloaded; else this project's starter weights
    (an IFRNet_S, so the variant changes), with a note saying so and where the published ones are.

    When neither exists the published path is returned, and loading it reports where to download it.
    ``other_variant=False`` falls back only when the starter is of the requested variant (for
    callers such as torch.hub entry points that promise a given architecture).
    """
    if checkpoint is not None:
        return ResolvedWeights(model_name, Path(checkpoint), None)
    published = published_checkpoint_path(model_name, dataset)
    starter = CHECKPOINT_DIR / STARTER_CHECKPOINT if starter is None else Path(starter)
    if published.is_file() or not starter.is_file() or (not other_variant and model_name != STARTER_MODEL_NAME):
        return ResolvedWeights(model_name, published, None)
    note = (
        f"{published} not found: using this project's starter weights {starter} ({STARTER_MODEL_NAME}, "
        f"see {starter.parent / 'README.md'}). For the paper's results download the published "
        f"checkpoints from {PUBLISHED_CHECKPOINTS_URL}"
    )
    return ResolvedWeights(STARTER_MODEL_NAME, starter, note)


def extract_state_dict(checkpoint: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """The model weights inside any accepted checkpoint layout, with wrapper prefixes removed."""
    state = checkpoint
    for key in _WRAPPER_KEYS:
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError("the file holds no model state_dict (expected a dict of tensors)")
    cleaned = {}
    for key, value in state.items():
        for prefix in _KEY_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        cleaned[key] = value
    return cleaned


def detect_variant(state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    """Which published width a state_dict belongs to, judged by its first convolution; None if unknown."""
    first = state_dict.get("encoder.pyramid1.0.0.weight")
    if first is None or first.dim() != 4:
        return None
    for name, width in WIDTHS.items():
        if first.shape[0] == width.pyramid[0] and first.shape[-1] == width.first_kernel:
            return name
    return None


def _published_file_names() -> set:
    return {published_checkpoint_path(m, d).name for m in _PUBLISHED_FOLDERS for d in ("Vimeo90K", "GoPro")}


def _model_variant(model: nn.Module) -> Optional[str]:
    width = getattr(model, "width", None)
    return next((name for name, w in WIDTHS.items() if w == width), None)


def load_checkpoint(
    model: IFRNet,
    path: Union[str, Path],
    *,
    map_location: Union[str, torch.device] = "cpu",
) -> Dict[str, Any]:
    """Load weights from ``path`` into ``model`` (strictly) and return the whole checkpoint dict.

    Raises :class:`CheckpointError` with one sentence for a missing or unreadable file, a file
    of another IFRNet width, or weights that do not fit the model.
    """
    path = Path(path)
    if not path.is_file():
        hint = ""
        if path.name in _published_file_names():
            hint = (f"; download {path.name} from the authors' folder {PUBLISHED_CHECKPOINTS_URL} and put it "
                    f"at {path}, or pass --checkpoint PATH")
        raise CheckpointError(f"checkpoint not found: {path}{hint}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or foreign files
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from None
    try:
        state_dict = extract_state_dict(checkpoint)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None

    expected, found = _model_variant(model), detect_variant(state_dict)
    if expected is not None and found is not None and expected != found:
        raise CheckpointError(
            f"{path} holds {found} weights but the model is {expected}: pass --model_name {found} "
            f"or an {expected} checkpoint"
        )
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [k for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        details = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if keys:
                details.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        raise CheckpointError(f"{path} does not fit {expected or type(model).__name__}: {'; '.join(details)}")
    model.load_state_dict(state_dict, strict=True)
    return checkpoint if isinstance(checkpoint, dict) else {"model": state_dict}
