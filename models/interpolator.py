"""A ready-to-use frame interpolator: uint8 frames in, uint8 frames out, any frame size.

It owns what every caller of IFRNet would otherwise repeat: choosing the device, padding the
frames to what the network accepts and cropping back, running several timesteps of one pair in a
single batched call, channels-last on CUDA, test-time augmentation and rounding back to 8 bits.
Which network, weights, inference path and precision run is the model's (``models.create_model``;
:meth:`Interpolator.load` builds the tools' choice: the memory-lean model). The demos, the video
tool, the web app and ``hubconf.py`` all go through it.
"""
from __future__ import annotations

import logging
import numbers
from fractions import Fraction
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from models.downloads import sha256_of
from models.factory import PUBLISHED, create_model
from models.network import Fields, IFRNet
from models.timestep_policy import BisectionPlan, approximation_note, choose_mode, honours_timestep, plan_bisection
from models.tta import DEFAULT_TTA, TRANSFORMS, averaged_inference
from utils.device import resolve_device
from utils.errors import InputError
from utils.image_io import image_to_tensor, tensor_to_image
from utils.padding import InputPadder, pad_multiple_for_scale  # re-exported: callers import it here

__all__ = [
    "Interpolator",
    "ScaleSetting",
    "AUTO_SCALE_CHOICES",
    "AUTO_SCALE_PIXEL_BUDGET",
    "TOOLS_BATCH_SIZE",
    "auto_scale_factor",
    "check_same_size",
    "pad_multiple_for_scale",
]

# The flow network is run on at most about this many pixels when the scale is "auto": a 1080p
# frame (padded to 1920x1088) still runs at full resolution, a 4K frame at 0.5, 8K at 0.25.
AUTO_SCALE_PIXEL_BUDGET = 1920 * 1088
AUTO_SCALE_CHOICES = (1.0, 0.5, 0.25)
# Most timesteps per network call in the tools (interpolate_video.py's --batch_size, the web app):
# memory grows with the timesteps of a call, and a video's pair can need hundreds of them.
TOOLS_BATCH_SIZE = 8

log = logging.getLogger("ifrnet.timesteps")

ScaleSetting = Union[float, str]  # a number, or "auto"
TTASetting = Union[bool, Sequence[str]]  # True for the default transforms, or their names


def auto_scale_factor(height: int, width: int, pixel_budget: int = AUTO_SCALE_PIXEL_BUDGET) -> float:
    """The largest of 1, 0.5, 0.25 at which the flow network sees at most ``pixel_budget`` pixels.

    Why: IFRNet was trained on 256x256 crops, so on very large frames the motion in pixels exceeds
    what its coarsest level can capture, and memory grows with the area; running the flow at a
    lower resolution (as the SNU-FILM protocol does with 0.8) fixes both.
    """
    for scale in AUTO_SCALE_CHOICES:
        if height * width * scale * scale <= pixel_budget:
            return scale
    return AUTO_SCALE_CHOICES[-1]


def _parse_scale(scale_factor: ScaleSetting) -> ScaleSetting:
    """Validate a scale setting early: "auto" or a number that gives whole padding multiples."""
    if isinstance(scale_factor, str):
        if scale_factor == "auto":
            return "auto"
        try:
            scale_factor = float(scale_factor)
        except ValueError:
            raise InputError(f"scale_factor must be a number or 'auto', got {scale_factor!r}") from None
    pad_multiple_for_scale(float(scale_factor))
    return float(scale_factor)


def _tta_transforms(tta: TTASetting) -> Tuple[str, ...]:
    """The test-time transforms a ``tta`` setting names: () for none, the default for True; one
    name as a string is that one transform (a string is a sequence of its characters)."""
    if isinstance(tta, bool):
        return tuple(DEFAULT_TTA) if tta else ()
    if isinstance(tta, str):
        tta = (tta,)
    unknown = [name for name in tta if name not in TRANSFORMS]
    if unknown:
        raise InputError(f"unknown test-time transforms {unknown}; choose from {', '.join(sorted(TRANSFORMS))}")
    return tuple(tta)


class Interpolator:
    """Interpolates frames between pairs of uint8 RGB images with a loaded IFRNet.

    ``Interpolator.load("IFRNet").interpolate(f0, f1, [0.5])`` returns the middle frame (the
    published weights, found in the checkout's checkpoints/ folder whatever the current folder);
    ``Interpolator(models.create_model(...))`` wraps a built model. Frames are padded by edge replication (no black border is blended into the flows) and
    cropped back.

    The model runs as it was built: a :class:`~models.lean_inference.LeanIFRNet` (what
    :meth:`load` builds by default, and what large frames need: the plain
    :class:`~models.network.IFRNet` peaks at about 7 GB on a 4K pair on the CPU, the lean one at
    under 3 GB) in its precision, or the plain maths. ``load``'s ``lean`` and ``precision`` are
    :func:`models.create_model`'s, which checks them.

    Options: ``scale_factor`` (a number, or ``"auto"`` to pick one per frame size with
    :func:`auto_scale_factor`); ``batch_size`` (most timesteps per network call, to bound memory;
    ``None`` runs all timesteps of a pair in one call, which encodes the pair once); ``tta``
    (test-time augmentation: each frame is the mean of the model's prediction and the one on the
    pair turned by 180 degrees, see :mod:`models.tta`; about twice the time; a sequence of
    :data:`models.tta.TRANSFORMS` names averages over those instead, as benchmarks/video_tta.py
    compares them; every pass runs the model's own path, so tta stays lean); ``progress``
    (:meth:`load`: False hides the download progress bar of weights fetched on first use).

    cuDNN's autotuner is not switched on here (it is a process-wide setting): scripts that feed
    frames of one size switch it on with :func:`utils.device.autotune_convolutions`.
    """

    def __init__(
        self,
        model: IFRNet,
        device: Union[str, torch.device] = "cpu",
        *,
        scale_factor: ScaleSetting = 1.0,
        batch_size: Optional[int] = None,
        tta: TTASetting = False,
        timesteps: str = "auto",
    ) -> None:
        """Wrap a built model (``models.create_model``); :meth:`load` builds and loads one by name.

        ``model_name``, ``checkpoint`` and ``weights_note`` come from the model's
        ``weights_source`` (set by ``create_model``; None for a model built otherwise).
        ``honours_timestep`` is decided here, once, from the weights.
        """
        self._check_options(scale_factor, batch_size, tta, timesteps)
        source = getattr(model, "weights_source", None)
        self.model_name, self.checkpoint, self.weights_note = source if source is not None else (None, None, None)
        self.device = resolve_device(device) if isinstance(device, str) else device
        self.scale_setting = _parse_scale(scale_factor)
        self.batch_size = batch_size
        self.tta = _tta_transforms(tta)
        self.honours_timestep = honours_timestep(model)
        self.timestep_mode = choose_mode(timesteps, self.honours_timestep)
        # True once the line of note_approximations is said; a caller that says it for the job itself
        # (the driver of a pool, whose workers each hold an interpolator) sets it on the workers' ones.
        self.approximation_noted = False
        self.model = model.to(self.device).eval()
        if self.device.type == "cuda":
            # channels-last lets tensor cores run the convolutions without transposes.
            self.model = self.model.to(memory_format=torch.channels_last)

    @classmethod
    def load(
        cls,
        model_name: str = "IFRNet",
        checkpoint: Optional[Union[str, Path]] = None,
        device: Union[str, torch.device] = "auto",
        *,
        scale_factor: ScaleSetting = 1.0,
        lean: bool = True,
        precision: Union[str, torch.dtype] = "fp32",
        batch_size: Optional[int] = None,
        dataset: Union[str, Sequence[str]] = "Vimeo90K",
        other_variant: bool = False,
        offline: bool = False,
        tta: TTASetting = False,
        timesteps: str = "auto",
        progress: bool = True,
    ) -> "Interpolator":
        """An Interpolator for the named variant with ``checkpoint``'s weights.

        Without ``checkpoint``: the published weights of ``dataset`` (downloaded on first use
        unless ``offline``; several datasets are tried in order, e.g. ``("GoPro", "Vimeo90K")``,
        what :func:`models.timestep_policy.datasets_for` picks for a job's timesteps), else the
        starter weights (an IFRNet_S: for another ``model_name`` only with ``other_variant=True``,
        as the command-line tools ask; without it a missing file raises), in which case
        ``weights_note`` says so (the tools print it). ``lean`` (default True) and ``precision`` ("fp32",
        "bf16" on a CPU with native bfloat16, "fp16" on CUDA, or "auto" for the device's fast
        choice) build the model (:func:`models.create_model`). Options are checked before the
        (slow) load.
        """
        device = resolve_device(device) if isinstance(device, str) else device
        cls._check_options(scale_factor, batch_size, tta, timesteps)
        model = create_model(model_name, weights=PUBLISHED if checkpoint is None else checkpoint, dataset=dataset,
                             other_variant=other_variant, offline=offline, progress=progress, lean=lean,
                             precision=precision, device=device)
        return cls(model, device, scale_factor=scale_factor, batch_size=batch_size, tta=tta, timesteps=timesteps)

    @staticmethod
    def _check_options(scale_factor: ScaleSetting, batch_size: Optional[int], tta: TTASetting, timesteps: str) -> None:
        """Refuse bad options before anything slow happens."""
        _parse_scale(scale_factor)
        _tta_transforms(tta)
        if batch_size is not None and batch_size < 1:
            raise InputError(f"batch_size must be at least 1, got {batch_size}")
        choose_mode(timesteps, honours=True)  # refuses a mode it does not know

    def frame_settings(self) -> Dict[str, object]:
        """What decides the frames this interpolator makes: its settings and the SHA-256 of its
        weights file (None for a model built otherwise), for a resumed job to check it makes the
        same frames as the run it continues."""
        return {"model_name": self.model_name, "weights_sha256": sha256_of(Path(self.checkpoint)) if self.checkpoint else None,
                "precision": str(self.model.precision), "scale_factor": self.scale_setting, "batch_size": self.batch_size,
                "tta": list(self.tta), "timesteps": self.timestep_mode}

    @property
    def timestep_note(self) -> Optional[str]:
        """One line for the user when the weights ignore t (the tools print it), else None."""
        if self.honours_timestep:
            return None
        if self.timestep_mode == "bisect":
            return ("these weights ignore t (trained for t = 1/2 only): the in-between frames are made by "
                    "recursive bisection, each at t = 1/2 between two earlier ones")
        return "these weights ignore t and timesteps=direct was asked: every in-between frame is the middle frame"

    def note_approximations(self, timesteps: Sequence[float]) -> None:
        """Log once, on the first call whose ``timesteps`` bisection cannot reach exactly, which
        time they run at instead and the largest error. A tool that knows all the timesteps of a
        job passes them here first, so that the line gives the job's largest error."""
        if self.timestep_mode != "bisect" or self.approximation_noted:
            return
        note = approximation_note(timesteps)
        if note:
            self.approximation_noted = True
            log.warning("%s", note)

    def scale_for(self, height: int, width: int) -> float:
        """The scale the flow network runs at for frames of this size."""
        return auto_scale_factor(height, width) if self.scale_setting == "auto" else self.scale_setting

    def _to_device(self, frame: np.ndarray) -> torch.Tensor:
        tensor = image_to_tensor(frame)
        if self.device.type == "cuda":
            tensor = tensor.pin_memory().to(self.device, non_blocking=True)
            return tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    @torch.inference_mode()
    def interpolate(
        self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Union[float, Sequence[float]]
    ) -> List[np.ndarray]:
        """The frames at each of ``timesteps`` (0 <= t <= 1; a single number is one timestep)
        between two HxWx3 uint8 RGB numpy frames; a list of frames comes back either way.

        All timesteps run in one batched call that encodes the pair once (in chunks of
        ``batch_size`` when that is set and exceeded). Output that is not finite (weights that
        overflow) raises InputError rather than coming back as black frames.
        """
        return self._run(frame0, frame1, timesteps, with_fields=False)[0]

    @torch.inference_mode()
    def interpolate_with_fields(
        self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float]
    ) -> Tuple[List[np.ndarray], List[Fields]]:
        """:meth:`interpolate`, plus for each frame the :class:`~models.network.Fields` it was merged
        from, one per frame without the batch dimension (float32 on the CPU, cropped to the frames'
        size, flows in pixels): what the
        visualisations of ``demo_2x.py --visualize`` and the web app draw."""
        if self.tta:  # a test-time averaged frame is not merged from one set of fields
            raise InputError("the fields of a frame cannot be shown with test-time augmentation (tta): drop one of the two")
        return self._run(frame0, frame1, timesteps, with_fields=True)

    def _run(
        self, frame0: np.ndarray, frame1: np.ndarray, timesteps: Sequence[float], *, with_fields: bool
    ) -> Tuple[List[np.ndarray], List[Fields]]:
        for name, frame in (("frame0", frame0), ("frame1", frame1)):
            if not isinstance(frame, np.ndarray):
                raise TypeError(f"{name} must be a numpy array (HxWx3 uint8 RGB), got {type(frame).__name__}"
                                f"{'; tensors go to model.inference' if torch.is_tensor(frame) else ''}")
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise InputError(f"{name} must be an HxWx3 uint8 RGB image, got {frame.dtype} {frame.shape}")
        check_same_size(frame0.shape[:2], frame1.shape[:2])
        timesteps = _timestep_list(timesteps)
        if not timesteps or not all(0.0 <= t <= 1.0 for t in timesteps):
            raise InputError(f"timesteps must be a non-empty list of values in [0, 1], got {timesteps}")
        scale = self.scale_for(frame0.shape[0], frame0.shape[1])
        img0, img1 = self._to_device(frame0), self._to_device(frame1)
        padder = InputPadder(img0.shape, multiple=pad_multiple_for_scale(scale), mode="replicate")
        img0, img1 = padder.pad(img0, img1)
        if self.timestep_mode == "bisect":
            self.note_approximations(timesteps)
            return self._bisect(img0, img1, padder, scale, plan_bisection(timesteps), with_fields)
        chunk = self.batch_size or len(timesteps)
        frames: List[np.ndarray] = []
        fields: List[Fields] = []
        for start in range(0, len(timesteps), chunk):
            embt = torch.tensor(timesteps[start : start + chunk], dtype=torch.float32, device=self.device).view(-1, 1, 1, 1)
            preds, chunk_fields = self._predict(img0, img1, embt, scale, padder, with_fields)
            frames.extend(tensor_to_image(pred) for pred in padder.unpad(preds).cpu())
            fields.extend(chunk_fields)
        return frames, fields

    def _predict(self, img0: torch.Tensor, img1: torch.Tensor, embt: torch.Tensor, scale: float, padder: InputPadder,
                 with_fields: bool) -> Tuple[torch.Tensor, List[Fields]]:
        """One network call: the padded float32 frames, and with ``with_fields`` each frame's
        :class:`Fields`, cropped and on the CPU."""
        fields: List[Fields] = []
        if self.tta:
            preds = averaged_inference(self.model, img0, img1, embt, scale, self.tta)
        else:
            preds = self.model.inference(img0, img1, embt, scale_factor=scale, return_fields=with_fields)
        if with_fields:
            preds, chunk_fields = preds
            cropped = [padder.unpad(field.float()).cpu() for field in chunk_fields]
            fields = [Fields(*parts) for parts in zip(*cropped)]
        preds = preds.float()
        if not bool(torch.isfinite(preds).all()):  # rounding would turn NaN into black frames
            raise InputError(f"the network's output is not finite (NaN or Inf): the weights "
                             f"({self.checkpoint or 'the model given'}) are probably diverged or corrupt")
        return preds, fields

    def _bisect(self, img0: torch.Tensor, img1: torch.Tensor, padder: InputPadder, scale: float, plan: BisectionPlan,
                with_fields: bool) -> Tuple[List[np.ndarray], List[Fields]]:
        """The frames at ``plan.targets``, level by level, each level's midpoints in batches of
        ``batch_size`` pairs at t = 1/2. A made frame is an input of the next level as a direct
        call would see a frame: cropped and padded again by edge replication. Only the frames the
        next levels need are kept. The fields of a frame are those of the call that made it (its
        flows point to the two frames it was made from); an input frame itself has zero flows, a
        mask that takes all of it, and no residual."""
        known: Dict[Fraction, torch.Tensor] = {Fraction(0): img0, Fraction(1): img1}
        wanted = set(plan.targets)
        frames: Dict[Fraction, np.ndarray] = {}
        fields: Dict[Fraction, Fields] = {}
        for end, image in known.items():
            if end in wanted:
                frames[end] = tensor_to_image(padder.unpad(image)[0].cpu())
                if with_fields:
                    fields[end] = _input_fields(frames[end].shape[:2], taken_from_img0=end == 0)
        chunk = self.batch_size or max((len(level) for level in plan.levels), default=1)
        for depth, steps in enumerate(plan.levels, start=1):
            for start in range(0, len(steps), chunk):
                batch = steps[start : start + chunk]
                before = torch.cat([known[step.before] for step in batch])
                after = torch.cat([known[step.after] for step in batch])
                embt = torch.full((len(batch), 1, 1, 1), 0.5, dtype=torch.float32, device=self.device)
                preds, batch_fields = self._predict(before, after, embt, scale, padder, with_fields)
                for index, (step, pred) in enumerate(zip(batch, padder.unpad(preds))):
                    if step.time in wanted:
                        frames[step.time] = tensor_to_image(pred.cpu())
                        if with_fields:
                            fields[step.time] = batch_fields[index]
                    known[step.time] = padder.pad(pred[None])
            needed = plan.needed_after(depth)
            known = {t: image for t, image in known.items() if t in needed}
        return [frames[t] for t in plan.targets], [fields[t] for t in plan.targets] if with_fields else []


def _input_fields(size: Tuple[int, int], *, taken_from_img0: bool) -> Fields:
    """The fields that give an input frame itself: no motion, all of it from that frame, no residual."""
    height, width = size
    zeros = torch.zeros(2, height, width)
    return Fields(zeros, zeros.clone(), torch.full((1, height, width), 1.0 if taken_from_img0 else 0.0),
                  torch.zeros(3, height, width))


def check_same_size(size0: Sequence[int], size1: Sequence[int]) -> None:
    """Refuse two frames of different (height, width): the one rule, also asked by the web app
    from the images' headers, so that a mismatched pair is refused before the model is loaded."""
    if tuple(size0) != tuple(size1):
        raise InputError(f"the two frames differ in size: {size0[1]}x{size0[0]} and {size1[1]}x{size1[0]} "
                         "(width x height); resize one to match")


def _timestep_list(timesteps: Union[float, Sequence[float]]) -> List[float]:
    """``timesteps`` as a list of floats: a single number is one timestep; anything else that is
    not a sequence of numbers is refused by name."""
    if isinstance(timesteps, numbers.Real) or (isinstance(timesteps, np.ndarray) and timesteps.ndim == 0):
        return [float(timesteps)]
    if torch.is_tensor(timesteps):
        timesteps = timesteps.flatten().tolist()
    try:
        return [float(t) for t in timesteps]
    except (TypeError, ValueError):
        raise TypeError(f"timesteps must be a number or a sequence of numbers in [0, 1], got {timesteps!r:.80}") from None
