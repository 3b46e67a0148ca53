"""What the one-piece run (:func:`video.convert.convert`) and the segmented run
(:mod:`video.segmented`) of a checked job share: the orientation of the written frames, the sink,
the lines said before the run, and the pipeline's options."""
from __future__ import annotations

import dataclasses
import logging
from fractions import Fraction
from pathlib import Path
from typing import Optional

from utils.atomic import remove_stale_temporaries
from video.job import RAW_CODEC, CheckedJob, ConversionJob, SourcePart, format_number, output_codec
from video.orientation import Orientation
from video.output import STALE_AFTER_SECONDS, is_gif, output_is_folder
from video.passthrough import display_orientation
from video.pipeline import StreamOptions
from video.pipes import PIPE_FORMATS, STDIN_NAME, STDOUT_NAME, is_stdio, pipe_format, stdout_stream, uses_pipe
from video.sinks import VIDEO_FORMATS, FrameFolderSink, FrameSink, GifSink, VideoFileSink
from video.sources import SourceInfo

__all__ = ["DEFAULT_QUALITY", "upright", "open_sink", "tracks_end", "announce", "stream_options"]

log = logging.getLogger("ifrnet.video")

DEFAULT_QUALITY = 95  # of jpg/webp frames


def upright(job: ConversionJob, source: SourcePart) -> Orientation:
    """How the written frames are turned and mirrored to look as a player shows the input. A phone
    video is stored sideways (or mirrored) and shown through its display matrix: a video output
    keeps the matrix, but images and GIFs have none (they would be sideways), and a montage's halves
    side by side as stored would be seen one above the other. A matrix that is not a quarter turn
    or a mirror (a tilt) is not applied to those, with a warning: images and GIFs are written as
    stored, and a montage keeps the matrix, so a player tilts its two halves together. A stream on
    standard output is written upright too: the program reading it may not apply a matrix."""
    keeps_matrix = not (job.montage or output_is_folder(job.output) or is_gif(job.output) or is_stdio(job.output))
    if keeps_matrix or source.media_path is None:
        return Orientation()
    orientation = display_orientation(source.media_path)
    if orientation is None:
        log.warning("warning: %s has a display matrix that is not a quarter turn or a mirror; %s", job.input,
                    "the montage keeps it (the player tilts both halves)" if job.montage
                    else "the frames are written as stored")
        return Orientation()
    return orientation


def open_sink(job: ConversionJob, source: SourcePart, rate: Fraction, temp: Path,
              orientation: Orientation = Orientation(), *, first_index: Optional[int] = None) -> FrameSink:
    """The sink for the output's kind: a folder of images, a GIF, or a video with the input's tracks;
    ``orientation``: how the frames were turned and mirrored (made upright, :func:`upright`).

    With ``first_index`` the sink writes one segment (:mod:`video.segmented`) whose first output
    frame has that number: a video segment holds the video only, the other tracks are muxed in when
    the segments are joined."""
    info = source.info
    width, height = orientation.shape(info.width, info.height)
    width *= 2 if job.montage else 1
    if output_is_folder(job.output):
        return FrameFolderSink(temp, job.image_format or "png", job.quality or DEFAULT_QUALITY)
    if is_gif(job.output):
        return GifSink(temp, rate)
    codec = output_codec(job)
    if is_stdio(job.output):
        format_name = pipe_format(job.format)
        return VideoFileSink(STDOUT_NAME, file=stdout_stream(), width=width, height=height, rate=rate, codec=codec,
                             crf=None if codec == RAW_CODEC else job.crf,
                             tracks_from=None if format_name == "y4m" else source.media_path,
                             tracks_shift=info.start, trim_start=source.starts_late, tracks_end=tracks_end(job, info),
                             format_name=PIPE_FORMATS[format_name], colour=info.colour, keep_display_matrix=False)
    format_name = VIDEO_FORMATS[Path(job.output).suffix.lower()]
    if first_index is not None:
        return VideoFileSink(temp, width=width, height=height, rate=rate, codec=codec, crf=job.crf,
                             format_name=format_name, colour=info.colour, first_index=first_index)
    return VideoFileSink(
        temp,
        width=width,
        height=height,
        rate=rate,
        codec=codec,
        crf=job.crf,
        tracks_from=source.media_path,
        tracks_shift=info.start,
        trim_start=source.starts_late,  # (a part's info.start is its first frame)
        tracks_end=tracks_end(job, info),
        format_name=format_name,
        colour=info.colour,
        keep_display_matrix=orientation.is_identity,
    )


def tracks_end(job: ConversionJob, info: SourceInfo) -> Optional[Fraction]:
    """Where the other tracks are cut, counted from the part's first frame: the part's end with
    --duration, else None (they run to their own end)."""
    return info.end - info.start if job.duration is not None and info.end is not None else None


def announce(checked: CheckedJob) -> None:
    """What both the one-piece and the segmented run do first: remove the temporary outputs a killed
    run left beside the output, and say in one line each what the job makes and what of the input
    it does not keep."""
    job, source = checked.job, checked.source
    if not is_stdio(job.output):
        for stale in remove_stale_temporaries(Path(job.output).parent, output=job.output, older_than_s=STALE_AFTER_SECONDS):
            log.info("removed %s, a temporary output left by a run that was killed", stale)
    info = source.info
    log.info("%s", _describe(info, checked.rate))
    _warn_what_is_lost(job, info)
    if source.starts_late and job.start == 0:
        log.info("the first frame that decodes is %.3f s into the video stream (cut mid-GOP?): the output starts there",
                 float(source.lead))
    if uses_pipe(job) and job.segment_seconds > 0:
        log.info("a pipe is read and written once, front to back: the job runs in one piece, and a killed run "
                 "cannot resume")
    if info.has_audio:
        dropped_by = _what_drops_audio(job)
        if dropped_by:
            log.info("%s: the audio is not kept", dropped_by)


def _what_drops_audio(job: ConversionJob) -> Optional[str]:
    """Why the input's audio does not reach the output, in words, or None when it does."""
    if is_gif(job.output):
        return "writing a GIF"
    if output_is_folder(job.output):
        return "writing frames to a folder"
    if is_stdio(job.input):
        return "reading a pipe (it cannot be read a second time for its audio)"
    if is_stdio(job.output) and pipe_format(job.format) == "y4m":
        return "writing y4m, which holds video only (--format nut or mkv carries audio)"
    return None


def _describe(info: SourceInfo, rate: Fraction) -> str:
    count = f"{info.frame_count} frames" if info.frame_count else "frames"
    return (f"{info.width}x{info.height}, {count} at {float(info.rate):.3f} fps -> "
            f"{float(rate):.3f} fps{'' if info.has_audio else ' (no audio)'}")


def _warn_what_is_lost(job: ConversionJob, info: SourceInfo) -> None:
    """Say in one line each what of the input's pixels does not reach the output: bit depth, colour
    tags (the network works on 8-bit RGB). Transparency is said by the source once a frame has
    some (:class:`video.sources.VideoFileSource`); image frames with transparent pixels are refused
    instead (utils.image_io): there is no video file to fall back on."""
    video_out = not output_is_folder(job.output) and not is_gif(job.output)
    if info.bit_depth > 8:
        kept = f"with its colour tags ({info.colour.describe()})" if video_out and info.colour else "without its colour tags"
        log.warning("warning: %s is %d-bit; the output is 8-bit (the network works on 8-bit frames), %s",
                    job.input, info.bit_depth, kept)
    elif info.colour is not None and not video_out:
        log.warning("warning: %s has colour tags (%s) that %s cannot hold", job.input, info.colour.describe(),
                    "a GIF" if is_gif(job.output) else "image frames")


def stream_options(job: ConversionJob, orientation: Orientation) -> StreamOptions:
    """The pipeline's options: the job's fields of the same names, the orientation and the name."""
    shared = {item.name: getattr(job, item.name) for item in dataclasses.fields(StreamOptions) if hasattr(job, item.name)}
    return StreamOptions(**shared, orientation=orientation, source_name=_part_name(job))


def _part_name(job: ConversionJob) -> str:
    """The input, or the part of it that --start/--duration select, for messages."""
    name = STDIN_NAME if is_stdio(job.input) else str(job.input)
    if job.start == 0 and job.duration is None:
        return name
    begin = f"{format_number(job.start)} s"
    end = "its end" if job.duration is None else f"{format_number(job.start + job.duration)} s"
    return f"the part of {name} from {begin} to {end} (--start/--duration)"

