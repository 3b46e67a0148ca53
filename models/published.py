"""The published IFRNet checkpoints as data: one entry per file, as torchvision's ``WeightsEnum``: the variant
(a key of :data:`models.network.WIDTHS`, which gives its shapes and so its parameter count), the task, the
place under ``checkpoints/`` (the authors' layout) and the sources in order: the authors' Dropbox folder as
one zip (Dropbox gives single files of a shared folder only by per-file links, which the authors do not
publish), then release assets of two projects whose video tools fetch the IFRNet_S and IFRNet_L files.
"""
from __future__ import annotations

import os
import urllib.parse
from pathlib import PurePosixPath
from typing import List, NamedTuple, Tuple

from models.network import MODEL_NAMES
from utils.download import display_url

__all__ = ["Source", "PublishedCheckpoint", "PUBLISHED_CHECKPOINTS", "PUBLISHED_FOLDER_URL", "TASKS",
           "URLS_VARIABLE", "MAX_FILE_BYTES", "MAX_ARCHIVE_BYTES", "find_published", "checkpoint_sources"]

URLS_VARIABLE = "IFRNET_CHECKPOINT_URLS"
PUBLISHED_FOLDER_URL = "https://www.dropbox.com/sh/hrewbpedd2cgdp3/AADbEivu0-CKDQcHtKdMNJPJa?dl=0"
TASKS = ("Vimeo90K", "GoPro")
MAX_FILE_BYTES = 100_000_000  # one weights file (published or given by URL); the largest published is 79 MB
MAX_ARCHIVE_BYTES = 400_000_000  # a zip of the authors' folder: all six files, about 220 MB


class Source(NamedTuple):
    """Where files can be fetched: a zip ``archive`` holding them anywhere inside, or a base ``url``; ``label`` names it."""

    label: str
    url: str
    archive: bool = False


AUTHORS_FOLDER = Source("the authors' Dropbox folder (as zip)", PUBLISHED_FOLDER_URL.replace("dl=0", "dl=1"), archive=True)
MIRRORS = tuple(Source(f"{repository} release 'models'", f"https://github.com/{repository}/releases/download/models/")
                for repository in ("styler00dollar/VSGAN-tensorrt-docker", "Fannovel16/ComfyUI-Frame-Interpolation"))


class PublishedCheckpoint(NamedTuple):
    """One published weights file. No hash of the authors' files could be checked from where this table was
    written, so a download is accepted on its structure and its hash recorded (``models.downloads``)."""

    variant: str
    task: str
    path: str  # under the checkpoints folder, e.g. "IFRNet_small/IFRNet_S_Vimeo90K.pth"
    sources: Tuple[Source, ...]

    @property
    def file_name(self) -> str:
        return PurePosixPath(self.path).name


_FOLDERS = {"IFRNet": "IFRNet", "IFRNet_L": "IFRNet_large", "IFRNet_S": "IFRNet_small"}  # the authors' layout
PUBLISHED_CHECKPOINTS: Tuple[PublishedCheckpoint, ...] = tuple(
    # No mirror is known to hold the middle-width IFRNet files: only the authors' folder has them.
    PublishedCheckpoint(variant, task, f"{_FOLDERS[variant]}/{variant}_{task}.pth",
                        (AUTHORS_FOLDER,) + (MIRRORS if variant != "IFRNet" else ()))
    for variant in MODEL_NAMES for task in TASKS)


def find_published(variant: str, task: str = "Vimeo90K") -> PublishedCheckpoint:
    """The table entry of ``variant`` trained on ``task``."""
    if variant not in MODEL_NAMES:
        raise ValueError(f"unknown model name {variant!r}; expected one of {', '.join(MODEL_NAMES)}")
    if task not in TASKS:
        raise ValueError(f"published checkpoints exist for 'Vimeo90K' and 'GoPro', not {task!r}")
    return next(entry for entry in PUBLISHED_CHECKPOINTS if entry.variant == variant and entry.task == task)


def checkpoint_sources(entry: PublishedCheckpoint) -> List[Tuple[str, str, bool]]:
    """What to try for ``entry``, in order, as (label, URL, whether it is a zip holding the file): the sources
    of ``IFRNET_CHECKPOINT_URLS`` when it is set, else the table's; a base URL gets the file name appended."""
    urls = [url.strip() for url in os.environ.get(URLS_VARIABLE, "").split(",") if url.strip()]
    sources = [Source(display_url(url), url, urllib.parse.urlsplit(url).path.lower().endswith(".zip")) for url in urls]
    return [(s.label, s.url if s.archive else s.url.rstrip("/") + "/" + entry.file_name, s.archive)
            for s in sources or entry.sources]
