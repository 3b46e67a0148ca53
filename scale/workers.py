"""Which workers a run asks for: the ``--devices``, ``--ray``, ``--ray_address`` and
``--cpus_per_worker`` flags that the video tool and the benchmark scripts share."""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Optional, Tuple

import torch

from utils.cli import whole_number_at_least
from utils.errors import InputError

__all__ = ["Workers", "parse_devices", "add_worker_arguments", "workers_from"]


@dataclass(frozen=True)
class Workers:
    """One worker per entry of ``devices`` ("cpu", "cuda", "cuda:N"); empty with ``ray``: one per
    GPU of the cluster, else one per ``cpus_per_worker`` of its CPUs.

    ``threads``: the CPU threads of this machine that local workers share (None: torch's count).
    ``shared_disk`` (Ray): whether the workers see the driver's work folder; None lets each worker
    check, and a worker that does not see it sends its results back through Ray's object store."""

    devices: Tuple[str, ...] = ()
    ray: bool = False
    ray_address: Optional[str] = None
    cpus_per_worker: int = 1
    threads: Optional[int] = None
    shared_disk: Optional[bool] = None

    @property
    def several(self) -> bool:
        """Whether the run goes to a pool at all (else it runs in this process, as without the flags)."""
        return self.ray or bool(self.devices)


def parse_devices(text: str) -> Tuple[str, ...]:
    """``cuda:0,cuda:1``, ``cpu,cpu`` or ``4*cuda`` (four entries) as a tuple of device names."""
    devices = []
    for entry in (part.strip() for part in text.split(",")):
        count, _, name = entry.rpartition("*")
        try:
            repeat = int(count) if count else 1
        except ValueError:
            repeat = 0
        if repeat < 1 or not (name == "cpu" or name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
            raise InputError(f"--devices: {entry!r} is not a device; expected cpu, cuda or cuda:N, optionally N*device "
                             "(e.g. cuda:0,cuda:1 or 2*cpu)")
        devices += [name] * repeat
    return tuple(devices)


def _check_local(devices: Tuple[str, ...]) -> None:
    """Refuse a GPU this machine does not have (on Ray the cluster's GPUs count, checked by Ray)."""
    count = torch.cuda.device_count()
    for device in devices:
        if device.startswith("cuda") and (count == 0 or (":" in device and int(device[5:]) >= count)):
            have = f"only {count} CUDA device(s) (cuda:0 to cuda:{count - 1})" if count else "no CUDA device"
            raise InputError(f"--devices {device}: this machine has {have}")


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that spread a run over several workers (docs/scale.md)."""
    parser.add_argument("--devices", type=str, default=None, metavar="LIST",
                        help="run on several worker processes, one per device, each loading the model once: "
                        "cuda:0,cuda:1 or cpu,cpu (CPU workers share the cores; 4*cuda is four entries); with --ray "
                        "the workers of the cluster (default with --ray: one per GPU, else one per --cpus_per_worker CPUs)")
    parser.add_argument("--ray", action="store_true",
                        help="run the workers as Ray actors (pip install -r requirements-cluster.txt): on a Ray started "
                        "here, or on the cluster of --ray_address")
    parser.add_argument("--ray_address", default=None, metavar="ADDRESS",
                        help="join a running Ray cluster (auto, host:6379 or ray://host:10001) instead of starting one; "
                        "implies --ray")
    parser.add_argument("--cpus_per_worker", type=whole_number_at_least(1), default=1,
                        help="CPUs each Ray worker reserves, and the threads of a CPU worker on Ray (default: 1)")


def workers_from(args: argparse.Namespace) -> Workers:
    """The :class:`Workers` the parsed flags ask for (``threads`` from ``--threads`` where a script has it)."""
    devices = parse_devices(args.devices) if args.devices else ()
    ray = bool(args.ray or args.ray_address)
    if ray:
        from scale.ray_pool import import_ray
        import_ray()  # not installed: the one line naming requirements-cluster.txt, before anything starts
    else:
        _check_local(devices)
    return Workers(devices=devices, ray=ray, ray_address=args.ray_address, cpus_per_worker=args.cpus_per_worker,
                   threads=getattr(args, "threads", None))
