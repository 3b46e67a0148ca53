"""Pseudo-label flows for the distillation loss: which triplets still need them, and writing them.

The estimators themselves (RAFT, DIS) are :mod:`models.flow_estimators`; this module is the
dataset-side pipeline around them: :func:`pending_flow_labels` lists the Vimeo-layout triplets
whose ``flow_t0.flo``/``flow_t1.flo`` are missing or incomplete (:func:`flo_is_complete` reads
only the header), and :func:`write_flow_labels` estimates and writes them, reading frames in
DataLoader workers. ``generate_flow.py`` and the starter-set build run it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, NamedTuple, Sequence, Tuple, Union

import numpy as np
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from datasets.vimeo90k import read_triplet_list, require_files, triplet_paths
from utils.errors import InputError
from models.flow_estimators import FlowEstimator
from utils.flow_io import write_flo
from utils.image_io import image_size, read_image

__all__ = ["FlowJob", "flo_is_complete", "pending_flow_labels", "write_flow_labels"]


class FlowJob(NamedTuple):
    """Flows from ``source`` to each of ``targets``, to be written to ``outputs`` (same order)."""

    source: Path
    targets: Tuple[Path, ...]
    outputs: Tuple[Path, ...]


class _JobFrames(Dataset):
    """Reads a job's frames in DataLoader workers, so decoding overlaps estimation."""

    def __init__(self, jobs: Sequence[FlowJob]) -> None:
        self.jobs = list(jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int):
        job = self.jobs[index]
        try:
            return job, read_image(job.source), [read_image(path) for path in job.targets]
        except InputError as error:
            # Returned, not raised: the DataLoader would re-raise it with the worker's traceback in
            # its message; write_flow_labels raises it as the one line it is.
            return job, error, []


def write_flow_labels(
    jobs: Sequence[FlowJob],
    estimator: FlowEstimator,
    *,
    batch_size: int = 4,
    num_workers: int = 0,
    progress: bool = True,
) -> int:
    """Estimate and write every job's flows (each file atomically); returns the number of jobs done.

    Files are written as soon as their batch is done, so an interrupted run loses at most one
    batch and a rerun skips what is complete.
    """
    loader = DataLoader(_JobFrames(jobs), batch_size=batch_size, num_workers=num_workers, collate_fn=list)
    done = 0
    with tqdm(total=len(jobs), unit="triplet", disable=not progress, dynamic_ncols=True) as bar:
        for batch in loader:
            sources, targets, outputs = [], [], []
            for job, source, job_targets in batch:
                if isinstance(source, InputError):
                    raise source
                for target_path, target, output in zip(job.targets, job_targets, job.outputs):
                    if target.shape != source.shape:
                        raise InputError(f"{job.source} and {target_path} differ in size")
                    sources.append(source)
                    targets.append(target)
                    outputs.append(output)
            for output, flow in zip(outputs, estimator(sources, targets)):
                output.parent.mkdir(parents=True, exist_ok=True)
                write_flo(output, flow)
            done += len(batch)
            bar.update(len(batch))
    return done


def flo_is_complete(path: Path, size: Tuple[int, int]) -> bool:
    """True if ``path`` is a whole ``.flo`` file of ``size`` (height, width): valid header and exact length.

    Only the header is read, so checking a full dataset stays fast.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
        if len(header) != 12 or header[:4] != b"PIEH":
            return False
        width, height = np.frombuffer(header[4:], dtype="<i4")
        return (int(height), int(width)) == tuple(size) and os.path.getsize(path) == 12 + 8 * int(width) * int(height)
    except OSError:
        return False


def pending_flow_labels(root: Union[str, Path], splits: Sequence[str] = ("train", "test")) -> Tuple[List[FlowJob], int]:
    """The triplets of ``splits`` whose flow_t0/flow_t1 labels are missing or incomplete.

    Returns ``(jobs, complete)``: :class:`FlowJob` items (source im2, targets im1 and im3,
    outputs flow_t0.flo and flow_t1.flo) and the number already complete.
    Triplets listed in several splits are done once; a missing or empty list is skipped unless
    all are.
    """
    lists, errors = [], []
    for split in splits:  # a split without triplets has nothing to label; only all empty is an error
        try:
            lists.append((split, read_triplet_list(root, split)))
        except InputError as error:
            errors.append(error)
    if not lists:
        raise errors[0]
    jobs, complete, seen = [], 0, set()
    for split, names in lists:
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            frames, flows = triplet_paths(root, name)
            require_files(frames, f"Vimeo90K {split} frame")
            if all(os.path.isfile(path) for path in flows):
                height, width = image_size(frames[1])
                if all(flo_is_complete(path, (height, width)) for path in flows):
                    complete += 1
                    continue
            jobs.append(FlowJob(frames[1], (frames[0], frames[2]), tuple(flows)))
    return jobs, complete
