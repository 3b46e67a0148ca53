"""IFRNet models: ``create_model(name, weights=..., lean=..., precision=..., device=...)`` gives a ready
model (:mod:`models.factory`); ``build_model(name)`` a freshly initialised one, for ``IFRNet``, ``IFRNet_L``
and ``IFRNet_S``.

The class itself is ``models.network.IFRNet``; it is not re-exported here because ``models.IFRNet``
is the authors' module path (``from models.IFRNet import Model``), which must keep working.
"""
from __future__ import annotations

from models.checkpoint import CheckpointError, load_checkpoint, published_checkpoint_path
from models.network import WIDTHS, Width
from models.network import IFRNet as _IFRNet

__all__ = [
    "Width",
    "WIDTHS",
    "MODEL_NAMES",
    "build_model",
    "load_checkpoint",
    "CheckpointError",
    "published_checkpoint_path",
]

MODEL_NAMES = tuple(WIDTHS)


def build_model(name: str = "IFRNet") -> _IFRNet:
    """A freshly initialised IFRNet of the named width, the plain maths (load weights with
    ``load_checkpoint``). ``create_model(..., lean=True)`` gives the memory-lean sibling."""
    if name not in WIDTHS:
        raise ValueError(f"unknown model name {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    return _IFRNet(WIDTHS[name])


# The factory builds on build_model above; imported last so that models.factory can import it.
from models.factory import PUBLISHED, create_model  # noqa: E402

__all__ += ["PUBLISHED", "create_model"]
