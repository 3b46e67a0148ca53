"""GoPro (Nah et al. 2017) sharp frames as 8x interpolation windows, in the reference's protocol.

    <root>/train/<video>/<frame>.png    (any image extension; frames sorted by file name)
    <root>/test/<video>/<frame>.png

Videos are found by listing ``<root>/<split>``, so the official split and your own footage work
alike. Each video is cut into windows of ``factor + 1`` frames with stride ``factor`` (9 and 8 for
8x): frames 0 and 8 are the inputs, frames 1..7 the targets at t = k/8. Training windows get the
reference's augmentations (no flows, unless ``flow_labels`` asks for DIS labels computed on each
training crop, :data:`FLOW_LABEL_KINDS`); test windows a centre crop (512x512 in the paper's protocol).
With ``spans``, each training item is instead one target of a sub-window: several factors (2x, 4x
and 8x) are trained at once from the same windows.
A gap in a video's numbered frames, or a frame that cannot be opened, stops at start-up
(:func:`check_video_frames`).
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from datasets.augment import (
    AugmentProbabilities,
    Clip,
    center_crop,
    frames_to_float,
    random_augment,
    require_crop_fits,
    sample_generator,
)
from utils.errors import InputError
from utils.image_io import image_files, image_size, read_image

__all__ = ["list_videos", "check_video_frames", "video_windows", "GoProWindows", "FLOW_LABEL_KINDS"]

# Pseudo labels GoProWindows can compute on each training crop: "dis", OpenCV DIS from each target
# to the two inputs (as Vimeo90K's labels); "dis_linear", DIS between the inputs carried to t.
FLOW_LABEL_KINDS = ("dis", "dis_linear")


Item = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def list_videos(root: Union[str, Path], split: str) -> List[Path]:
    """The video folders of a split, sorted by name; InputError if the split folder is missing or empty."""
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise InputError(f"GoPro split folder not found: {split_dir}; --data_root must hold train/ and test/ folders of videos")
    videos = sorted(path for path in split_dir.iterdir() if path.is_dir())
    if not videos:
        raise InputError(f"the {split} split is empty: {split_dir} holds no video folders")
    return videos


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def check_video_frames(frames: Sequence[Path]) -> Tuple[int, int]:
    """Stop on a missing or unreadable frame of one video; returns the frames' (height, width).

    Windows are cut by position, so one missing frame would silently shift every later window's
    targets off their times (and a 9-frame video would vanish). When every name ends in a number
    with one common prefix (``000001.png``, ``frame_12.png``), the numbers must rise by one common
    step in name order: a gap names the missing file. Each frame's header is opened here (cheap:
    no pixels are decoded), so a file that is not an image, or of another size, stops the run at
    start-up rather than hours into it.
    """
    if not frames:
        raise ValueError("expected at least one frame")
    matches = [_NUMBERED.match(path.stem) for path in frames]
    if len(frames) > 1 and all(matches) and len({m.group(1) for m in matches}) == 1:
        numbers = [int(m.group(2)) for m in matches]
        steps = [after - before for before, after in zip(numbers, numbers[1:])]
        for index, gap in enumerate(steps):
            if gap <= 0:
                raise InputError(
                    f"frames {frames[index]} and {frames[index + 1].name} are numbered {numbers[index]} and "
                    f"{numbers[index + 1]}: frames are taken in name order, so zero-pad the numbers (one frame per number)"
                )
        step = Counter(steps).most_common(1)[0][0]
        for index, gap in enumerate(steps):
            if gap == step:
                continue
            before, after = frames[index], frames[index + 1]
            if gap % step == 0:
                digits = matches[index].group(2)
                name = f"{matches[index].group(1)}{numbers[index] + step:0{len(digits)}d}{before.suffix}"
                raise InputError(f"missing frame {before.parent / name} (between {before.name} and {after.name})")
            raise InputError(
                f"frames {before} and {after.name} are numbered {numbers[index]} and {numbers[index + 1]}, "
                f"out of step with the video's other frames (every {step})"
            )
    size = image_size(frames[0])
    for path in frames[1:]:
        height, width = image_size(path)
        if (height, width) != size:
            raise InputError(f"frame {path} is {width}x{height} but {frames[0].name} is {size[1]}x{size[0]}")
    return size


def video_windows(frames: List[Path], factor: int = 8) -> List[List[Path]]:
    """Windows of ``factor + 1`` consecutive frames starting every ``factor`` frames (the last frame is shared)."""
    length = factor + 1
    if len(frames) < length:
        return []
    count = (len(frames) - length) // factor + 1
    return [frames[factor * i : factor * i + length] for i in range(count)]


class GoProWindows(Dataset):
    """Items ``(img0, imgt, img1, flow, embt)`` of an 8x window (``factor`` = 8).

    ``img0``/``img1`` (3, H, W) are the window's first and last frames; ``imgt`` (factor - 1, 3, H, W)
    the frames between them; ``embt`` (factor - 1, 1, 1, 1) their times k / factor; ``flow``
    (0, H, W) is empty (GoPro is trained without flow labels), kept so every dataset's items look
    alike. ``flow_labels='dis'`` (training only, not the paper's recipe) fills it with pseudo labels
    as Vimeo90K's, one (4, H, W) pair per target (t->0 then t->1): OpenCV's DIS flow from each target
    to the two inputs, computed on the augmented crop (so no flow has to follow a flip or a time
    reversal), a few milliseconds per pair at 224x224. ``flow_labels='dis_linear'`` instead takes
    DIS between the two inputs only and carries it to each t by linear motion
    (:func:`models.flow_estimators.middle_flows`): the flows the DIS-at-t baseline warps with, which
    never see the target, so a target one frame from an input is not labelled from a sub-pixel
    flow estimated over that one frame. Training items are augmented with a ``crop_size`` crop (reversed time reverses the
    targets, so each target keeps its time); test items are centre-cropped to ``eval_crop_size``
    (None: whole frames).

    ``spans`` (training only): each item draws a span s from ``spans``, a sub-window of s + 1
    frames inside its (augmented) window and one target j in it; ``imgt`` is (1, 3, H, W) at
    t = j/s. A model trained on the whole windows only sees inputs ``factor`` frames apart, so it
    learns the timestep for one amount of motion; sub-windows give the same t at several motions
    and t = 1/2 of short pairs (2x) next to the 8x targets. Drawn from the item's generator after
    the augmentation, so a resumed run sees the same items.
    """

    def __init__(
        self,
        root: Union[str, Path],
        split: str = "train",
        *,
        factor: int = 8,
        augment: Optional[bool] = None,
        crop_size: Tuple[int, int] = (224, 224),
        eval_crop_size: Optional[Tuple[int, int]] = (512, 512),
        seed: int = 0,
        probabilities: AugmentProbabilities = AugmentProbabilities(),
        spans: Optional[Sequence[int]] = None,
        flow_labels: Optional[str] = None,
    ) -> None:
        if factor < 2:
            raise ValueError(f"factor must be at least 2, got {factor}")
        if spans is not None and (not spans or any(not 2 <= span <= factor for span in spans)):
            raise InputError(f"spans {list(spans)} must each be between 2 and the factor, {factor} (frames from a sub-window's first to its last)")
        self.root = Path(root)
        self.split = split
        self.factor = factor
        self.augment = split == "train" if augment is None else augment
        self.crop_size = tuple(crop_size)
        self.eval_crop_size = None if eval_crop_size is None else tuple(eval_crop_size)
        self.seed = seed
        self.epoch = 0
        self.probabilities = probabilities
        self.spans = None if spans is None else tuple(int(span) for span in spans)
        if flow_labels not in (None, *FLOW_LABEL_KINDS):
            raise InputError(f"unknown flow labels {flow_labels!r}; expected {' or '.join(map(repr, FLOW_LABEL_KINDS))} or none")
        if flow_labels is not None:
            try:
                import cv2  # noqa: F401 (checked here, at start-up, not at the first batch in a worker)
            except ImportError:
                raise InputError(f"--flow_labels {flow_labels} needs OpenCV: pip install opencv-python-headless") from None
        self.flow_labels = flow_labels
        self._estimator = None  # built on first use, in the data worker
        self.windows: List[List[Path]] = []
        for video in list_videos(self.root, split):
            frames = image_files(video)
            if not frames:
                continue
            size = check_video_frames(frames)  # also for short videos: a gap may be why they are short
            windows = video_windows(frames, factor)
            if windows:
                require_crop_fits(self._crop(), size, frames[0])
            self.windows.extend(windows)
        if not self.windows:
            raise InputError(
                f"the {split} split is empty: no video in {self.root / split} has the {factor + 1} frames one window needs"
            )

    def __getstate__(self) -> dict:
        """Without the flow estimator: an OpenCV object does not pickle (spawned data workers build their own)."""
        return {**self.__dict__, "_estimator": None}

    def _crop(self) -> Optional[Tuple[int, int]]:
        return self.crop_size if self.augment else self.eval_crop_size

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> Item:
        paths = self.windows[index]
        images = [read_image(path) for path in paths]
        if any(image.shape != images[0].shape for image in images):
            raise InputError(f"the frames of the window starting at {paths[0]} differ in size")
        clip = Clip(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2))
        require_crop_fits(self._crop(), clip.size, paths[0])
        if self.augment:
            generator = sample_generator(self.seed, self.epoch, index)
            clip = random_augment(clip, self.crop_size, generator, self.probabilities)
            if self.spans is not None:
                return self._sub_window_item(clip.frames, generator)
        elif self.eval_crop_size is not None:
            clip = center_crop(clip, *self.eval_crop_size)
        flow = self._flow_labels(clip.frames, range(1, self.factor), (0, self.factor))
        frames = frames_to_float(clip.frames)
        times = torch.arange(1, self.factor, dtype=torch.float32) / self.factor
        return (
            frames[0].contiguous(),
            frames[1:-1].contiguous(),
            frames[-1].contiguous(),
            flow,
            times.view(-1, 1, 1, 1),
        )

    def _sub_window_item(self, frames: torch.Tensor, generator: torch.Generator) -> Item:
        """One target of a sub-window drawn from ``self.spans`` (frames already augmented, time order kept)."""
        span = self.spans[int(torch.randint(len(self.spans), (1,), generator=generator))]
        start = int(torch.randint(self.factor - span + 1, (1,), generator=generator))
        step = int(torch.randint(1, span, (1,), generator=generator))
        img0, imgt, img1 = frames_to_float(frames[[start, start + step, start + span]])  # only the three used
        return (
            img0.contiguous(),
            imgt.unsqueeze(0).contiguous(),
            img1.contiguous(),
            self._flow_labels(frames, [start + step], (start, start + span)),
            torch.full((1, 1, 1, 1), step / span),
        )

    def _flow_labels(self, frames: torch.Tensor, targets: Sequence[int], ends: Tuple[int, int]) -> torch.Tensor:
        """(len(targets), 4, H, W) flows from each target frame to ``ends`` (t->0, t->1), or the
        empty (0, H, W) without ``flow_labels`` (and for test windows, scored without labels)."""
        height, width = frames.shape[2:]
        if self.flow_labels is None or not self.augment:
            return torch.zeros(0, height, width)
        if self._estimator is None:
            import cv2

            from models.flow_estimators import build_estimator

            if torch.utils.data.get_worker_info() is not None:
                cv2.setNumThreads(1)  # the data workers are the parallelism; OpenCV's threads would oversubscribe
            self._estimator = build_estimator("dis")
        if frames.dtype != torch.uint8:  # the 2x upscale gives float frames in [0, 255]
            frames = frames.round().clamp(0, 255).to(torch.uint8)
        images = frames.permute(0, 2, 3, 1).numpy()
        if self.flow_labels == "dis_linear":
            from models.flow_estimators import middle_flows

            first, last = ends
            flow_01, flow_10 = self._estimator([images[first], images[last]], [images[last], images[first]])
            flows = [flow for target in targets
                     for flow in middle_flows(flow_01, flow_10, (target - first) / (last - first))]
        else:
            sources = [images[target] for target in targets for _ in ends]
            flows = self._estimator(sources, [images[end] for _ in targets for end in ends])
        pairs = np.stack([np.concatenate(flows[i : i + 2], axis=2) for i in range(0, len(flows), 2)])
        return torch.from_numpy(pairs).permute(0, 3, 1, 2).contiguous()
