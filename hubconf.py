"""torch.hub entry points: ``torch.hub.load(repo, "IFRNet", checkpoint=...)`` gives a ready model.

    model = torch.hub.load("path/or/owner/repo", "IFRNet", checkpoint="IFRNet_Vimeo90K.pth")
    frames = model.inference(img0, img1, embt)            # (B,3,H,W) in [0,1], sides % 16 == 0
    interp = torch.hub.load(repo, "interpolator", model_name="IFRNet_S", checkpoint=...)
    middle = interp.interpolate(frame0_uint8, frame1_uint8, [0.5])[0]   # any size, uint8 in/out

Without ``checkpoint`` the variant's published Vimeo90K weights are loaded from the repository's
checkpoints/ folder, downloaded there on first use (set IFRNET_OFFLINE=1 to never download);
``checkpoint`` may also be an http(s) URL. ``pretrained=False`` gives freshly initialised weights.
The hub models run the memory-lean inference, as the tools do (``LeanIFRNet`` of
``models/lean_inference.py``); ``models.create_model(name, weights=..., lean=False)`` gives the
plain computation of ``models/network.py`` on the same weights.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

dependencies = ["torch", "numpy", "tqdm", "urllib3"]

from models import create_model
from models.checkpoint import CheckpointError, resolve_weights
from models.published import PUBLISHED_FOLDER_URL
from models.network import IFRNet as _IFRNetModel
from models.interpolator import Interpolator

__all__ = ["IFRNet", "IFRNet_L", "IFRNet_S", "interpolator"]


def _weights_path(model_name: str, checkpoint: Optional[Union[str, Path]]) -> Path:
    """The given checkpoint, else the published one; the starter weights only for their own variant.

    A hub entry point names its architecture, so unlike the command-line tools it never swaps in
    weights of another width. Missing published weights are downloaded first (resolve_weights).
    """
    path = resolve_weights(model_name, checkpoint, other_variant=False).path
    if checkpoint is None and not path.is_file():
        raise CheckpointError(
            f"no {model_name} weights at {path} and downloads are off (IFRNET_OFFLINE): run python "
            f"tools/download_checkpoints.py --variant {model_name}, or download {path.name} from "
            f"{PUBLISHED_FOLDER_URL} and put it there, or pass checkpoint=PATH (pretrained=False for untrained weights)"
        )
    return path


def _model(model_name: str, checkpoint: Optional[Union[str, Path]], pretrained: bool, device: str) -> _IFRNetModel:
    weights = _weights_path(model_name, checkpoint) if pretrained or checkpoint is not None else None
    return create_model(model_name, weights=weights, lean=True, device=device)


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
    return Interpolator.load(model_name, _weights_path(model_name, checkpoint), device, **options)
