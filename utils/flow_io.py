"""Reading and writing optical-flow files (Middlebury ``.flo`` and ``.pfm``).

Flow ground truth for the benchmarks ships in these two formats, and flows we
estimate are saved in them so that external tools can read them.  Both readers
validate the header against the amount of data actually present, because a
silently mis-shaped flow field produces plausible-looking but wrong metrics.
Writers go through a temporary file and ``os.replace`` so an interrupted run
never leaves a truncated file under the final name.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from utils.atomic import PathLike, atomic_writer

__all__ = ["read_flo", "write_flo", "read_pfm", "write_pfm", "read_flow"]


# The Middlebury magic is the float 202021.25, whose little-endian bytes spell "PIEH".
_FLO_MAGIC = b"PIEH"
_FLO_HEADER = struct.Struct("<4sii")


def read_flo(path: PathLike) -> np.ndarray:
    """Read a Middlebury ``.flo`` file into an (H, W, 2) float32 array of (u, v).

    Raises ``ValueError`` naming the file if the magic is wrong, the size is not
    positive, or the data length disagrees with the header.
    """
    with open(path, "rb") as handle:
        header = handle.read(_FLO_HEADER.size)
        if len(header) < _FLO_HEADER.size:
            raise ValueError(
                f"{os.fspath(path)!s}: expected a {_FLO_HEADER.size}-byte .flo header, "
                f"file has only {len(header)} bytes"
            )
        magic, width, height = _FLO_HEADER.unpack(header)
        if magic != _FLO_MAGIC:
            raise ValueError(
                f"{os.fspath(path)!s}: expected .flo magic {_FLO_MAGIC!r}, got {magic!r}"
            )
        if width <= 0 or height <= 0:
            raise ValueError(
                f"{os.fspath(path)!s}: expected positive width and height, "
                f"got width={width} height={height}"
            )
        expected = width * height * 2 * 4
        # Read one byte more than needed so trailing garbage is detected too.
        data = handle.read(expected + 1)
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "has trailing data"
        raise ValueError(
            f"{os.fspath(path)!s}: .flo file {problem}: header says {width}x{height} "
            f"({expected} bytes of flow), found {len(data)} bytes"
        )
    flow = np.frombuffer(data, dtype="<f4").reshape(height, width, 2)
    return flow.astype(np.float32)  # native byte order, writable copy


def write_flo(path: PathLike, flow: np.ndarray) -> None:
    """Write an (H, W, 2) flow array as a Middlebury ``.flo`` file, atomically."""
    array = np.asarray(flow)
    if array.ndim != 3 or array.shape[2] != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"write_flo expects a non-empty (H, W, 2) array, got shape {array.shape}")
    height, width = array.shape[:2]
    payload = np.ascontiguousarray(array, dtype="<f4")
    with atomic_writer(path, make_parents=False) as handle:
        handle.write(_FLO_HEADER.pack(_FLO_MAGIC, width, height))
        handle.write(payload.tobytes())


def _read_header_line(handle: BinaryIO, path: PathLike) -> str:
    """Return the next non-comment header line of a PFM file, decoded as ASCII."""
    while True:
        raw = handle.readline(256)
        if not raw:
            raise ValueError(f"{os.fspath(path)!s}: PFM header ends prematurely")
        try:
            line = raw.decode("ascii").strip()
        except UnicodeDecodeError:
            raise ValueError(
                f"{os.fspath(path)!s}: expected an ASCII PFM header line, got {raw!r}"
            ) from None
        if line and not line.startswith("#"):
            return line


def read_pfm(path: PathLike) -> np.ndarray:
    """Read a PFM file as float32, (H, W, 3) for 'PF' or (H, W) for 'Pf'.

    PFM stores rows bottom-to-top; the result is flipped to the usual top-to-bottom
    order.  A negative scale means little-endian data, a positive one big-endian.
    """
    with open(path, "rb") as handle:
        kind = _read_header_line(handle, path)
        if kind == "PF":
            channels = 3
        elif kind == "Pf":
            channels = 1
        else:
            raise ValueError(f"{os.fspath(path)!s}: expected PFM header 'PF' or 'Pf', got {kind!r}")
        dims = _read_header_line(handle, path).split()
        try:
            width, height = (int(token) for token in dims)
        except ValueError:
            raise ValueError(
                f"{os.fspath(path)!s}: expected PFM dimensions 'W H', got {' '.join(dims)!r}"
            ) from None
        if width <= 0 or height <= 0:
            raise ValueError(
                f"{os.fspath(path)!s}: expected positive PFM dimensions, got {width}x{height}"
            )
        scale_text = _read_header_line(handle, path)
        try:
            scale = float(scale_text)
        except ValueError:
            raise ValueError(
                f"{os.fspath(path)!s}: expected a numeric PFM scale, got {scale_text!r}"
            ) from None
        if scale == 0.0 or not np.isfinite(scale):
            raise ValueError(
                f"{os.fspath(path)!s}: expected a non-zero finite PFM scale, got {scale}"
            )
        expected = width * height * channels * 4
        data = handle.read(expected)
    if len(data) < expected:
        raise ValueError(
            f"{os.fspath(path)!s}: PFM file truncated: header says {width}x{height}x{channels} "
            f"({expected} bytes), found {len(data)} bytes"
        )
    dtype = "<f4" if scale < 0 else ">f4"
    array = np.frombuffer(data, dtype=dtype).reshape(height, width, channels)
    array = np.flipud(array).astype(np.float32)  # native order, contiguous copy
    return array[..., 0] if channels == 1 else array


def write_pfm(path: PathLike, array: np.ndarray, scale: float = 1.0) -> None:
    """Write (H, W), (H, W, 1) or (H, W, 3) data as little-endian PFM, atomically.

    ``scale`` is the positive magnitude stored in the header; it is written
    negated because a negative scale is how PFM marks little-endian data.
    """
    data = np.asarray(array)
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[..., 0]
    if not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] == 3)):
        raise ValueError(
            "write_pfm expects an (H, W), (H, W, 1) or (H, W, 3) array, "
            f"got shape {np.shape(array)}"
        )
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"write_pfm expects a non-empty image, got shape {np.shape(array)}")
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"write_pfm expects a positive finite scale, got {scale}")
    height, width = data.shape[:2]
    kind = "PF" if data.ndim == 3 else "Pf"
    header = f"{kind}\n{width} {height}\n{-float(scale)}\n".encode("ascii")
    payload = np.ascontiguousarray(np.flipud(data), dtype="<f4")
    with atomic_writer(path, make_parents=False) as handle:
        handle.write(header)
        handle.write(payload.tobytes())


def read_flow(path: PathLike) -> np.ndarray:
    """Read an (H, W, 2) flow from ``.flo`` or ``.pfm``, chosen by file extension.

    PFM flow files (e.g. FlyingThings3D) carry a third, unused channel, which is dropped.
    """
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        return read_flo(path)
    if suffix == ".pfm":
        flow = read_pfm(path)
        if flow.ndim != 3:
            raise ValueError(
                f"{os.fspath(path)!s}: expected a 3-channel PFM for flow, got a 1-channel one"
            )
        return np.ascontiguousarray(flow[..., :2])
    raise ValueError(f"read_flow expects a .flo or .pfm file, got {os.fspath(path)!s}")
