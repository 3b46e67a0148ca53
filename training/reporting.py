"""What a training run tells its user: console progress, a log file and TensorBoard, from rank 0 only.

Other ranks get a reporter with ``enabled=False`` whose methods do nothing, so the training loop
needs no ``if rank == 0`` around each report.
"""
from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path
from typing import Any, Dict, Iterable, Union

import torch
from tqdm import tqdm

__all__ = ["RunReporter"]

_FORMAT = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")


class _TqdmHandler(logging.Handler):
    """Console lines that do not break a running progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stdout)


class RunReporter:
    """Console + ``<log_dir>/train.log`` + TensorBoard events in ``<log_dir>/tensorboard``."""

    def __init__(self, log_dir: Union[str, Path], enabled: bool = True, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.log_dir = Path(log_dir)
        self._writer = None
        self._logger = logging.getLogger(f"ifrnet.train.{uuid.uuid4().hex}")  # one per run: no shared handlers
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        if not enabled:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for handler in (logging.FileHandler(self.log_dir / "train.log"), _TqdmHandler()):
            handler.setFormatter(_FORMAT)
            self._logger.addHandler(handler)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                self.info("TensorBoard logging is off: the tensorboard package is not installed (pip install tensorboard)")
            else:
                self._writer = SummaryWriter(log_dir=str(self.log_dir / "tensorboard"))

    def info(self, message: str) -> None:
        if self.enabled:
            self._logger.info(message)

    def progress(self, iterable: Iterable, total: int, initial: int = 0, description: str = "") -> tqdm:
        """A tqdm bar over ``iterable``: shown on rank 0, disabled (iteration only) elsewhere."""
        return tqdm(iterable, total=total, initial=initial, desc=description, dynamic_ncols=True, leave=False,
                    mininterval=1.0, file=sys.stdout, disable=not self.enabled)

    def scalars(self, values: Dict[str, float], step: int) -> None:
        if self._writer is not None:
            for tag, value in values.items():
                self._writer.add_scalar(tag, value, step)

    def images(self, tag: str, images: torch.Tensor, step: int) -> None:
        """(N, 3, H, W) images in [0, 1]."""
        if self._writer is not None and images is not None and images.numel():
            self._writer.add_images(tag, images.detach().float().clamp(0, 1).cpu(), step)

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()
        for handler in self._logger.handlers:
            handler.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        for handler in list(self._logger.handlers):
            handler.close()
            self._logger.removeHandler(handler)

    def __enter__(self) -> "RunReporter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
