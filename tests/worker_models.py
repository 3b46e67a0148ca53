"""Stand-ins for the model on a pool's workers (:mod:`scale`), importable by a worker process:
the pool's factory and what it builds must pickle by name."""
from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Hashable, List, Optional

import numpy as np
import torch


def blend(frame0: np.ndarray, frame1: np.ndarray, timesteps: List[float]) -> List[np.ndarray]:
    """A deterministic stand-in for the network: a weighted mean of the pair."""
    return [np.round(frame0 * (1 - t) + frame1 * t).astype(np.uint8) for t in timesteps]


class Blend:
    """What a worker holds: ``interpolate`` is :func:`blend`; with ``die_after`` (a file), the
    worker that removes the file kills itself (SIGKILL) at its next pair, once: a worker that dies
    mid-segment."""

    def __init__(self, die_after: Optional[Path] = None) -> None:
        self.die_after = die_after

    def interpolate(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: List[float]) -> List[np.ndarray]:
        if self.die_after is not None and self._claim(self.die_after):
            os.kill(os.getpid(), signal.SIGKILL)
        return blend(frame0, frame1, timesteps)

    @staticmethod
    def _claim(trigger: Path) -> bool:
        """True for the one worker whose unlink removes the file: two workers may both see it exist."""
        try:
            trigger.unlink()
        except FileNotFoundError:
            return False
        return True


def blend_factory(key: Hashable, device: torch.device) -> Blend:
    return Blend()


class DyingBlendFactory:
    def __init__(self, trigger: Path) -> None:
        self.trigger = trigger

    def __call__(self, key: Hashable, device: torch.device) -> Blend:
        return Blend(self.trigger)
