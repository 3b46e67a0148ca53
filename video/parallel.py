"""A job's segments on several workers (:mod:`scale`: one process per device, or Ray actors).

:class:`WorkerModel` is the interpolate function of a model that lives on a pool's workers: the
script layer builds the pool with a factory that loads the model (the model is reached only
through the interpolate callable here too), and :func:`video.segmented.convert_in_segments` hands
it the segments. Each worker writes whole segments: it opens the input at the segment's key frame,
writes and commits the segment into the work folder when it sees that folder (this machine, a
shared disk), or writes it in a folder of its own and sends the bytes back, which the driver
commits (a Ray worker on another machine). Joining and muxing stay with the driver. A job that
runs in one piece (--dedup, --loop, a GIF, a short clip) runs in the driver, each pair
interpolated on a worker.
"""
from __future__ import annotations

import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Dict, Hashable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from scale import Pool, WorkerContext
from scale.pool import call_one
from video import segments
from video.pipeline import PipelineStats
from video.segmented import SegmentWork, run_segment

__all__ = ["WorkerModel"]

log = logging.getLogger("ifrnet.video")

# A segment sent back as bytes: a video file's, or a folder's frames by name.
Payload = Union[bytes, Dict[str, bytes]]


def _interpolate_pair(context: WorkerContext, key: Hashable, frame0: np.ndarray, frame1: np.ndarray,
                      timesteps: Sequence[float]) -> List[np.ndarray]:
    return context.model(key).interpolate(frame0, frame1, timesteps)


def _sees(folder: Path, manifest: str) -> bool:
    """Whether this worker sees the driver's work folder: its manifest is there, the same."""
    try:
        return (folder / segments.MANIFEST_NAME).read_text() == manifest
    except OSError:
        return False


def _write_segment(context: WorkerContext, key: Hashable, work: SegmentWork, number: int,
                   manifest: str, shared: Optional[bool]) -> Tuple[PipelineStats, Optional[Payload]]:
    """Write and commit segment ``number``: into the work folder when this worker sees it
    (``shared`` None: look), else in a folder of its own, returning the segment's bytes."""
    interpolate = context.model(key).interpolate
    if shared or (shared is None and _sees(work.folder, manifest)):
        return run_segment(work, number, interpolate), None
    with tempfile.TemporaryDirectory(prefix="ifrnet-segment-") as own:
        stats = run_segment(replace(work, folder=Path(own)), number, interpolate)
        written = Path(own) / segments.segment_name(number, work.suffix)
        payload = ({frame.name: frame.read_bytes() for frame in sorted(written.iterdir())} if written.is_dir()
                   else written.read_bytes())
    return stats, payload


def _commit_payload(payload: Payload, folder: Path, number: int, suffix: str) -> None:
    """Commit a segment that came back as bytes, as a worker that sees the folder would."""
    temp = folder / f"partial_{number:05d}{suffix}"
    if isinstance(payload, dict):
        segments.remove_work_folder(temp)
        temp.mkdir()
        for name, data in payload.items():
            (temp / name).write_bytes(data)
    else:
        temp.write_bytes(payload)
    segments.commit_segment(temp, folder, number, suffix)


class WorkerModel:
    """``interpolate(frame0, frame1, timesteps)`` on one of ``pool``'s workers with the model that
    the pool's factory builds for ``key``; :meth:`run_segments` runs whole segments there."""

    def __init__(self, pool: Pool, key: Hashable) -> None:
        self.pool, self.key = pool, key

    def __call__(self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]) -> List[np.ndarray]:
        return call_one(self.pool, _interpolate_pair, self.key, frame0, frame1, list(timesteps))

    def run_segments(self, work: SegmentWork, numbers: List[int]) -> Iterator[Tuple[int, PipelineStats]]:
        """Write the segments ``numbers`` of ``work`` on the workers, all at once; yield each
        (number, stats) once it is committed."""
        # Paths as every worker reads them, whatever its working directory.
        job = replace(work.job, input=Path(work.job.input).resolve())
        work = replace(work, job=job, folder=work.folder.resolve())
        manifest = (work.folder / segments.MANIFEST_NAME).read_text()
        calls = [(_write_segment, (self.key, work, number, manifest, self.pool.shared_disk)) for number in numbers]
        for done in self.pool.run(calls):
            number = numbers[done.index]
            stats, payload = done.result
            if payload is not None:
                _commit_payload(payload, work.folder, number, work.suffix)
            log.debug("segment %d written by %s%s", number, done.worker, "" if payload is None else " (sent back)")
            yield number, stats
