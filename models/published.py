"""The published IFRNet checkpoints as data: one table entry per file, with where to get it.

Like torchvision's ``WeightsEnum``, each entry holds everything a tool needs about one set of
weights: the variant and task, the file name and its place under ``checkpoints/`` (the layout of
the authors' release, which their scripts and ours look for), the parameter count a valid file
must have, and the sources to try, in order, until one gives a file that passes verification
(see :func:`models.checkpoint.verify_published`).

Sources:
- the authors' shared Dropbox folder, downloaded as one zip (``dl=1``) from which only the member
  with the file's base name is taken. Dropbox gives single files of a shared folder only through
  per-file links, which the authors do not publish, so the folder archive is the direct source;
- the ``models`` release assets of styler00dollar/VSGAN-tensorrt-docker and of
  Fannovel16/ComfyUI-Frame-Interpolation, public mirrors that video tools already download the
  IFRNet_S and IFRNet_L files from (file name appended to the base URL).

Size caps are data here too: no published file reaches ``MAX_FILE_BYTES`` (IFRNet_L's are
79 MB) and the authors' folder zip (about 220 MB) stays under ``MAX_ARCHIVE_BYTES``; a source
declaring or sending more is refused (see :mod:`models.downloads`).

``IFRNET_CHECKPOINT_URLS`` (comma-separated) replaces every entry's sources, for company mirrors
and tests: an entry whose path ends in ``.zip`` is an archive holding the files anywhere inside
it, any other entry is a base URL the file name is appended to.
"""
from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Optional, Tuple

__all__ = [
    "Source",
    "PublishedCheckpoint",
    "PUBLISHED_CHECKPOINTS",
    "PUBLISHED_FOLDER_URL",
    "VARIANTS",
    "TASKS",
    "URLS_VARIABLE",
    "MAX_FILE_BYTES",
    "MAX_ARCHIVE_BYTES",
    "find_published",
    "checkpoint_sources",
    "sources_from_urls",
]

URLS_VARIABLE = "IFRNET_CHECKPOINT_URLS"
PUBLISHED_FOLDER_URL = "https://www.dropbox.com/sh/hrewbpedd2cgdp3/AADbEivu0-CKDQcHtKdMNJPJa?dl=0"
VARIANTS = ("IFRNet", "IFRNet_L", "IFRNet_S")
TASKS = ("Vimeo90K", "GoPro")
MAX_FILE_BYTES = 100_000_000  # one weights file (published or given by URL); the largest published is 79 MB
MAX_ARCHIVE_BYTES = 400_000_000  # a zip of the authors' folder: all six files, about 220 MB


@dataclass(frozen=True)
class Source:
    """Where a file can be fetched: a zip ``archive`` holding it anywhere inside, or a ``base`` URL."""

    label: str
    url: str
    archive: bool = False

    def url_for(self, file_name: str) -> str:
        """The URL to GET for ``file_name`` (the archive itself for an archive source)."""
        if self.archive:
            return self.url
        return self.url.rstrip("/") + "/" + file_name


AUTHORS_FOLDER = Source("the authors' Dropbox folder (as zip)", PUBLISHED_FOLDER_URL.replace("dl=0", "dl=1"), archive=True)
VSGAN_MIRROR = Source("styler00dollar/VSGAN-tensorrt-docker release 'models'",
                      "https://github.com/styler00dollar/VSGAN-tensorrt-docker/releases/download/models/")
COMFYUI_MIRROR = Source("Fannovel16/ComfyUI-Frame-Interpolation release 'models'",
                        "https://github.com/Fannovel16/ComfyUI-Frame-Interpolation/releases/download/models/")


@dataclass(frozen=True)
class PublishedCheckpoint:
    """One published weights file: what it holds, where it goes, how big its network is, where to get it.

    ``sha256`` pins the file's hash when it is known (none could be checked from where this table
    was written); without it a download is accepted on structure alone and its hash is recorded.
    """

    variant: str
    task: str
    path: str  # under the checkpoints folder, e.g. "IFRNet_small/IFRNet_S_Vimeo90K.pth"
    parameters: int
    sources: Tuple[Source, ...]
    sha256: Optional[str] = None

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.path).name


_FOLDERS = {"IFRNet": "IFRNet", "IFRNet_L": "IFRNet_large", "IFRNet_S": "IFRNet_small"}
_PARAMETERS = {"IFRNet": 4_959_692, "IFRNet_L": 19_699_460, "IFRNet_S": 2_803_610}
# No mirror is known to hold the middle-width IFRNet files: only the authors' folder has them.
_SOURCES = {
    "IFRNet": (AUTHORS_FOLDER,),
    "IFRNet_L": (AUTHORS_FOLDER, VSGAN_MIRROR, COMFYUI_MIRROR),
    "IFRNet_S": (AUTHORS_FOLDER, VSGAN_MIRROR, COMFYUI_MIRROR),
}

PUBLISHED_CHECKPOINTS: Tuple[PublishedCheckpoint, ...] = tuple(
    PublishedCheckpoint(variant, task, f"{_FOLDERS[variant]}/{variant}_{task}.pth", _PARAMETERS[variant], _SOURCES[variant])
    for variant in VARIANTS
    for task in TASKS
)


def find_published(variant: str, task: str = "Vimeo90K") -> PublishedCheckpoint:
    """The table entry of ``variant`` trained on ``task``."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown model name {variant!r}; expected one of {', '.join(VARIANTS)}")
    if task not in TASKS:
        raise ValueError(f"published checkpoints exist for 'Vimeo90K' and 'GoPro', not {task!r}")
    return next(entry for entry in PUBLISHED_CHECKPOINTS if entry.variant == variant and entry.task == task)


def sources_from_urls(text: str) -> Tuple[Source, ...]:
    """The sources a comma-separated ``IFRNET_CHECKPOINT_URLS`` value names, in its order."""
    sources = []
    for url in (part.strip() for part in text.split(",")):
        if url:
            archive = urllib.parse.urlsplit(url).path.lower().endswith(".zip")
            sources.append(Source(url, url, archive=archive))
    return tuple(sources)


def checkpoint_sources(entry: PublishedCheckpoint) -> Tuple[Source, ...]:
    """The sources to try for ``entry``: those of ``IFRNET_CHECKPOINT_URLS`` when it is set, else the table's."""
    override = os.environ.get(URLS_VARIABLE, "").strip()
    return sources_from_urls(override) if override else entry.sources
