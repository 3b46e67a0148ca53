"""One process, several GPUs or several machines: the distributed set-up every training run shares.

``torchrun`` (and the older ``torch.distributed.launch``) describe the job through environment
variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). :func:`init_distributed` reads
them, joins the process group with NCCL on CUDA or gloo on CPU and picks this process's device;
without them it sets up a plain single process, so the same training code runs everywhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Tuple, TypeVar

import torch
import torch.distributed as dist

from utils.device import resolve_device
from utils.errors import InputError

__all__ = ["DistributedContext", "init_distributed", "launched_by_torchrun"]

T = TypeVar("T")


def launched_by_torchrun() -> bool:
    """True when a launcher described a process group through the environment."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


@dataclass
class DistributedContext:
    """This process's place in the job: rank, world size, device and whether a process group exists."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized: bool = False

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, evaluates summaries and writes checkpoints."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.initialized:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index or 0])
            else:
                dist.barrier()

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum ``tensor`` over all processes (in place, also returned); identity in a single process."""
        if self.initialized:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def all_gather_objects(self, obj: Any) -> List[Any]:
        """Every process's ``obj``, in rank order (picklable objects; used for RNG states)."""
        if not self.initialized:
            return [obj]
        gathered: List[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, obj)
        return gathered

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every process."""
        if not self.initialized:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def on_main(self, work: Callable[[], T]) -> T:
        """Run ``work`` on rank 0 only and give every rank its result (picklable).

        For what only rank 0 can or should do, such as reading a ``--resume`` file that exists on
        node 0's disk alone or checking the folder it writes to. An :class:`InputError` there is
        raised on every rank with the same sentence, so all processes stop together instead of
        the others waiting in the next collective; any other failure stops them with a note.
        """
        if not self.initialized:
            return work()
        outcome: Tuple[str, Any] = ("ok", None)
        failure: Optional[BaseException] = None
        if self.is_main:
            try:
                outcome = ("ok", work())
            except InputError as error:
                outcome = ("input", str(error))
            except Exception as error:  # a bug: rank 0 keeps its traceback, the others a note
                outcome, failure = ("bug", f"rank 0 failed ({type(error).__name__}: {error})"), error
        outcome = self.broadcast_object(outcome)
        if failure is not None:
            raise failure
        if outcome[0] == "input":
            raise InputError(outcome[1])
        if outcome[0] == "bug":
            raise RuntimeError(outcome[1])
        return outcome[1]

    def close(self) -> None:
        """Leave the process group (safe to call twice)."""
        if self.initialized and dist.is_initialized():
            dist.destroy_process_group()
        self.initialized = False


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the launcher's process group, or set up a single process when not launched by torchrun.

    ``device`` is the ``--device`` flag (auto|cpu|cuda). Under a launcher with CUDA each process
    takes GPU LOCAL_RANK and the NCCL backend; on CPU the gloo backend.
    """
    requested = resolve_device(device)
    if not launched_by_torchrun():
        return DistributedContext(device=requested)

    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if requested.type == "cuda":
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise InputError(
                f"process with local rank {local_rank} has no GPU: this machine has {count}; "
                "start at most that many processes per node (--nproc_per_node)"
            )
        torch.cuda.set_device(local_rank)
        process_device = torch.device("cuda", local_rank)
        backend = "nccl"
    else:
        process_device = torch.device("cpu")
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistributedContext(rank, world_size, local_rank, process_device, initialized=True)
