"""IFRNet models: ``create_model(name, weights=..., lean=..., precision=..., device=...)`` gives a ready
model, ``build_model(name)`` a freshly initialised one (both :mod:`models.factory`), for the names in
``MODEL_NAMES`` (the keys of ``WIDTHS``).

The class itself is ``models.network.IFRNet``; it is not re-exported here because ``models.IFRNet``
is the authors' module path (``from models.IFRNet import Model``), which must keep working.
"""
from __future__ import annotations

from models.checkpoint import CheckpointError, load_checkpoint, published_checkpoint_path
from models.factory import PUBLISHED, build_model, create_model
from models.network import MODEL_NAMES, WIDTHS, Width

__all__ = [
    "Width",
    "WIDTHS",
    "MODEL_NAMES",
    "build_model",
    "create_model",
    "PUBLISHED",
    "load_checkpoint",
    "CheckpointError",
    "published_checkpoint_path",
]
