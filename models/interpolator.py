"""A ready-to-use frame interpolator: uint8 frames in, uint8 frames out, any frame size.

It owns what every caller of IFRNet would otherwise repeat: choosing the device, loading the
weights, padding the frames to what the network accepts and cropping back, running several
timesteps of one pair in a single batched call, and rounding back to 8 bits.
"""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch

from models import build_model
from models.checkpoint import load_checkpoint, published_checkpoint_path
from models.ifrnet import IFRNet
from utils.device import resolve_device
from utils.errors import InputError
from utils.image_io import image_to_tensor, tensor_to_image
from utils.padding import InputPadder

__all__ = ["Interpolator", "pad_multiple_for_scale"]

NETWORK_MULTIPLE = 16  # four stride-2 levels


def pad_multiple_for_scale(scale_factor: float) -> int:
    """Smallest padding multiple M such that M * scale_factor is a multiple of 16 (0.8 -> 20)."""
    multiple = NETWORK_MULTIPLE / scale_factor
    if scale_factor <= 0 or abs(multiple - round(multiple)) > 1e-6:
        raise InputError(f"scale_factor must divide 16 into a whole number (1, 0.5, 0.8, 0.25 ...), got {scale_factor}")
    return int(round(multiple))


class Interpolator:
    """Interpolates frames between pairs of uint8 RGB images with a loaded IFRNet.

    ``Interpolator("IFRNet", "checkpoints/IFRNet/IFRNet_Vimeo90K.pth", "auto").interpolate(f0, f1,
    [0.5])`` returns the middle frame. Frames are padded by edge replication (no black border is
    blended into the flows) and cropped back.
    """

    def __init__(
        self,
        model_name: str = "IFRNet",
        checkpoint: Optional[Union[str, Path]] = None,
        device: Union[str, torch.device] = "auto",
        *,
        scale_factor: float = 1.0,
    ) -> None:
        device = resolve_device(device) if isinstance(device, str) else device
        checkpoint = checkpoint if checkpoint is not None else published_checkpoint_path(model_name)
        model = build_model(model_name)
        load_checkpoint(model, checkpoint)
        self.checkpoint = Path(checkpoint)
        self._setup(model, device, scale_factor)

    @classmethod
    def from_model(cls, model: IFRNet, device: Union[str, torch.device] = "cpu", *, scale_factor: float = 1.0) -> "Interpolator":
        """Wrap an already built (and loaded) model."""
        self = cls.__new__(cls)
        self.checkpoint = None
        self._setup(model, resolve_device(device) if isinstance(device, str) else device, scale_factor)
        return self

    def _setup(self, model: IFRNet, device: torch.device, scale_factor: float) -> None:
        self.device = device
        self.scale_factor = scale_factor
        self.pad_multiple = pad_multiple_for_scale(scale_factor)
        self.model = model.to(device).eval()

    @torch.inference_mode()
    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]) -> List[np.ndarray]:
        """The frames at each of ``timesteps`` (0 < t < 1) between two HxWx3 uint8 RGB frames.

        All timesteps run in one batched call that encodes the pair once.
        """
        for name, frame in (("frame0", frame0), ("frame1", frame1)):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise InputError(f"{name} must be an HxWx3 uint8 RGB image, got {frame.dtype} {frame.shape}")
        if frame0.shape != frame1.shape:
            raise InputError(
                f"the two frames differ in size: {frame0.shape[1]}x{frame0.shape[0]} and "
                f"{frame1.shape[1]}x{frame1.shape[0]} (width x height); resize one to match"
            )
        if not timesteps or not all(0.0 <= t <= 1.0 for t in timesteps):
            raise InputError(f"timesteps must be a non-empty list of values in [0, 1], got {list(timesteps)}")
        img0 = image_to_tensor(frame0).to(self.device)
        img1 = image_to_tensor(frame1).to(self.device)
        padder = InputPadder(img0.shape, multiple=self.pad_multiple, mode="replicate")
        img0, img1 = padder.pad(img0, img1)
        embt = torch.tensor(list(timesteps), dtype=img0.dtype, device=self.device).view(-1, 1, 1, 1)
        preds = self.model.inference(img0, img1, embt, scale_factor=self.scale_factor)
        preds = padder.unpad(preds)
        return [tensor_to_image(pred) for pred in preds]
