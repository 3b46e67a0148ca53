"""IFRNet models: ``build_model(name)`` for ``IFRNet``, ``IFRNet_L`` and ``IFRNet_S``."""
from __future__ import annotations

from models.checkpoint import CheckpointError, load_checkpoint, published_checkpoint_path
from models.ifrnet import IFRNet, Width, WIDTHS

__all__ = [
    "IFRNet",
    "Width",
    "WIDTHS",
    "MODEL_NAMES",
    "build_model",
    "load_checkpoint",
    "CheckpointError",
    "published_checkpoint_path",
]

MODEL_NAMES = tuple(WIDTHS)


def build_model(name: str = "IFRNet") -> IFRNet:
    """A freshly initialised IFRNet of the named width (load weights with ``load_checkpoint``)."""
    if name not in WIDTHS:
        raise ValueError(f"unknown model name {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    return IFRNet(WIDTHS[name])
