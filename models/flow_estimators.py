"""Optical-flow estimators for pseudo labels (the loop that writes them is :mod:`datasets.flow_labels`).

IFRNet's distillation loss needs, for every training triplet, the flow from the middle frame to
each outer frame (the flows that backward-warp the outer frames onto the middle one). The authors
used LiteFlowNet; here three estimators are offered:

- ``raft_large`` / ``raft_small``: torchvision's RAFT with its published weights (downloaded by
  torchvision when online, or read from a local file on offline machines). RAFT needs sides
  divisible by 8 and at least 128, so frames are replicate-padded and the flow cropped back.
- ``dis``: OpenCV's DIS optical flow on the CPU; no weights, fast, less accurate. Frames under
  16 pixels a side are edge-padded and the flow cropped back (DIS refuses them otherwise).

Every estimator maps lists of (H, W, 3) uint8 RGB source and target frames to (H, W, 2) float32
flows (u, v) such that ``warp(target, flow) ~ source``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from utils.errors import InputError
from utils.padding import InputPadder
from utils.weights_file import WeightsFileError, load_weights_file

__all__ = ["ESTIMATORS", "DIS_PRESETS", "FlowEstimator", "DISFlow", "RAFTFlow", "build_estimator", "middle_flows"]

ESTIMATORS = ("raft_large", "raft_small", "dis")
DIS_PRESETS = ("ultrafast", "fast", "medium")
DIS_MIN_SIDE = 16  # OpenCV's DIS needs at least 12 px (both sides, at every preset); 16 leaves a margin

FlowEstimator = Callable[[Sequence[np.ndarray], Sequence[np.ndarray]], List[np.ndarray]]


def _check_pairs(sources: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> None:
    if len(sources) != len(targets):
        raise ValueError(f"expected as many sources as targets, got {len(sources)} and {len(targets)}")
    for source, target in zip(sources, targets):
        if source.shape != target.shape or source.ndim != 3 or source.shape[2] != 3:
            raise ValueError(f"expected pairs of equal (H, W, 3) frames, got {source.shape} and {target.shape}")


class DISFlow:
    """OpenCV's Dense Inverse Search flow (Kroeger et al. 2016), on greyscale frames."""

    def __init__(self, preset: str = "medium") -> None:
        try:
            import cv2
        except ImportError:
            raise InputError("--estimator dis needs OpenCV: pip install opencv-python-headless") from None
        if preset not in DIS_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(DIS_PRESETS)}, got {preset!r}")
        self._cv2 = cv2
        self._dis = cv2.DISOpticalFlow_create(getattr(cv2, f"DISOPTICAL_FLOW_PRESET_{preset.upper()}"))

    def __call__(self, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> List[np.ndarray]:
        _check_pairs(sources, targets)
        flows = []
        for source, target in zip(sources, targets):
            height, width = source.shape[:2]
            flow = self._dis.calc(self._gray(source), self._gray(target), None)
            flows.append(np.ascontiguousarray(flow[:height, :width], dtype=np.float32))
        return flows

    def _gray(self, image: np.ndarray) -> np.ndarray:
        """Greyscale, edge-padded at the bottom and right to DIS's minimum side (cropped back by the caller).

        OpenCV's DIS refuses frames under about 12 pixels a side; padding, as RAFTFlow does for its
        own minimum, keeps small frames working instead of failing on them.
        """
        gray = self._cv2.cvtColor(np.ascontiguousarray(image), self._cv2.COLOR_RGB2GRAY)
        pad_h, pad_w = max(0, DIS_MIN_SIDE - gray.shape[0]), max(0, DIS_MIN_SIDE - gray.shape[1])
        return np.pad(gray, ((0, pad_h), (0, pad_w)), mode="edge") if pad_h or pad_w else gray


def _raft_side(side: int) -> int:
    """The padded side RAFT accepts: a multiple of 8 and at least 128 (its correlation pyramid's minimum)."""
    return max(128, side + (-side) % 8)


class RAFTFlow:
    """torchvision's RAFT (Teed and Deng 2020), large or small, on ``device``."""

    def __init__(
        self,
        variant: str = "raft_large",
        weights: Optional[Union[str, Path]] = None,
        device: Union[str, torch.device] = "cpu",
        num_flow_updates: int = 12,
    ) -> None:
        from torchvision.models import optical_flow

        builders = {
            "raft_large": (optical_flow.raft_large, optical_flow.Raft_Large_Weights.DEFAULT),
            "raft_small": (optical_flow.raft_small, optical_flow.Raft_Small_Weights.DEFAULT),
        }
        if variant not in builders:
            raise ValueError(f"variant must be raft_large or raft_small, got {variant!r}")
        build, published = builders[variant]
        if weights is None:
            try:
                model = build(weights=published, progress=True)
            except Exception as error:  # URLError, OSError, HTTPError...: all mean "no download"
                raise InputError(
                    f"cannot download the {variant} weights from {published.url} ({type(error).__name__}: {error}); "
                    "download the file on a connected machine and pass --weights PATH"
                ) from None
        else:
            model = build(weights=None)
            model.load_state_dict(self._read_weights(Path(weights), variant, model))
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.num_flow_updates = num_flow_updates

    @staticmethod
    def _read_weights(path: Path, variant: str, model: torch.nn.Module) -> dict:
        if not path.is_file():
            raise InputError(f"--weights file not found: {path}")
        try:
            state = load_weights_file(path)
        except WeightsFileError as error:
            raise InputError(f"cannot read --weights {path}: {error}") from None
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        own = model.state_dict()
        if not isinstance(state, dict) or set(state) != set(own) or any(state[k].shape != own[k].shape for k in own):
            raise InputError(f"--weights {path} are not torchvision {variant} weights")
        return state

    @torch.no_grad()
    def __call__(self, sources: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> List[np.ndarray]:
        _check_pairs(sources, targets)
        flows: List[Optional[np.ndarray]] = [None] * len(sources)
        by_shape = {}
        for index, source in enumerate(sources):  # frames of one size are estimated in one batch
            by_shape.setdefault(source.shape, []).append(index)
        for indices in by_shape.values():
            to_tensor = lambda frames: torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).to(self.device).float() / 127.5 - 1.0  # noqa: E731
            source = to_tensor([sources[i] for i in indices])
            target = to_tensor([targets[i] for i in indices])
            height, width = source.shape[2:]
            padder = InputPadder.to_size(source.shape, _raft_side(height), _raft_side(width), mode="replicate")
            source, target = padder.pad(source, target)
            flow = padder.unpad(self.model(source, target, num_flow_updates=self.num_flow_updates)[-1])
            for i, f in zip(indices, flow.permute(0, 2, 3, 1).float().cpu().numpy()):
                flows[i] = np.ascontiguousarray(f)
        return flows  # type: ignore[return-value]


def build_estimator(
    name: str,
    *,
    weights: Optional[Union[str, Path]] = None,
    device: Union[str, torch.device] = "cpu",
    dis_preset: str = "medium",
    num_flow_updates: int = 12,
) -> FlowEstimator:
    """The estimator called ``name`` (one of :data:`ESTIMATORS`)."""
    if name == "dis":
        return DISFlow(dis_preset)
    if name in ("raft_large", "raft_small"):
        return RAFTFlow(name, weights, device, num_flow_updates)
    raise InputError(f"unknown flow estimator {name!r}; expected one of {', '.join(ESTIMATORS)}")


def middle_flows(flow_01: np.ndarray, flow_10: np.ndarray, t: float) -> Tuple[np.ndarray, np.ndarray]:
    """Super SloMo's approximation (Jiang et al. 2018, eq. 4) of the flows t -> 0 and t -> 1 from the
    flows 0 -> 1 and 1 -> 0: linear motion, a point's flow at t taken at the same pixel in the nearer frame.

    The flows at t are not observable without the frame at t; this is how the DIS-at-t baseline
    warps, and what ``--flow_labels dis_linear`` distils towards.
    """
    flow_t0 = -(1.0 - t) * t * flow_01 + t * t * flow_10
    flow_t1 = (1.0 - t) * (1.0 - t) * flow_01 - t * (1.0 - t) * flow_10
    return flow_t0, flow_t1
