"""A DistributedSampler that can start part-way through an epoch, for exact mid-epoch resumption."""
from __future__ import annotations

from typing import Iterator

from torch.utils.data.distributed import DistributedSampler

__all__ = ["ResumableDistributedSampler"]


class ResumableDistributedSampler(DistributedSampler):
    """``DistributedSampler`` whose next epoch may skip its first ``skip`` indices.

    The order of an epoch depends only on (seed, epoch), so skipping the indices already trained
    on resumes the interrupted epoch exactly, without loading the skipped samples. The skip
    applies to the next iteration only; :meth:`set_epoch` keeps it, so call :meth:`skip_samples`
    after it.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._skip = 0

    def skip_samples(self, count: int) -> None:
        """Leave out this process's first ``count`` indices of the next pass."""
        self._skip = max(0, int(count))

    @property
    def full_length(self) -> int:
        """Indices per process in a whole epoch (``len`` minus nothing skipped)."""
        return super().__len__()

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())[self._skip :]
        self._skip = 0
        return iter(indices)

    def __len__(self) -> int:
        return max(0, super().__len__() - self._skip)
