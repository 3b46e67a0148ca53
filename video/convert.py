"""One conversion from an input video (or frame folder) to a higher-rate output: the whole job.

``interpolate_video.py`` is argparse around :func:`~video.job.check_job` and :func:`convert`; the
web app, tests and the benchmarks call :func:`convert` directly. :func:`convert` runs a
:class:`~video.job.CheckedJob`: a long job in segments (:mod:`video.segmented`), a short one in one
piece: it opens the sink under a temporary name, runs the streaming pipeline with a progress bar,
and moves the result into place only on success.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping, Union

from tqdm import tqdm

from video.job import (MAX_OUTPUT_FPS, MIN_FPS, CheckedJob, ConversionJob, InterpolateFn, SourcePart, check_job,
                       format_number, output_rate, parse_rate, parse_seconds)
from video.output import atomic_output
from video.pipeline import PipelineStats, interpolate_stream
from video.run_setup import announce, open_sink, stream_options, upright
from video.segmented import convert_in_segments, segment_boundaries
from video.sinks import GifSink
from video.timing import OutputClock

__all__ = ["ConversionJob", "CheckedJob", "SourcePart", "MAX_OUTPUT_FPS", "MIN_FPS", "format_number", "parse_rate",
           "parse_seconds", "output_rate", "check_job", "convert"]

log = logging.getLogger("ifrnet.video")


def convert(job: Union[ConversionJob, CheckedJob], interpolate: InterpolateFn, *,
            model: Mapping[str, Any] = {}) -> PipelineStats:
    """Run ``job`` with ``interpolate(frame0, frame1, timesteps) -> frames`` and return its stats.

    ``job`` is checked here unless :func:`check_job` already did (a :class:`CheckedJob`: its open
    input is read from where the check left it, and closed at the end; it converts once). A job
    longer than one segment runs in segments (:mod:`video.segmented`); ``model`` names what makes
    ``interpolate``'s frames (its settings, the weights' hash), so that a rerun resumes only with
    the same model.
    """
    checked = job if isinstance(job, CheckedJob) else check_job(job)
    boundaries = segment_boundaries(checked)
    if len(boundaries) > 1:
        return convert_in_segments(checked, interpolate, boundaries, model)
    job, source, rate = checked.job, checked.source, checked.rate
    try:
        if source.closed:
            raise ValueError("a checked job converts once: its input was read and closed")
        announce(checked)
        info = source.info
        clock = OutputClock(rate, origin=info.start, snap=info.snap)
        expected = clock.count_until(info.end) if info.end is not None else None
        with atomic_output(job.output, overwrite=job.overwrite) as temp:
            orientation = upright(job, source)
            sink = open_sink(job, source, rate, temp, orientation)
            bar = tqdm(total=expected, unit="frame", desc="interpolating", disable=not job.progress, dynamic_ncols=True)
            try:
                options = stream_options(job, orientation)
                stats = interpolate_stream(source.frames(), sink.write, interpolate, clock, lambda: source.end_time,
                                           options, on_written=bar.update)
                sink.finish()
                saved = sink.frames_saved if isinstance(sink, GifSink) else None  # identical frames merged
                if saved is not None and saved != stats.frames_out:
                    log.info("the GIF holds %d frames: identical consecutive frames of the %d written were merged "
                             "into longer ones (same timing)", saved, stats.frames_out)
                    stats.frames_out = saved
                if bar.total != bar.n:  # the header's count was off (e.g. a truncated file): end the bar full
                    bar.total = bar.n
                    bar.refresh()
            except BaseException:
                sink.abort()
                raise
            finally:
                bar.close()
    finally:
        source.close()
    if stats.loop_seam_cut:
        log.info("--loop: the last and the first frame differ like a scene cut (counted as one): the seam repeats "
                 "them instead of blending")
    if job.dedup > 0 and stats.frames_in == 1:
        log.warning("warning: --dedup %g dropped all %d frames after the first (a static clip at this threshold): "
                    "the output holds that frame", job.dedup, stats.duplicates_dropped)
    elif job.dedup > 0:
        log.info("--dedup %g dropped %d held frame(s) before interpolation", job.dedup, stats.duplicates_dropped)
    return stats
