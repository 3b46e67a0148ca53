"""Image file I/O and conversion between images and model tensors.

Every image entering the model goes through :func:`read_image`, which reduces
whatever Pillow can open to one canonical form (H, W, 3) uint8 RGB.  Doing the
mode handling here, once, means the rest of the code never has to wonder about
grayscale, palettes, 16-bit data or alpha.  Images with real transparency are
refused rather than flattened: what lies behind a transparent pixel is unknown,
and any background we picked would leak into the interpolated frames.

The EXIF orientation a camera or phone records (a portrait photo stored landscape with
"rotate 90" in its header) is applied where a file is read, by :func:`read_image` and
:func:`image_size` alike, so every tool sees the picture the way image viewers show it.

Writers go through a temporary file in the destination directory followed by
``os.replace``, so an interrupted run never leaves a half-written image under
the final name.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps

from utils.atomic import PathLike, atomic_writer
from utils.errors import InputError

__all__ = [
    "ImageError",
    "IMAGE_SUFFIXES",
    "PNG_COMPRESS_LEVEL",
    "image_files",
    "read_image",
    "image_size",
    "write_image",
    "image_to_tensor",
    "tensor_to_image",
    "save_gif",
]


# The file suffixes taken for images when a folder of frames is listed (all read by read_image).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")

# zlib level of every PNG the project writes: level 3 encodes a 640x272 frame 2.5x faster than
# Pillow's default 6 for a file 1% larger (PNG stays lossless at any level).
PNG_COMPRESS_LEVEL = 3

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
# EXIF orientations that turn the picture a quarter (with or without a mirror): width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


class ImageError(InputError):
    """An image could not be turned into RGB pixels; the message is one printable sentence."""


def _format_for(path: PathLike) -> str:
    """Pillow format name implied by the extension of ``path``.

    Resolved up front so an unsupported extension fails before any file is created.
    """
    suffix = Path(path).suffix.lower()
    formats = Image.registered_extensions()
    if suffix not in formats:
        raise ValueError(
            "expected an image file extension Pillow can write (e.g. .png, .jpg), "
            f"got {os.fspath(path)!s}"
        )
    return formats[suffix]


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    """Replicate an (H, W) uint8 plane into (H, W, 3)."""
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def _drop_opaque_alpha(image: Image.Image, path: PathLike) -> Image.Image:
    """Return ``image`` without its alpha channel, refusing if any pixel is not fully opaque."""
    alpha_band = "a" if image.mode in ("RGBa", "La") else "A"
    low, _ = image.getchannel(alpha_band).getextrema()
    if low < 255:
        raise ImageError(
            f"image {os.fspath(path)!s} has transparent pixels; flatten it onto a background first"
        )
    return image.convert("RGB")


def _to_rgb_array(image: Image.Image, path: PathLike) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to (H, W, 3) uint8 RGB."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(image).astype(np.float64)
        return _gray_to_rgb(np.rint(values / 257.0).astype(np.uint8))
    if mode in ("I", "F"):
        values = np.nan_to_num(np.asarray(image).astype(np.float64), nan=0.0)
        if mode == "F" and values.size and 0.0 <= values.min() and values.max() <= 1.0:
            values = values * 255.0  # float data in [0, 1] (a float TIFF), not dark 0-255 values
        return _gray_to_rgb(np.rint(np.clip(values, 0.0, 255.0)).astype(np.uint8))
    if mode == "P":
        has_alpha = "transparency" in image.info or (
            image.palette is not None and image.palette.mode == "RGBA"
        )
        image = image.convert("RGBA") if has_alpha else image.convert("RGB")
    elif mode in ("1", "L", "RGB") and "transparency" in image.info:
        # A tRNS colour key marks some pixels transparent even without an alpha band.
        image = image.convert("RGBA")
    elif mode == "PA":
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        image = _drop_opaque_alpha(image, path)
    if image.mode == "L":
        return _gray_to_rgb(np.asarray(image, dtype=np.uint8))
    if image.mode != "RGB":
        try:
            image = image.convert("RGB")
        except (ValueError, OSError) as exc:
            raise ImageError(
                f"cannot read image {os.fspath(path)!s}: "
                f"cannot convert mode {image.mode} to RGB ({exc})"
            ) from None
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag of an opened image, from its header: 1 (as stored) when absent or
    unreadable (a damaged EXIF block leaves the pixels readable, and viewers then show them as
    stored too). A PNG's EXIF chunk precedes its pixels; Pillow would decode the whole file to look
    for one after them, so an unloaded PNG without one in its header has none."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    try:
        return int(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # Pillow raises many types for a malformed block
        return 1


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, raising :class:`ImageError` on any problem.

    The EXIF orientation is applied (the picture as viewers show it). Grayscale is replicated
    to three channels (16-bit data scaled by 1/257; 32-bit float data in [0, 1] scaled by 255,
    other float or 32-bit integer data clipped to [0, 255]); palettes are expanded; an alpha
    channel is dropped only when every pixel is fully opaque.  For multi-frame files the first
    frame is returned.
    """
    if not os.path.exists(path):
        raise ImageError(f"image not found: {os.fspath(path)!s}")
    try:
        with Image.open(path) as opened:
            orientation = _orientation(opened)  # before decoding: from the header, as image_size reads it
            opened.load()  # decode now so truncated or corrupt data fails here
            if orientation != 1:
                return _to_rgb_array(ImageOps.exif_transpose(opened), path)
            return _to_rgb_array(opened, path)
    except ImageError:
        raise
    except Exception as exc:  # Pillow raises many types for bad files; all mean "unreadable"
        reason = str(exc) or type(exc).__name__
        raise ImageError(f"cannot read image {os.fspath(path)!s}: {reason}") from None


def image_files(folder: Path) -> List[Path]:
    """The files of ``folder`` with an image suffix (:data:`IMAGE_SUFFIXES`, any case), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_size(path: PathLike) -> Tuple[int, int]:
    """(height, width) from an image file's header, without decoding its pixels; ImageError if unreadable.
    The EXIF orientation is applied, as :func:`read_image` applies it.

    Cheap enough to check every frame of a dataset at start-up, so a broken file stops a run
    before hours of work rather than at its sample.
    """
    if not os.path.exists(path):
        raise ImageError(f"image not found: {os.fspath(path)!s}")
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            if _orientation(opened) in _QUARTER_TURNS:
                width, height = height, width
    except Exception as exc:  # Pillow raises many types for bad files; all mean "unreadable"
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ImageError(f"cannot read image {os.fspath(path)!s}: {reason}") from None
    return height, width


def _validate_frame(array: np.ndarray, what: str) -> np.ndarray:
    """Check that ``array`` is an (H, W) or (H, W, 3) uint8 image and return it as ndarray."""
    frame = np.asarray(array)
    if frame.dtype != np.uint8:
        raise ValueError(f"{what} expects uint8 pixels, got dtype {frame.dtype}")
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
        raise ValueError(f"{what} expects an (H, W, 3) or (H, W) array, got shape {frame.shape}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{what} expects a non-empty image, got shape {frame.shape}")
    return np.ascontiguousarray(frame)


def write_image(path: PathLike, array: np.ndarray) -> None:
    """Write an (H, W, 3) RGB or (H, W) gray uint8 array; the format follows the extension.

    Parent directories are created and the write is atomic; PNGs are written at
    :data:`PNG_COMPRESS_LEVEL`.
    """
    frame = _validate_frame(array, "write_image")
    image_format = _format_for(path)
    image = Image.fromarray(frame)
    options = {"compress_level": PNG_COMPRESS_LEVEL} if image_format == "PNG" else {}
    with atomic_writer(path) as handle:
        image.save(handle, format=image_format, **options)


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """Convert (H, W, 3) uint8 RGB to a (1, 3, H, W) float32 tensor in [0, 1]."""
    frame = np.asarray(array)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(
            "image_to_tensor expects an (H, W, 3) uint8 array, "
            f"got shape {frame.shape} dtype {frame.dtype}"
        )
    tensor = torch.from_numpy(np.array(frame, copy=True))  # owns writable memory, whatever came in
    return tensor.permute(2, 0, 1).unsqueeze(0).to(torch.float32) / 255.0


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """Convert a (1, 3, H, W) or (3, H, W) float tensor in [0, 1] to (H, W, 3) uint8.

    Values are clamped to [0, 1] and rounded (not truncated) so that
    ``tensor_to_image(image_to_tensor(x))`` reproduces ``x`` exactly; NaN becomes 0.
    """
    if not isinstance(tensor, torch.Tensor):
        raise ValueError(f"tensor_to_image expects a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise ValueError(
            f"tensor_to_image expects a floating-point tensor in [0, 1], got dtype {tensor.dtype}"
        )
    shape = tuple(tensor.shape)
    if tensor.dim() == 4 and shape[0] == 1:
        tensor = tensor[0]
    if tensor.dim() != 3 or tensor.shape[0] != 3:
        raise ValueError(
            f"tensor_to_image expects a (1, 3, H, W) or (3, H, W) tensor, got shape {shape}"
        )
    values = torch.nan_to_num(tensor.detach().to("cpu", torch.float32), nan=0.0)
    pixels = torch.round(values.clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    return np.ascontiguousarray(pixels.permute(1, 2, 0).numpy())


def save_gif(
    path: PathLike,
    frames: Sequence[np.ndarray],
    duration_ms: Union[int, Sequence[int]] = 100,
    loop: int = 0,
) -> None:
    """Save uint8 RGB frames as an animated GIF (``loop=0`` repeats forever); ``duration_ms`` is
    one duration for every frame, or a list with one per frame.

    Meant for quick visual inspection of interpolated sequences; GIF's 256-colour
    palette makes it unsuitable for anything quantitative.  Note that Pillow merges
    consecutive identical frames into one longer frame.
    """
    frame_list = list(frames)
    if len(frame_list) < 1:
        raise ValueError("save_gif expects at least 1 frame, got 0")
    durations = list(duration_ms) if isinstance(duration_ms, (list, tuple)) else [duration_ms]
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in durations) or (
        len(durations) > 1 and len(durations) != len(frame_list)
    ):
        raise ValueError(
            f"save_gif expects a non-negative integer duration_ms (or one per frame), got {duration_ms!r}"
        )
    if isinstance(loop, bool) or not isinstance(loop, int) or loop < 0:
        raise ValueError(f"save_gif expects a non-negative integer loop count, got {loop!r}")
    checked = [_validate_frame(frame, "save_gif") for frame in frame_list]
    size = checked[0].shape[:2]
    for index, frame in enumerate(checked):
        if frame.shape[:2] != size:
            raise ValueError(
                f"save_gif expects all frames to be {size[0]}x{size[1]}, "
                f"frame {index} is {frame.shape[0]}x{frame.shape[1]}"
            )
    images = [Image.fromarray(frame).convert("RGB") for frame in checked]
    with atomic_writer(path) as handle:
        images[0].save(
            handle,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=duration_ms if isinstance(duration_ms, int) else list(duration_ms),
            loop=loop,
        )
