"""What a worker holds: its device and the models its factory built there, one per key."""
from __future__ import annotations

from typing import Any, Callable, Dict, Hashable

import torch

__all__ = ["Factory", "WorkerContext"]

# factory(key, device) -> what the calls use (a model); built once per key on each worker.
Factory = Callable[[Hashable, torch.device], Any]


class WorkerContext:
    """Passed as the first argument of every call a worker runs: ``device``, ``model(key)`` and
    ``name`` (which worker, for the driver's log lines)."""

    def __init__(self, device: str, factory: Factory, name: str) -> None:
        self.device = torch.device(device)
        self.name = name
        self._factory = factory
        self._models: Dict[Hashable, Any] = {}

    def model(self, key: Hashable) -> Any:
        """The factory's result for ``key`` on this worker's device, built on first use."""
        if key not in self._models:
            self._models[key] = self._factory(key, self.device)
        return self._models[key]
