"""Vimeo90K triplets (Xue et al. 2019) with optional pseudo-label flows, in the reference's layout.

    <root>/tri_trainlist.txt, tri_testlist.txt      one "<seq>/<id>" per line
    <root>/sequences/<seq>/<id>/im1.png im2.png im3.png
    <root>/flow/<seq>/<id>/flow_t0.flo flow_t1.flo   (from generate_flow.py; training with flow loss)

``root`` is the ``vimeo_triplet`` folder. Every listed file is checked when the dataset is built,
so a missing triplet or flow label fails at start-up with its path rather than hours into training.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from datasets.augment import (
    AugmentProbabilities,
    Clip,
    frames_to_float,
    random_augment,
    require_crop_fits,
    sample_generator,
)
from utils.errors import InputError
from utils.flow_io import read_flo
from utils.image_io import image_size, read_image

__all__ = [
    "VIMEO_SPLIT_FILES",
    "FRAME_NAMES",
    "FLOW_NAMES",
    "parse_triplet_list",
    "read_triplet_list",
    "triplet_paths",
    "require_files",
    "Vimeo90KTriplets",
]

VIMEO_SPLIT_FILES = {"train": "tri_trainlist.txt", "test": "tri_testlist.txt"}
FRAME_NAMES = ("im1.png", "im2.png", "im3.png")
FLOW_NAMES = ("flow_t0.flo", "flow_t1.flo")

Item = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def parse_triplet_list(lines: Sequence[str]) -> List[str]:
    """The "<seq>/<id>" names of a list file's lines, in order.

    Blank and one-character lines are skipped, as the authors do: the official lists end with
    blank lines.
    """
    names = [line.strip() for line in lines]
    return [name for name in names if len(name) > 1]


def read_triplet_list(root: Union[str, Path], split: str) -> List[str]:
    """The "<seq>/<id>" names listed for a split; InputError if the list is missing or empty."""
    if split not in VIMEO_SPLIT_FILES:
        raise ValueError(f"split must be one of {', '.join(VIMEO_SPLIT_FILES)}, got {split!r}")
    list_path = Path(root) / VIMEO_SPLIT_FILES[split]
    if not list_path.is_file():
        raise InputError(
            f"Vimeo90K list not found: {list_path}; --data_root must be the vimeo_triplet folder holding "
            f"{VIMEO_SPLIT_FILES['train']} and {VIMEO_SPLIT_FILES['test']}"
        )
    try:
        text = list_path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"cannot read Vimeo90K list {list_path}: it is not text") from None
    except OSError as error:
        raise InputError(f"cannot read Vimeo90K list {list_path}: {error.strerror or error}") from None
    names = parse_triplet_list(text.splitlines())
    if not names:
        raise InputError(f"the {split} split is empty: {list_path} lists no triplets")
    return names


def triplet_paths(root: Union[str, Path], name: str) -> Tuple[List[Path], List[Path]]:
    """The three frame paths and the two flow-label paths of the triplet ``name``."""
    root = Path(root)
    frames = [root / "sequences" / name / frame for frame in FRAME_NAMES]
    flows = [root / "flow" / name / flow for flow in FLOW_NAMES]
    return frames, flows


def require_files(paths: Sequence[Path], what: str, hint: str = "") -> None:
    """Raise one line naming the first of ``paths`` that is missing (and how many more are)."""
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"{what} missing: {missing[0]}{more}{hint}")


class Vimeo90KTriplets(Dataset):
    """Items ``(img0, imgt, img1, flow, embt)``: float tensors, frames (3, H, W) in [0, 1], RGB.

    ``flow`` is (4, H, W) (flow t->0 then t->1, pixels) with ``with_flow=True``, else (0, H, W):
    no channels, so batches collate the same way either way. ``embt`` is (1, 1, 1) = 0.5.

    ``augment`` (default: on for the train split) applies :func:`datasets.augment.random_augment`
    with a ``crop_size`` (height, width) crop; the draw depends only on (seed, epoch, index), so
    call :meth:`set_epoch` each epoch. Without augmentation frames are returned whole.
    """

    def __init__(
        self,
        root: Union[str, Path],
        split: str = "train",
        *,
        with_flow: bool = False,
        augment: Optional[bool] = None,
        crop_size: Tuple[int, int] = (224, 224),
        seed: int = 0,
        probabilities: AugmentProbabilities = AugmentProbabilities(),
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.with_flow = with_flow
        self.augment = split == "train" if augment is None else augment
        self.crop_size = tuple(crop_size)
        self.seed = seed
        self.epoch = 0
        self.probabilities = probabilities
        self.names = read_triplet_list(self.root, split)
        self.frame_paths, self.flow_paths = zip(*(triplet_paths(self.root, name) for name in self.names))
        require_files([p for paths in self.frame_paths for p in paths], f"Vimeo90K {split} frame")
        if with_flow:
            require_files(
                [p for paths in self.flow_paths for p in paths],
                f"flow label for the {split} split",
                f"; run generate_flow.py --data_root {self.root} first, or train with --flow_loss off",
            )
        if self.augment:
            first = self.frame_paths[0][0]
            height, width = image_size(first)
            require_crop_fits(self.crop_size, (height, width), first)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of ``epoch`` (call before iterating, like DistributedSampler)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.names)

    def _read_flows(self, index: int, size: Tuple[int, int]) -> torch.Tensor:
        flows = []
        for path in self.flow_paths[index]:
            try:
                flow = read_flo(path)
            except (OSError, ValueError) as error:
                raise InputError(f"cannot read flow label {path}: {error}") from None
            if flow.shape[:2] != size:
                raise InputError(f"flow label {path} is {flow.shape[0]}x{flow.shape[1]} but its frames are {size[0]}x{size[1]}")
            flows.append(flow)
        return torch.from_numpy(np.concatenate(flows, 2)).permute(2, 0, 1).unsqueeze(0)

    def __getitem__(self, index: int) -> Item:
        images = [read_image(p) for p in self.frame_paths[index]]
        if any(image.shape != images[0].shape for image in images):
            raise InputError(f"the frames of {self.root / 'sequences' / self.names[index]} differ in size")
        frames = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)
        size = tuple(frames.shape[2:])
        flows = self._read_flows(index, size) if self.with_flow else None
        clip = Clip(frames, flows)
        if self.augment:
            require_crop_fits(self.crop_size, size, self.frame_paths[index][0])
            clip = random_augment(clip, self.crop_size, sample_generator(self.seed, self.epoch, index), self.probabilities)
        frames = frames_to_float(clip.frames)
        height, width = frames.shape[2:]
        flow = clip.flows[0].float().contiguous() if clip.flows is not None else torch.zeros(0, height, width)
        embt = torch.full((1, 1, 1), 0.5)
        return frames[0].contiguous(), frames[1].contiguous(), frames[2].contiguous(), flow, embt
