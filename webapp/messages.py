"""What the page may show of an error: the message with the server's folders taken out.

Errors name the files they are about, and on the server those are paths such as
``/tmp/gradio/<hash>/holiday.png`` or ``/tmp/ifrnet-app-x1y2/video-ab12/clip_interpolated.mp4``,
which tell a visitor how the server is laid out. The page shows the upload's own file name instead
and, for any other path under a server folder, only its last part.
"""
from __future__ import annotations

import os
import re
from typing import Iterable, Mapping, Union

__all__ = ["public_message"]

PathText = Union[str, "os.PathLike[str]"]


def _forms(path: PathText) -> set:
    """The ways a path may appear in a message: as given and resolved (``/tmp`` may be a link)."""
    text = os.fspath(path)
    return {text, os.path.realpath(text)}


def public_message(message: str, uploads: Mapping[str, str], folders: Iterable[PathText]) -> str:
    """``message`` with each upload's path (key of ``uploads``) replaced by its file name (value),
    and any other path under one of ``folders`` by its last part."""
    for path, name in sorted(uploads.items(), key=lambda item: -len(item[0])):
        for form in sorted(_forms(path), key=len, reverse=True):
            message = message.replace(form, name)
    roots = sorted({form.rstrip(os.sep) for folder in folders for form in _forms(folder)}, key=len, reverse=True)
    for root in roots:
        if len(root) < 2:  # never treat "/" as a server folder: every path would go
            continue
        # the folder itself, or a path under it; not a longer name that merely starts alike (/tmpfiles)
        pattern = re.escape(root) + r"(?:(" + re.escape(os.sep) + r"[^\s'\":;,]*)|(?![^\s'\":;,.]))"
        message = re.sub(pattern, lambda match: os.path.basename(match.group(1).rstrip(os.sep)) if match.group(1)
                         else "the server's folder", message)
    return message
