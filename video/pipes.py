"""Standard input and output as the video tool's input and output (``-``), for ffmpeg pipelines::

    ffmpeg -i in.mkv -f yuv4mpegpipe - | python interpolate_video.py --input - --output - --fps 60 | ffmpeg -i - out.mp4

A pipe is read (or written) once, front to back: it cannot be sought, so a job with a pipe runs
in one piece, with no resume, and the other tracks of a piped input (audio) cannot be read a second
time to be carried along. The output stream is y4m by default (raw frames, which every ffmpeg reads
without options), or nut or Matroska encoded with --codec, which can carry a file input's audio.
Logs and progress go to standard error, so they never mix with the stream.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import BinaryIO, Optional, Union

from utils.errors import InputError

__all__ = ["STDIO", "PIPE_FORMATS", "STDIN_NAME", "STDOUT_NAME", "is_stdio", "uses_pipe", "pipe_format",
           "stdin_stream", "stdout_stream"]

STDIO = "-"  # --input - / --output -
# --format of a stream on standard output -> FFmpeg's muxer. MP4 and MOV need a seekable file.
PIPE_FORMATS = {"y4m": "yuv4mpegpipe", "nut": "nut", "mkv": "matroska"}
STDIN_NAME, STDOUT_NAME = "<stdin>", "<stdout>"  # how messages name them


def is_stdio(path: Optional[Union[str, Path]]) -> bool:
    """``path`` is ``-``: standard input as an input, standard output as an output."""
    return path is not None and os.fspath(path) == STDIO


def uses_pipe(job: object) -> bool:
    """The job reads standard input or writes standard output."""
    return is_stdio(getattr(job, "input", None)) or is_stdio(getattr(job, "output", None))


def pipe_format(format_name: Optional[str]) -> str:
    """The --format of a stream on standard output (y4m when not given), refused when it cannot stream."""
    name = format_name or "y4m"
    if name not in PIPE_FORMATS:
        raise InputError(f"--output - writes {', '.join(PIPE_FORMATS)} (a stream); {name} needs a file that can be "
                         "sought: give a file name as --output, or pipe y4m into ffmpeg (| ffmpeg -i - out.mp4)")
    return name


def stdin_stream() -> BinaryIO:
    """Standard input, as bytes, for ``--input -``; a terminal or a closed one is refused."""
    return _standard_stream(sys.stdin, "--input - reads a video stream from standard input",
                            "pipe one in (ffmpeg -i in.mkv -f yuv4mpegpipe - | python interpolate_video.py --input - ...)")


def stdout_stream() -> BinaryIO:
    """Standard output, as bytes, for ``--output -``; a terminal is refused (binary video would fill it)."""
    stream = _standard_stream(sys.stdout, "--output - writes a video stream to standard output",
                              "pipe it into a program (... --output - | ffmpeg -i - out.mp4) or redirect it to a file")
    sys.stdout.flush()  # whatever text was written before goes first
    return stream


def _standard_stream(stream, what: str, advice: str) -> BinaryIO:
    if stream is None or stream.closed:
        raise InputError(f"{what}, which is closed")
    if stream.isatty():
        raise InputError(f"{what}, which is a terminal: {advice}")
    return stream.buffer
