"""Many inputs in one run: several files, a folder of videos, or a text file listing them.

:func:`expand_inputs` turns the values of ``--input`` into the list of inputs and says whether they
make a batch; :func:`run_batch` converts them one after the other into an output folder, one
summary line each. A failed input does not stop the others, and a rerun skips the outputs that are
finished (an output is in place only once whole) and resumes the ones a killed run left in segments.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from utils.errors import InputError
from utils.output_checks import check_folder_spares_input
from video.convert import convert
from video.job import CheckedJob, ConversionJob, InterpolateFn, check_job
from video.output import output_is_folder
from video.pipes import is_stdio
from video.segments import work_folder
from video.sinks import VIDEO_FORMATS

__all__ = ["VIDEO_SUFFIXES", "LIST_SUFFIX", "expand_inputs", "batch_targets", "BatchResult", "run_batch"]

log = logging.getLogger("ifrnet.video")

# What a folder of videos holds: the containers FFmpeg reads that people keep videos in.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv",
                  ".wmv", ".ogv", ".3gp", ".nut", ".y4m", ".gif")
LIST_SUFFIX = ".txt"  # a text file that lists inputs, one per line

ModelFor = Callable[[CheckedJob], Tuple[InterpolateFn, Mapping[str, Any]]]


def _videos_in(folder: Path) -> List[Path]:
    return sorted(path for path in folder.iterdir()
                  if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in VIDEO_SUFFIXES)


def _listed(list_file: Path) -> List[Path]:
    """The inputs a list file names, one per line; blank lines and lines starting with # are
    skipped, and a relative path is relative to the list file's folder."""
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the list of inputs {list_file}: {error}") from None
    names = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [list_file.parent / Path(name).expanduser() for name in names]


def expand_inputs(values: Sequence[Path], output: Path) -> Tuple[List[Path], bool]:
    """The inputs ``--input``'s values name, and whether they make a batch (several inputs, a folder
    of videos or a list file, even when it holds one). A folder holding video files is a folder
    of videos; a folder without any is one input, a folder of frames. A batch's ``output`` folder
    that is an input folder, holds an input or lies inside an input folder is refused: its results
    could replace inputs, or be read as inputs by a rerun."""
    inputs: List[Path] = []
    batch = len(values) > 1
    if any(is_stdio(value) for value in values) and len(values) > 1:
        raise InputError("--input - (standard input) is one input: it cannot be part of a batch")
    for value in map(Path, values):
        if value.is_dir() and _videos_in(value):
            inputs += _videos_in(value)
            batch = True
        elif value.is_file() and value.suffix.lower() == LIST_SUFFIX:
            inputs += _listed(value)
            batch = True
        else:
            inputs.append(value)
    unique = list({path.resolve() if path.exists() else path: path for path in inputs}.values())
    if batch and not unique:
        raise InputError(f"no inputs in {', '.join(map(str, values))}")
    for value in values if batch else ():
        check_folder_spares_input(output, value, "--output")
    return unique, batch


def batch_targets(inputs: Sequence[Path], output: Path, frames: bool, format_name: Optional[str] = None) -> List[Path]:
    """Each input's output in the folder ``output``: the input's name (and so its suffix, or the
    suffix ``format_name``, --format, gives), or with ``frames`` (--image_format) a folder of frames
    named after the input without its suffix. Two inputs with one name are refused: the second
    would overwrite the first."""
    if format_name is not None and (frames or f".{format_name}" not in VIDEO_FORMATS):
        kinds = ", ".join(suffix[1:] for suffix in VIDEO_FORMATS)
        raise InputError(f"--format {format_name} cannot name a batch's outputs: " +
                         ("--image_format makes folders of frames" if frames else f"give one of {kinds}"))
    if is_stdio(output):
        raise InputError("with several inputs --output is a folder, not standard output (-)")
    if Path(output).exists() and not Path(output).is_dir():
        raise InputError(f"with several inputs --output is a folder; {output} is a file")
    if not output_is_folder(output):
        raise InputError(f"with several inputs --output is a folder, not {output}")
    targets: List[Path] = []
    named = {}
    for path in inputs:
        name = path.stem if frames and not path.is_dir() else path.name
        if format_name is not None:
            name = f"{path.stem if not path.is_dir() else path.name}.{format_name}"
        if name in named:
            raise InputError(f"{named[name]} and {path} would both be written to {Path(output) / name}")
        named[name] = path
        targets.append(Path(output) / name)
    return targets


@dataclass
class BatchResult:
    written: int = 0
    skipped: int = 0
    failed: int = 0


def run_batch(job: ConversionJob, inputs: Sequence[Path], model_for: ModelFor) -> BatchResult:
    """Convert each of ``inputs`` with ``job``'s settings into the folder ``job.output``.

    ``model_for(checked)`` gives the interpolate function and the model settings for a checked
    job (the caller loads each model once). An input that fails (a damaged file, a bad header)
    gets one error line and the others go on; an error in ``model_for`` stops the batch, as it
    would stop every input. Returns the counts; the caller decides the exit code.
    """
    targets = batch_targets(inputs, Path(job.output), frames=job.image_format is not None, format_name=job.format)
    Path(job.output).mkdir(parents=True, exist_ok=True)
    result = BatchResult()
    for path, target in zip(inputs, targets):
        each = dataclasses.replace(job, input=path, output=target, format=None)  # (the target's suffix says it)
        if target.exists() and not work_folder(target).exists() and not job.overwrite:
            log.info("%s: skipped, %s is finished (--overwrite redoes it)", path, target)
            result.skipped += 1
            continue
        try:
            checked = check_job(each)
        except InputError as error:
            log.error("%s: failed: %s", path, error)
            result.failed += 1
            continue
        with checked:
            interpolate, model = model_for(checked)
            try:
                stats = convert(checked, interpolate, model=model)
            except InputError as error:
                log.error("%s: failed: %s", path, error)
                result.failed += 1
                continue
            except Exception as error:  # a damaged file found mid-way: the other inputs go on
                log.error("%s: failed: %s: %s", path, type(error).__name__, str(error).splitlines()[0] if str(error) else "")
                result.failed += 1
                continue
        log.info("%s: wrote %s: %d frames from %d in %.1f s", path, target, stats.frames_out, stats.frames_in,
                 stats.total_seconds)
        result.written += 1
    log.info("%d input%s: %d written, %d skipped (finished earlier), %d failed", len(inputs),
             "" if len(inputs) == 1 else "s", result.written, result.skipped, result.failed)
    return result
