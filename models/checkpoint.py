"""Loading IFRNet weights from the files found in the wild, and choosing which weights a tool loads.

Accepted: the authors' state_dicts, this project's training checkpoints (weights under ``"model"``),
``"state_dict"``/``"model_state_dict"`` wrappers, ``module.`` (DDP) and ``_orig_mod.`` (torch.compile)
prefixes; anything else is refused in one sentence. :func:`resolve_weights` decides for every tool.
"""
from __future__ import annotations

import contextlib
import hashlib
import re
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence, Union

import torch

from models.downloads import (OFFLINE_VARIABLE, Downloader, FetchError, check_recorded_sum, downloads_disabled,
                              read_sums, record_sum, sha256_of)
from models.network import WIDTHS, IFRNet
from models.published import PUBLISHED_CHECKPOINTS, PUBLISHED_FOLDER_URL, PublishedCheckpoint, checkpoint_sources, find_published
from utils.atomic import NAME_MAX
from utils.download import display_url, is_url
from utils.errors import InputError
from utils.weights_file import WeightsFileError, load_weights_file

__all__ = ["CheckpointError", "CHECKPOINT_DIR", "URL_CACHE", "published_checkpoint_path", "STARTER_CHECKPOINT",
           "STARTER_MODEL_NAME", "ResolvedWeights", "resolve_weights", "download_published", "published_problem",
           "verify_weights_file", "extract_state_dict", "detect_variant", "load_checkpoint"]

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
URL_CACHE = "from_url"  # under CHECKPOINT_DIR: checkpoints given to --checkpoint as URLs

_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")


class CheckpointError(InputError):
    """A checkpoint that cannot be used, with a one-line explanation fit for a CLI error."""


def published_checkpoint_path(model_name: str, dataset: str = "Vimeo90K", root: Optional[Path] = None) -> Path:
    """Where the authors' release keeps a variant's weights, e.g. checkpoints/IFRNet_large/IFRNet_L_GoPro.pth."""
    return (Path(root) if root is not None else CHECKPOINT_DIR) / find_published(model_name, dataset).path


# Weights trained by this project on redistributable footage (checkpoints/starter/README.md), the fallback.
STARTER_MODEL_NAME = "IFRNet_S"
STARTER_CHECKPOINT = Path("starter") / "IFRNet_S_starter.pth"  # relative to CHECKPOINT_DIR


class ResolvedWeights(NamedTuple):
    """Which variant to build and which file to load, with a note for the user if it fell back."""

    model_name: str
    path: Path
    note: Optional[str]


def resolve_weights(
    model_name: str,
    checkpoint: Optional[Union[str, Path]] = None,
    dataset: Union[str, Sequence[str]] = "Vimeo90K",
    *,
    starter: Optional[Path] = None,
    other_variant: bool = False,
    offline: bool = False,
    progress: bool = True,
) -> ResolvedWeights:
    """The weights a tool should load, decided here for every tool: 1. ``checkpoint`` (a path, or an http(s)
    URL downloaded once into ``checkpoints/from_url/`` and verified); 2. the published checkpoint of the
    variant for ``dataset``, or for the first of several datasets that can be had (a note when not the
    first), downloaded when missing unless ``offline``/``IFRNET_OFFLINE=1``, refused if its SHA-256
    differs from the one recorded; 3. the starter weights (an IFRNet_S) with a note: for IFRNet_S,
    and for another variant only with ``other_variant=True``, the command-line tools' explicit
    choice (a library call never gets another architecture than it named). Without a fallback a
    failed download raises, and with downloads off the published path is returned (loading it says
    how to get it).
    """
    if checkpoint is not None:
        if is_url(checkpoint):
            return ResolvedWeights(model_name, _cached_url_checkpoint(str(checkpoint), offline, progress), None)
        return ResolvedWeights(model_name, Path(checkpoint), None)
    entries = [find_published(model_name, name) for name in ((dataset,) if isinstance(dataset, str) else dataset)]
    preferred = entries[0]
    starter = CHECKPOINT_DIR / STARTER_CHECKPOINT if starter is None else Path(starter)
    can_fall_back = starter.is_file() and (other_variant or model_name == STARTER_MODEL_NAME)
    offline = downloads_disabled(offline)
    why, first_error = f"downloads are off: {OFFLINE_VARIABLE}=1 or --offline", None
    for entry in entries:
        path = _present_published(entry)
        if path is None and not offline:
            try:
                path = download_published(entry, progress=progress)
            except FetchError as error:
                if first_error is None:
                    first_error, why = error, str(error)
        if path is not None:
            return ResolvedWeights(model_name, path, None if entry is preferred else _instead_note(preferred, entry, why))
    if first_error is not None and not can_fall_back:
        raise first_error
    published = CHECKPOINT_DIR / preferred.path
    if not can_fall_back:
        return ResolvedWeights(model_name, published, None)
    # One short line: the run goes on, so the user must see at once that these are not the paper's weights.
    note = (
        f"{published} not found ({why}); running the starter weights instead ({STARTER_MODEL_NAME}, much weaker "
        f"than the paper's); to get the paper's: {_download_command(preferred)}"
    )
    return ResolvedWeights(STARTER_MODEL_NAME, starter, note)


def _present_published(entry: PublishedCheckpoint) -> Optional[Path]:
    """The published file of ``entry`` when it is on disk (refused if it changed since its download)."""
    path = CHECKPOINT_DIR / entry.path
    if problem := path.is_file() and check_recorded_sum(CHECKPOINT_DIR, entry.path):
        raise CheckpointError(f"{problem}; download it again with {_download_command(entry)}")
    return path if path.is_file() else None


def _instead_note(preferred: PublishedCheckpoint, used: PublishedCheckpoint, why: str) -> str:
    """The note for running another dataset's published weights than the preferred ones."""
    caveat = {"Vimeo90K": " (trained for t = 1/2 only: other timesteps by bisection, to the nearest 1/16)"}.get(used.task, "")
    return (f"{CHECKPOINT_DIR / preferred.path} not found ({why}); running {used.file_name} instead{caveat}; "
            f"to get the {preferred.task} weights: {_download_command(preferred)}")


def _download_command(entry: PublishedCheckpoint) -> str:
    return f"python tools/download_checkpoints.py --variant {entry.variant} --task {entry.task}"


def download_published(entry: PublishedCheckpoint, root: Optional[Path] = None, *, progress: bool = True,
                       downloader: Optional[Downloader] = None) -> Path:
    """Fetch ``entry`` into ``root`` (default: the checkpoints folder) from its first working source;
    pass a ``downloader`` (over the same root) to fetch several files with one archive download."""
    with contextlib.nullcontext(downloader) if downloader else Downloader(root or CHECKPOINT_DIR, progress=progress) as d:
        return d.fetch(entry.path, checkpoint_sources(entry), lambda path: verify_weights_file(path, entry.variant))


def published_problem(entry: PublishedCheckpoint, root: Optional[Path] = None) -> Optional[str]:
    """None when ``entry`` is present under ``root`` and valid (recording its SHA-256 if none was); else why not."""
    root = Path(root or CHECKPOINT_DIR)
    if not (root / entry.path).is_file():
        return "not present"
    problem = check_recorded_sum(root, entry.path)
    if problem is None and entry.path not in read_sums(root):
        try:
            verify_weights_file(root / entry.path, entry.variant)
        except CheckpointError as error:
            return f"{root / entry.path} is not a valid {entry.variant} checkpoint ({error})"
        record_sum(root, entry.path, sha256_of(root / entry.path))
    return problem


def _cached_url_checkpoint(url: str, offline: bool, progress: bool) -> Path:
    """The file at ``url``, downloaded once into ``checkpoints/from_url/<hash of the URL>/<its file name>``;
    a URL naming no file (``.../``, ``.../..``, an encoded slash) is refused rather than written over a folder."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise CheckpointError(f"--checkpoint {display_url(url)} names no file (its path must end in a file name such as model.pth)")
    if (size := len(name.encode())) > NAME_MAX:  # the cached copy keeps the name, which no file system holds
        raise CheckpointError(f"--checkpoint {display_url(url)}: its file name is {size} bytes, over the {NAME_MAX} a file name may have")
    relative = f"{hashlib.sha256(url.encode()).hexdigest()[:16]}/{name}"
    root = CHECKPOINT_DIR / URL_CACHE
    if (root / relative).is_file():
        if problem := check_recorded_sum(root, relative):
            raise CheckpointError(f"{problem}; delete it to download {display_url(url)} again")
        return root / relative
    if downloads_disabled(offline):
        raise CheckpointError(f"--checkpoint {display_url(url)} has not been downloaded yet and downloads are off "
                              f"({OFFLINE_VARIABLE}=1 or --offline)")
    with Downloader(root, progress=progress) as downloader:
        return downloader.fetch(relative, [(display_url(url), url, False)], verify_weights_file)


def extract_state_dict(checkpoint: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """The model weights inside any accepted checkpoint layout, with wrapper prefixes removed."""
    state = next((checkpoint[key] for key in _WRAPPER_KEYS
                  if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get(key), Mapping)), checkpoint)
    if not isinstance(state, Mapping) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError("the file holds no model state_dict (expected a dict of tensors)")
    return {re.sub(r"^(?:module\.|_orig_mod\.)+", "", key): value for key, value in state.items()}


def detect_variant(state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    """Which published width a state_dict belongs to, judged by its first convolution; None if unknown."""
    first = state_dict.get("encoder.pyramid1.0.0.weight")
    shape = tuple(first.shape) if first is not None and first.dim() == 4 else (0, 0)
    return next((name for name, width in WIDTHS.items() if shape[::3] == (width.pyramid[0], width.first_kernel)), None)


def _fit_problem(own: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor], model_label: str) -> Optional[str]:
    """Why ``state_dict`` cannot be loaded strictly into a model with state ``own``; None when it can."""
    details = [f"{len(keys)} {label} (e.g. {keys[0]})" for label, keys in (
        ("missing", [k for k in own if k not in state_dict]),
        ("unexpected", [k for k in state_dict if k not in own]),
        ("wrong shape", [k for k in own if k in state_dict and state_dict[k].shape != own[k].shape])) if keys]
    if details:
        return f"does not fit {model_label}: {'; '.join(details)}"
    for key, value in state_dict.items():
        if own[key].is_floating_point() and not value.is_floating_point():  # load_state_dict would cast it silently
            return (f"stores {key} as {value.dtype}, but the model's weights are floating point "
                    f"(a file converted wrongly or not IFRNet weights)")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return f"holds NaN or Inf values in {key}: the weights are unusable (a diverged training run or a damaged file)"
    return None


def load_checkpoint(model: IFRNet, path: Union[str, Path], *, map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """Load weights from ``path`` into ``model`` (strictly) and return the whole checkpoint dict; else
    :class:`CheckpointError` in one sentence: a missing file, one that is no checkpoint (damaged, or holding
    code), another IFRNet width, weights that do not fit, integer or NaN/Inf weights (naming the tensor)."""
    path = Path(path)
    if not path.is_file():
        entry = next((e for e in PUBLISHED_CHECKPOINTS if e.file_name == path.name), None)
        hint = "" if entry is None else (f"; run {_download_command(entry)}, or download {path.name} from the authors' "
                                         f"folder {PUBLISHED_FOLDER_URL} and put it there")
        raise CheckpointError(f"checkpoint not found: {path}{hint}")
    try:
        checkpoint = load_weights_file(path, map_location)
    except WeightsFileError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from None
    try:
        state_dict = extract_state_dict(checkpoint)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None
    expected = next((name for name, width in WIDTHS.items() if width == getattr(model, "width", None)), None)
    found = detect_variant(state_dict)
    if expected is not None and found is not None and expected != found:
        raise CheckpointError(f"{path} holds {found} weights but the model is {expected}: pass --model_name {found} "
                              f"or an {expected} checkpoint")
    if problem := _fit_problem(model.state_dict(), state_dict, expected or type(model).__name__):
        raise CheckpointError(f"{path} {problem}")
    model.load_state_dict(state_dict, strict=True)
    return checkpoint if isinstance(checkpoint, dict) else {"model": state_dict}


def verify_weights_file(path: Union[str, Path], variant: Optional[str] = None) -> str:
    """The check of every download before it is moved into place: ``path`` loads with ``weights_only=True``
    and fits ``variant`` (when given) strictly, every tensor of the shape its width gives (so its parameter
    count too), with finite values; returns the variant, else raises :class:`CheckpointError`."""
    try:
        state_dict = extract_state_dict(load_weights_file(path))
    except WeightsFileError as error:
        raise CheckpointError(str(error)) from None
    found = detect_variant(state_dict)
    if found is None:
        raise CheckpointError("it holds no IFRNet weights of a known width")
    if variant is not None and found != variant:
        raise CheckpointError(f"it holds {found} weights, not {variant}")
    with torch.device("meta"):  # shapes and dtypes only: no memory, no initialisation
        own = IFRNet(WIDTHS[found]).state_dict()
    if problem := _fit_problem(own, state_dict, found):
        raise CheckpointError(f"it {problem}")
    return found
