"""Compatibility alias: ``from models.IFRNet_L import Model`` as in the authors' release."""
from __future__ import annotations

from models.network import WIDTHS, IFRNet

__all__ = ["Model"]


class Model(IFRNet):
    """IFRNet_L. The authors' ``local_rank`` and ``lr`` arguments are accepted and unused."""

    def __init__(self, local_rank: int = -1, lr: float = 1e-4) -> None:
        super().__init__(WIDTHS["IFRNet_L"])
