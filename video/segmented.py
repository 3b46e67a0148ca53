"""Running a checked job in segments (:mod:`video.segments` holds the parts: the plan, the
manifest, the commits and the join): each segment is written and committed on its own, so a rerun
after a kill skips the committed ones; at the end the segments are joined into the
output and the work folder is removed."""
from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any, Iterator, List, Mapping, Optional, Tuple

from video import segments
from video.job import CheckedJob, ConversionJob, InterpolateFn
from video.orientation import Orientation
from video.output import atomic_output, is_gif, output_is_folder
from video.pipeline import PipelineStats, interpolate_stream
from video.pipes import uses_pipe
from video.run_setup import announce, open_sink, stream_options, tracks_end, upright
from video.segments import Manifest, SegmentFrames, SegmentProgress, work_folder
from video.sinks import VIDEO_FORMATS
from video.sources import SourceInfo
from video.timing import OutputClock

__all__ = ["segment_boundaries", "SegmentWork", "run_segment", "convert_in_segments"]

log = logging.getLogger("ifrnet.video")


def segment_boundaries(checked: CheckedJob) -> List[Fraction]:
    """Where the job's segments start (one boundary: it runs in one piece). --dedup (which frame
    is kept depends on the frames before) and --loop (the last pair needs the first frame) run in
    one piece, as does a GIF (its identical frames are merged across the whole animation) and a
    job that reads or writes a pipe (it cannot be sought)."""
    job, info = checked.job, checked.source.info
    if job.segment_seconds == 0 or job.dedup > 0 or job.loop or is_gif(job.output) or uses_pipe(job):
        return [info.start]
    return segments.plan_boundaries(Path(job.input), info.start, checked.source.stop, info.rate,
                                    job.segment_seconds, info.snap)


@dataclass(frozen=True)
class SegmentWork:
    """What writing any one segment of a job takes, picklable for a worker process: the job, the
    part's info and end, the output rate, the frames' orientation, the boundaries and where the
    committed segments go. It stands for the open input with open_sink (a segment's video holds
    the frames only: the other tracks are muxed in at the join, so ``media_path`` is None)."""

    job: ConversionJob
    info: SourceInfo
    stop: Optional[Fraction]
    rate: Fraction
    orientation: Orientation
    boundaries: Tuple[Fraction, ...]
    folder: Path
    suffix: str  # the output's suffix; empty for a folder of frames
    media_path: None = None


def run_segment(work: SegmentWork, number: int, interpolate: InterpolateFn) -> PipelineStats:
    """Write segment ``number`` of ``work`` with ``interpolate`` and commit it into ``work.folder``
    (under a temporary name of its own first, so that segments written side by side do not meet)."""
    job, info = work.job, work.info
    begin = work.boundaries[number]
    until = work.boundaries[number + 1] if number + 1 < len(work.boundaries) else None
    temp = work.folder / f"partial_{number:05d}{work.suffix}"
    segments.remove_work_folder(temp) if temp.is_dir() else temp.unlink(missing_ok=True)
    clock = OutputClock(work.rate, origin=info.start, snap=info.snap)
    sink = open_sink(job, work, work.rate, temp, work.orientation, first_index=clock.first_index_at(begin))
    frames = SegmentFrames(Path(job.input), job.input_fps, begin, until, work.stop, info.snap, strict=job.strict)
    options = dataclasses.replace(stream_options(job, work.orientation), ends_at_last_frame=until is not None)
    try:
        stats = interpolate_stream(frames.frames(), sink.write, interpolate, clock, lambda: frames.end_time, options)
        sink.finish()
    except BaseException:
        sink.abort()
        raise
    segments.commit_segment(temp, work.folder, number, work.suffix)
    return stats


def _in_process(work: SegmentWork, numbers: List[int], interpolate: InterpolateFn) -> Iterator[Tuple[int, PipelineStats]]:
    for number in numbers:
        yield number, run_segment(work, number, interpolate)


def convert_in_segments(checked: CheckedJob, interpolate: InterpolateFn, boundaries: List[Fraction],
                        model: Mapping[str, Any]) -> PipelineStats:
    """Run the job one segment at a time, each committed to the work folder, skipping the segments
    a killed run committed; then join them into the output and remove the work folder.
    ``model`` goes into the manifest (:meth:`video.segments.Manifest.of`). An ``interpolate`` with
    a ``run_segments`` method (:class:`video.parallel.WorkerModel`, a model on a pool's workers)
    runs the segments there, side by side; the join stays here."""
    job, part, rate = checked.job, checked.source, checked.rate
    info = part.info
    try:
        folder = work_folder(job.output)
        manifest = Manifest.of(job, model, boundaries)
        segments.check_resumable(folder, manifest, job.overwrite)
        announce(checked)
        orientation = upright(job, part)
    finally:
        part.close()  # each segment opens the input at its own key frame
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / segments.MANIFEST_NAME).exists():
        manifest.write(folder)
    to_folder = output_is_folder(job.output)
    suffix = "" if to_folder else Path(job.output).suffix.lower()
    left = segments.uncommitted_segments(folder, len(boundaries), suffix)
    done = len(boundaries) - len(left)
    log.info("%d segments (at %s s)%s", len(boundaries), ", ".join(f"{float(at - info.start):.2f}" for at in boundaries),
             f"; resuming after the {done} done in {folder}" if done else "")
    work = SegmentWork(job, info, part.stop, rate, orientation, tuple(boundaries), folder, suffix)
    progress = SegmentProgress(len(boundaries), done)
    total = PipelineStats()
    started = time.perf_counter()
    run = getattr(interpolate, "run_segments", None) or partial(_in_process, interpolate=interpolate)
    for number, stats in run(work, left):
        _add_stats(total, stats, first=number == 0)
        progress.segment_done()
    parts = [folder / segments.segment_name(number, suffix) for number in range(len(boundaries))]
    with atomic_output(job.output, overwrite=job.overwrite) as temp:
        if to_folder:
            segments.join_folder_segments(parts, temp)
        else:
            segments.join_video_segments(
                parts, temp, VIDEO_FORMATS[suffix], tracks_from=part.media_path, tracks_shift=info.start,
                trim_start=part.starts_late, tracks_end=tracks_end(job, info),
                keep_display_matrix=orientation.is_identity)
    segments.remove_work_folder(folder)
    total.total_seconds = time.perf_counter() - started
    return total


def _add_stats(total: PipelineStats, stats: PipelineStats, first: bool) -> None:
    """Count a segment's stats into the job's (each boundary frame is in two segments)."""
    total.frames_in += stats.frames_in - (0 if first else 1)
    total.frames_out += stats.frames_out
    total.interpolated += stats.interpolated
    total.scene_cuts += stats.scene_cuts
    total.model_seconds += stats.model_seconds
