"""The one loader of ``.pth`` files: ``torch.load(weights_only=True)``, and for a refused file a reason told from
the file itself (empty; not PyTorch's zip format nor a pickle; a pickle naming Python code, found without running
any of it; else damaged). PyTorch's own message, with its advice to retry with ``weights_only=False`` (wrong for
an HTML page, unsafe for a file from elsewhere) and wording that changes between releases, is never shown.
"""
from __future__ import annotations

import io
import pickle
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional, Union

import torch

from utils.errors import InputError

__all__ = ["WeightsFileError", "load_weights_file", "foreign_global"]

_LEGACY_PLAIN = ("collections.OrderedDict", "torch._utils.")  # what a legacy file's state dict names first


class WeightsFileError(InputError):
    """A weights file that cannot be read; the message is the reason alone (callers add the path)."""


class _Named(Exception):
    """The first global a pickle names, raised by :class:`_NamesFirstGlobal`."""


class _NamesFirstGlobal(pickle.Unpickler):
    """Raises the first global's name instead of importing it: nothing in the pickle can be called."""

    def find_class(self, module: str, name: str) -> Any:
        raise _Named(f"{module}.{name}")


def foreign_global(path: Union[str, Path]) -> Optional[str]:
    """A global in ``path``'s pickle that ``weights_only`` refuses, or None: PyTorch's zip format is read by
    :func:`torch.serialization.get_unsafe_globals_in_checkpoint`, a bare or legacy pickle up to its first global."""
    try:
        if zipfile.is_zipfile(path):
            return min(torch.serialization.get_unsafe_globals_in_checkpoint(path), default=None)
        with open(path, "rb") as handle:
            stream = io.BytesIO(handle.read(1 << 26))  # a damaged length field cannot make a read grow past this
        for _ in range(4):  # a legacy file: magic number, protocol, system info, then the object
            _NamesFirstGlobal(stream).load()
    except _Named as named:
        return None if str(named).startswith(_LEGACY_PLAIN) else str(named)
    except Exception:  # damaged: no name to give  # noqa: BLE001
        return None
    return None


def load_weights_file(path: Union[str, Path], map_location: Union[str, torch.device] = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, or :class:`WeightsFileError` saying why not (without the path)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise WeightsFileError("the file is empty")
    if not head.startswith((b"PK\x03\x04", b"\x80")):  # PyTorch's zip format, a pickle
        raise WeightsFileError("it is not a PyTorch checkpoint (neither PyTorch's zip format nor a pickle)")
    try:
        with warnings.catch_warnings():  # its note on a file's pickle protocol is noise beside our one line
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\._weights_only_unpickler")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # torch raises many types, with wording that changes between releases  # noqa: BLE001
        pass
    if (found := foreign_global(path)) is not None:
        raise WeightsFileError(
            f"it is not a plain checkpoint: it holds Python objects besides tensors (e.g. {found}), which are not "
            "loaded because unpickling them can run code; save the model's state_dict alone")
    raise WeightsFileError("it is corrupt or truncated (PyTorch cannot unpack it)")
