"""Where a conversion's output goes: which paths are allowed, and the move into place.

Two promises to the user. Nothing but the output is ever replaced: ``--overwrite`` replaces an
output file, or in an output folder only the frames this tool writes (``00000000.png`` ...), and
a folder output that holds the input (or lies inside an input folder) is refused outright. And a
bad output path fails before any work: the folder the output goes to is probed by creating a file
in it, which is what tells a read-only or missing folder apart (permission bits do not: root
ignores them).

The output is written under a temporary name and moved into place only on success, so a failed or
interrupted run never leaves a truncated file under the requested name and keeps the old output.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

from utils.atomic import atomic_path, discard, temporary_path
from utils.errors import InputError
from utils.output_checks import check_folder_spares_input, check_output_folder
from video.pipes import STDIO, is_stdio
from video.sinks import GIF_SUFFIX, OWN_FRAME_NAME, VIDEO_FORMATS

__all__ = ["is_gif", "output_is_folder", "check_output_path", "check_writable", "atomic_output", "STALE_AFTER_SECONDS"]

# A temporary output untouched this long belongs to a run that was killed (SIGKILL, power loss): a
# live run writes its file or adds a frame far more often. Younger ones may be another run's. The
# sweep is utils.atomic.remove_stale_temporaries, given the output (it also looks inside an output
# folder, where atomic_output keeps its temporary).
STALE_AFTER_SECONDS = 300


def is_gif(path: Union[str, Path]) -> bool:
    """An animated GIF output (``.gif``)."""
    return Path(path).suffix.lower() == GIF_SUFFIX


def output_is_folder(path: Union[str, Path]) -> bool:
    """A path with a video or .gif extension is a file; an existing folder or a name without suffix is a folder
    (``-``, standard output, is neither)."""
    if is_stdio(path):
        return False
    path = Path(path)
    if path.suffix.lower() in VIDEO_FORMATS or is_gif(path):
        return False
    if path.is_dir() or path.suffix == "":
        return True
    raise InputError(
        f"unsupported output extension {path.suffix!r}; use one of {', '.join(sorted([*VIDEO_FORMATS, GIF_SUFFIX]))} or a folder"
    )


def _absolute(path: Union[str, Path]) -> Path:
    """``path`` made absolute with ``.`` and ``..`` resolved by name ("." has no name to rename)."""
    return Path(os.path.abspath(path))


def _check_not_the_input(output: Path, input_path: Path) -> None:
    """The output may not be the input, hold it (a folder output), or lie inside an input folder."""
    if not input_path.exists():
        return
    if output_is_folder(output):
        check_folder_spares_input(output, input_path)
    elif output.exists() and os.path.samefile(output, input_path):
        raise InputError(f"the output {output} is the input; choose another output path")


def check_writable(output: Union[str, Path]) -> None:
    """Fail unless the output can be created: its nearest existing folder takes a new file.

    An existing output folder takes the temporary frames itself; any other output is written next
    to its final name, in its parent folder (created when missing).
    """
    output = _absolute(output)
    check_output_folder(output if output.is_dir() else output.parent, f"cannot write {output}:")


def check_output_path(output: Union[str, Path], input_path: Union[str, Path], overwrite: bool) -> None:
    """Refuse to clobber: an existing output needs --overwrite, the output may not be (or hold)
    the input, and it must be writable. Standard output (``-``) is none of these: a stream is
    written as it goes."""
    if is_stdio(output):
        return
    output, input_path = Path(output), Path(input_path)
    _check_not_the_input(output, input_path)
    if output.exists() and not overwrite:
        raise InputError(f"output already exists: {output} (pass --overwrite to replace it)")
    if output.exists() and output.is_dir() != output_is_folder(output):
        kind = "a folder" if output.is_dir() else "a file"
        raise InputError(f"output {output} exists and is {kind}; remove it or choose another path")
    check_writable(output)


def _own_frames(folder: Path) -> Iterator[Path]:
    return (p for p in folder.iterdir() if OWN_FRAME_NAME.fullmatch(p.name) and p.is_file())


def _merge_frames(new: Path, folder: Path) -> None:
    """Move the frames of ``new`` into the existing ``folder``, replacing its old frames of the
    same names and deleting its old frames beyond the new count; every other file stays.

    Each move is an atomic rename, so at any moment each frame file is complete, old or new.
    """
    names = set()
    for frame in _own_frames(new):
        os.replace(frame, folder / frame.name)
        names.add(frame.name)
    for stale in _own_frames(folder):
        if stale.name not in names:
            stale.unlink()
    discard(new)


@contextmanager
def atomic_output(path: Union[str, Path], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path for the output at ``path`` and move it into place only if the block
    succeeds; on any failure or interrupt it is deleted and an existing output is left untouched.

    A file or a new folder is :func:`utils.atomic.atomic_path`'s job (written next to ``path``,
    renamed into place). An existing folder output gets a hidden temporary folder inside it (the
    folder itself is what was probed writable), whose frames are then merged in by
    :func:`_merge_frames`, so whatever else the folder holds is kept. Without ``overwrite``, an
    output that another process created meanwhile is refused at the move (one line), not replaced.
    Standard output (``-``) is yielded as it is: a stream has no place to move into.
    """
    if is_stdio(path):
        yield Path(STDIO)
        return
    final = _absolute(path)
    if not final.is_dir():
        with atomic_path(final, overwrite=overwrite) as temp:
            yield temp
        return
    temp = temporary_path(final, folder=final)
    try:
        yield temp
        _merge_frames(temp, final)
    except BaseException:
        discard(temp)
        raise
