"""torch.hub entry points: ``torch.hub.load(checkout, "IFRNet", source="local")`` gives a ready model.

    model = torch.hub.load("path/to/IFRNet", "IFRNet", source="local")   # the published Vimeo90K weights
    frames = model.inference(img0, img1, embt)            # (B,3,H,W) in [0,1], sides % 16 == 0
    interp = torch.hub.load("path/to/IFRNet", "interpolator", source="local", model_name="IFRNet_S")
    middle = interp.interpolate(frame0_uint8, frame1_uint8, [0.5])[0]   # any size, uint8 in/out

Without ``checkpoint`` the variant's published Vimeo90K weights are loaded from the checkout's
checkpoints/ folder, downloaded there on first use (set IFRNET_OFFLINE=1 to never download);
``checkpoint`` is a file's path (relative to the current folder) or an http(s) URL.
``pretrained=False`` gives freshly initialised weights. An entry point gives the width it names
or raises; when the weights are not the ones asked for (IFRNet_S's starter weights standing in
for its published ones, or another dataset's) it says so with a :class:`UserWarning`, the note
also kept in ``model.weights_source.note`` (``interp.weights_note``). The hub models run the
memory-lean inference, as the tools do (``LeanIFRNet`` of ``models/lean_inference.py``);
``models.create_model(name, weights=..., lean=False)`` gives the plain computation of
``models/network.py`` on the same weights.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Iterator, Optional, Union

dependencies = ["torch", "numpy", "tqdm", "urllib3"]

from models import PUBLISHED, create_model
from models.checkpoint import CheckpointError
from models.network import IFRNet as _IFRNetModel
from models.interpolator import Interpolator

__all__ = ["IFRNet", "IFRNet_L", "IFRNet_S", "interpolator"]


@contextlib.contextmanager
def _hub_hints(checkpoint: Optional[Union[str, Path]]) -> Iterator[None]:
    """A weights error of an entry point called without ``checkpoint`` ends with the hub's own ways out."""
    try:
        yield
    except CheckpointError as error:
        if checkpoint is not None:
            raise
        raise CheckpointError(f"{error}; or pass checkpoint=PATH (pretrained=False for untrained weights)") from None


def _warn_unless_asked_for(note: Optional[str]) -> None:
    """A hub user reads no log: weights other than the ones asked for are a warning."""
    if note:
        warnings.warn(note, UserWarning, stacklevel=2)


def _model(model_name: str, checkpoint: Optional[Union[str, Path]], pretrained: bool, device: str) -> _IFRNetModel:
    weights = checkpoint if checkpoint is not None else PUBLISHED if pretrained else None
    with _hub_hints(checkpoint):
        model = create_model(model_name, weights=weights, device=device)
    _warn_unless_asked_for(model.weights_source and model.weights_source.note)
    return model


def IFRNet(checkpoint: Optional[Union[str, Path]] = None, pretrained: bool = True, device: str = "cpu") -> _IFRNetModel:
    """IFRNet (4.96 M parameters) in eval mode, with the given or the published Vimeo90K weights."""
    return _model("IFRNet", checkpoint, pretrained, device)


def IFRNet_L(checkpoint: Optional[Union[str, Path]] = None, pretrained: bool = True, device: str = "cpu") -> _IFRNetModel:
    """IFRNet-L (19.7 M parameters) in eval mode, with the given or the published Vimeo90K weights."""
    return _model("IFRNet_L", checkpoint, pretrained, device)


def IFRNet_S(checkpoint: Optional[Union[str, Path]] = None, pretrained: bool = True, device: str = "cpu") -> _IFRNetModel:
    """IFRNet-S (2.80 M parameters) in eval mode, with the given or the published Vimeo90K weights."""
    return _model("IFRNet_S", checkpoint, pretrained, device)


def interpolator(model_name: str = "IFRNet", checkpoint: Optional[Union[str, Path]] = None, device: str = "auto",
                 **options) -> Interpolator:
    """An :class:`~models.interpolator.Interpolator`: uint8 frames of any size in and out.

    ``options``: ``scale_factor`` (number or "auto"), ``precision`` ("fp32", "bf16", "fp16", "auto"),
    ``batch_size``, ``tta``.
    """
    with _hub_hints(checkpoint):
        loaded = Interpolator.load(model_name, checkpoint, device, **options)
    _warn_unless_asked_for(loaded.weights_note)
    return loaded
