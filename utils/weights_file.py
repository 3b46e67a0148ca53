"""The one loader of ``.pth`` files: ``torch.load(weights_only=True)`` with a reason a user can act on.

Every weights file the project reads (``--checkpoint``, ``--resume``, ``generate_flow.py
--weights``, downloads being verified) goes through :func:`load_weights_file`, so each gets the
same refusal for the same file. PyTorch's own message for a refused file advises retrying with
``weights_only=False``: wrong for an HTML page or random bytes, and unsafe for a file from
elsewhere, which may be a pickle built to run code. So PyTorch's message is never shown or
parsed (its wording changes between releases); the reason is told from the file itself:

- empty, or neither PyTorch's zip format nor a pickle: not a checkpoint at all;
- a pickle naming a Python global that plain tensors and containers never need (``os.system``,
  a ``torch.nn.Module`` class saved whole): not a plain checkpoint, and not loaded, since
  unpickling it can run code. The pickle is read opcode by opcode (:mod:`pickletools`), never
  executed;
- anything else PyTorch refuses: damaged (corrupt or truncated).
"""
from __future__ import annotations

import pickletools
import warnings
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Optional, Union

import torch

from utils.errors import InputError

__all__ = ["WeightsFileError", "load_weights_file", "foreign_global"]

_ZIP_MAGIC, _PICKLE_MAGIC = b"PK\x03\x04", b"\x80"

# Globals a plain checkpoint's pickle may name besides torch's own rebuild helpers, storages,
# dtypes and Size: the containers and the bytes codec that ``torch.save`` of a dict of tensors
# (with numbers, strings and lists beside them) writes.
_PLAIN_GLOBALS = {
    "collections.OrderedDict", "_codecs.encode", "builtins.set", "builtins.frozenset", "builtins.bytearray",
    "builtins.slice", "builtins.complex", "builtins.range", "torch.nn.parameter.Parameter",
}
_TORCH_HELPER_MODULES = ("torch._utils", "torch._tensor", "torch.serialization", "torch.storage")
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING", "SHORT_BINSTRING"}
_MAX_READ = 1 << 26  # 64 MiB: no string a checkpoint's pickle holds comes near it
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"}


class WeightsFileError(InputError):
    """A weights file that cannot be read; the message is the reason alone (callers add the path)."""


def _is_plain(module: str, name: str) -> bool:
    """True for a global that ``torch.save`` writes for tensors and plain containers."""
    module = "builtins" if module == "__builtin__" else module  # protocol 2 writes Python 2's name
    if f"{module}.{name}" in _PLAIN_GLOBALS or module.startswith(_TORCH_HELPER_MODULES):
        return True
    if module == "torch":  # torch.float32, torch.FloatStorage, torch.Size, torch.device
        value = getattr(torch, name, None)
        return isinstance(value, torch.dtype) or value in (torch.Size, torch.device) or (
            isinstance(value, type) and name.endswith("Storage"))
    return False


def _globals_of(stream: BinaryIO) -> Iterator[str]:
    """``module.name`` of every global one pickle in ``stream`` names, read without executing it.

    ``STACK_GLOBAL`` takes its two names from the stack: the strings pushed last (directly or from
    the memo) are tracked, which is how every pickler writes it. Raises ValueError on a damaged pickle.
    """
    memo: dict = {}
    pushed: list = [None, None]
    for opcode, argument, _ in pickletools.genops(stream):
        name = opcode.name
        if name in ("GLOBAL", "INST"):
            yield str(argument).replace(" ", ".", 1)
        elif name == "STACK_GLOBAL":
            module, attribute = pushed[-2], pushed[-1]
            yield f"{module}.{attribute}" if isinstance(module, str) and isinstance(attribute, str) else "an unnamed global"
        if name in _PUT_OPS:
            memo[len(memo) if name == "MEMOIZE" else argument] = pushed[-1]
        elif name in _STRING_OPS:
            pushed.append(argument if isinstance(argument, str) else argument.decode("latin-1"))
        elif name in _GET_OPS:
            pushed.append(memo.get(argument))
        elif name != "STOP":
            pushed.append(None)
        del pushed[:-2]


class _Clamped:
    """A read-only stream whose reads never ask for more than ``_MAX_READ`` bytes: a damaged pickle's
    length field (up to 2**64) then ends the scan instead of allocating that much."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(_MAX_READ if size is None or size < 0 else min(size, _MAX_READ))

    def readline(self) -> bytes:
        return self._stream.readline(_MAX_READ)


def _first_foreign(stream: BinaryIO, pickles: int) -> Optional[str]:
    """The first non-plain global of up to ``pickles`` consecutive pickles in ``stream``."""
    clamped = _Clamped(stream)
    for _ in range(pickles):
        try:
            for found in _globals_of(clamped):  # type: ignore[arg-type]
                if found == "an unnamed global" or not _is_plain(*found.rsplit(".", 1)):
                    return found
        except Exception:  # damaged, or the raw bytes after a legacy file's pickles  # noqa: BLE001
            return None
    return None


def foreign_global(path: Union[str, Path]) -> Optional[str]:
    """The first global in ``path``'s pickle(s) that a plain checkpoint never names; None if there is none.

    Reads the ``data.pkl`` of PyTorch's zip format, or the leading pickles of a raw or legacy file
    (a legacy file is a handful of pickles, then raw storage bytes, where reading stops). Nothing
    is executed.
    """
    path = Path(path)
    try:
        if not zipfile.is_zipfile(path):
            with open(path, "rb") as handle:
                return _first_foreign(handle, pickles=8)
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
            if not names:
                return None
            with archive.open(names[0]) as member:
                return _first_foreign(member, pickles=1)
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError, NotImplementedError):
        return None


def load_weights_file(path: Union[str, Path], map_location: Union[str, torch.device] = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, or :class:`WeightsFileError` saying why not (without the path).

    The reasons: "the file is empty"; "it is not a PyTorch checkpoint ..." (an HTML page, text,
    random bytes); "it is not a plain checkpoint: it holds Python objects ..." (a pickle that
    names code, e.g. a whole model or a crafted file); "it is corrupt or truncated ...".
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        raise WeightsFileError("the file is empty")
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_MAGIC)):
        raise WeightsFileError("it is not a PyTorch checkpoint (neither PyTorch's zip format nor a pickle)")
    try:
        with warnings.catch_warnings():  # its note on a file's pickle protocol is noise beside our one line
            warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\._weights_only_unpickler")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # torch raises many types, with wording that changes between releases
        pass
    found = foreign_global(path)
    if found is not None:
        raise WeightsFileError(
            f"it is not a plain checkpoint: it holds Python objects besides tensors (e.g. {found}), which are not "
            "loaded because unpickling them can run code; save the model's state_dict alone")
    raise WeightsFileError("it is corrupt or truncated (PyTorch cannot unpack it)")
