"""Loading IFRNet weights from the files found in the wild, and choosing which weights a tool loads.

Accepted: the authors' published plain state_dicts, this project's training checkpoints (a dict
with the weights under ``"model"``), the common wrappers (``"state_dict"``, ``"model_state_dict"``)
and keys prefixed by DDP (``module.``) or ``torch.compile`` (``_orig_mod.``). A checkpoint of
another width is recognised from its shapes and refused with one sentence naming both variants;
so are files that are not checkpoints at all and weights holding NaN or Inf.

:func:`resolve_weights` is the one place that decides which file a tool loads: the given
``--checkpoint`` (a path, or an http(s) URL fetched once into a cache), else the published
checkpoint of the variant (downloaded on first use, see :mod:`models.published`), else this
project's starter weights with a note.
"""
from __future__ import annotations

import argparse
import hashlib
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Mapping, NamedTuple, Optional, Sequence, Union

import torch
import torch.nn as nn

from models.downloads import (
    OFFLINE_VARIABLE,
    Downloader,
    FetchError,
    check_recorded_sum,
    downloads_disabled,
    read_sums,
    record_sum,
    sha256_of,
)
from models.network import WIDTHS, IFRNet
from models.published import PUBLISHED_CHECKPOINTS, PUBLISHED_FOLDER_URL, PublishedCheckpoint, find_published
from utils.download import is_url
from utils.errors import InputError
from utils.weights_file import WeightsFileError, load_weights_file

__all__ = [
    "CheckpointError",
    "PUBLISHED_CHECKPOINTS_URL",
    "CHECKPOINT_DIR",
    "URL_CACHE",
    "published_checkpoint_path",
    "STARTER_CHECKPOINT",
    "STARTER_MODEL_NAME",
    "ResolvedWeights",
    "resolve_weights",
    "download_published",
    "published_problem",
    "verify_published",
    "verify_weights_file",
    "extract_state_dict",
    "detect_variant",
    "load_checkpoint",
    "add_weights_arguments",
]

PUBLISHED_CHECKPOINTS_URL = PUBLISHED_FOLDER_URL
CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
URL_CACHE = "from_url"  # under CHECKPOINT_DIR: checkpoints given to --checkpoint as URLs

_WRAPPER_KEYS = ("model", "state_dict", "model_state_dict")
_KEY_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(InputError):
    """A checkpoint that cannot be used, with a one-line explanation fit for a CLI error."""


def published_checkpoint_path(model_name: str, dataset: str = "Vimeo90K", root: Optional[Path] = None) -> Path:
    """Where the authors' release keeps a variant's weights, e.g. checkpoints/IFRNet_large/IFRNet_L_GoPro.pth."""
    return (Path(root) if root is not None else CHECKPOINT_DIR) / find_published(model_name, dataset).path


# Weights trained by this project on redistributable footage (see checkpoints/starter/README.md):
# the fallback when no published checkpoint has been downloaded.
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
    other_variant: bool = True,
    offline: bool = False,
    progress: bool = True,
) -> ResolvedWeights:
    """The weights a tool should load, the one place every tool decides it.

    1. ``checkpoint`` when given (it always wins); an http(s) URL is downloaded once into
       ``checkpoints/from_url/`` and verified, later runs use the cached file.
    2. Else the published checkpoint of the variant and ``dataset`` (or of the first of several
       datasets, in order of preference, that can be had); a missing one is downloaded first
       (progress on stderr), unless ``offline`` or ``IFRNET_OFFLINE=1``. A file whose SHA-256
       differs from the one recorded at download is refused. Another than the first dataset's
       weights come with a note saying so.
    3. Else this project's starter weights (an IFRNet_S, so the variant changes), with a note
       saying so, why, and how to get the published ones.

    ``other_variant=False`` falls back only when the starter is of the requested variant (for
    callers that promise a given architecture: torch.hub entry points, the ONNX export, timing).
    Without a fallback, a failed download raises its error; with downloads off the published
    path is returned and loading it says how to get it.
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
    if not path.is_file():
        return None
    problem = check_recorded_sum(CHECKPOINT_DIR, entry.path)
    if problem:
        raise CheckpointError(f"{problem}; download it again with {_download_command(entry)}")
    return path


def _instead_note(preferred: PublishedCheckpoint, used: PublishedCheckpoint, why: str) -> str:
    """The note for running another dataset's published weights than the preferred ones."""
    caveat = (" (trained for t = 1/2 only: other timesteps are made by bisection, to the nearest 1/16)"
              if used.task == "Vimeo90K" else "")
    return (f"{CHECKPOINT_DIR / preferred.path} not found ({why}); running {used.file_name} instead{caveat}; "
            f"to get the {preferred.task} weights: {_download_command(preferred)}")


def _download_command(entry: PublishedCheckpoint) -> str:
    return f"python tools/download_checkpoints.py --variant {entry.variant} --task {entry.task}"


def download_published(entry: PublishedCheckpoint, root: Optional[Path] = None, *, progress: bool = True,
                       downloader: Optional[Downloader] = None) -> Path:
    """Fetch ``entry`` into ``root`` (default: the checkpoints folder) from its first working source.

    Pass a ``downloader`` (over the same root) to fetch several files with one archive download.
    """
    if downloader is not None:
        return downloader.fetch(entry, lambda path: verify_published(entry, path))
    with Downloader(CHECKPOINT_DIR if root is None else Path(root), progress=progress) as downloader:
        return downloader.fetch(entry, lambda path: verify_published(entry, path))


def published_problem(entry: PublishedCheckpoint, root: Optional[Path] = None) -> Optional[str]:
    """None when ``entry`` is present under ``root`` and valid (recording its SHA-256 if none was); else why not."""
    root = CHECKPOINT_DIR if root is None else Path(root)
    path = root / entry.path
    if not path.is_file():
        return "not present"
    problem = check_recorded_sum(root, entry.path)
    if problem:
        return problem
    if entry.path not in read_sums(root):
        try:
            verify_published(entry, path)
        except CheckpointError as error:
            return f"{path} is not a valid {entry.variant} checkpoint ({error})"
        record_sum(root, entry.path, sha256_of(path))
    return None


def _cached_url_checkpoint(url: str, offline: bool, progress: bool) -> Path:
    """The file at ``url``, downloaded once into ``checkpoints/from_url/<hash of the URL>/``.

    The cached copy keeps the URL's file name, so a URL naming no file (``http://host/dir/``,
    ``.../.``, ``.../..``, or a name with an encoded slash) is refused rather than written over a folder.
    """
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise CheckpointError(f"--checkpoint {url} names no file (its path must end in a file name such as model.pth)")
    relative = f"{hashlib.sha256(url.encode()).hexdigest()[:16]}/{name}"
    root = CHECKPOINT_DIR / URL_CACHE
    path = root / relative
    if path.is_file():
        problem = check_recorded_sum(root, relative)
        if problem:
            raise CheckpointError(f"{problem}; delete it to download {url} again")
        return path
    if downloads_disabled(offline):
        raise CheckpointError(f"--checkpoint {url} has not been downloaded yet and downloads are off "
                              f"({OFFLINE_VARIABLE}=1 or --offline)")
    with Downloader(root, progress=progress) as downloader:
        return downloader.fetch_url(url, relative, verify_weights_file)


def extract_state_dict(checkpoint: Mapping[str, Any]) -> Dict[str, torch.Tensor]:
    """The model weights inside any accepted checkpoint layout, with wrapper prefixes removed."""
    state = checkpoint
    for key in _WRAPPER_KEYS:
        if isinstance(state, Mapping) and isinstance(state.get(key), Mapping):
            state = state[key]
            break
    if not isinstance(state, Mapping) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError("the file holds no model state_dict (expected a dict of tensors)")
    cleaned = {}
    for key, value in state.items():
        for prefix in _KEY_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        cleaned[key] = value
    return cleaned


def detect_variant(state_dict: Mapping[str, torch.Tensor]) -> Optional[str]:
    """Which published width a state_dict belongs to, judged by its first convolution; None if unknown."""
    first = state_dict.get("encoder.pyramid1.0.0.weight")
    if first is None or first.dim() != 4:
        return None
    for name, width in WIDTHS.items():
        if first.shape[0] == width.pyramid[0] and first.shape[-1] == width.first_kernel:
            return name
    return None


def _model_variant(model: nn.Module) -> Optional[str]:
    width = getattr(model, "width", None)
    return next((name for name, w in WIDTHS.items() if w == width), None)


def _read_checkpoint(path: Path, map_location: Union[str, torch.device] = "cpu") -> Any:
    """:func:`utils.weights_file.load_weights_file` (the one loader), its refusal as a :class:`CheckpointError`."""
    try:
        return load_weights_file(path, map_location)
    except WeightsFileError as error:
        raise CheckpointError(str(error)) from None


def _fit_problem(own: Mapping[str, torch.Tensor], state_dict: Mapping[str, torch.Tensor], model_label: str) -> Optional[str]:
    """Why ``state_dict`` cannot be loaded strictly into a model with state ``own``; None when it can."""
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [k for k in own if k in state_dict and state_dict[k].shape != own[k].shape]
    if missing or unexpected or mismatched:
        details = []
        for label, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched)):
            if keys:
                details.append(f"{len(keys)} {label} (e.g. {keys[0]})")
        return f"does not fit {model_label}: {'; '.join(details)}"
    for key, value in state_dict.items():
        if own[key].is_floating_point() and not value.is_floating_point():  # load_state_dict would cast it silently
            return (f"stores {key} as {value.dtype}, but the model's weights are floating point "
                    f"(a file converted wrongly or not IFRNet weights)")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return (f"holds NaN or Inf values in {key}: the weights are unusable "
                    f"(a diverged training run or a damaged file)")
    return None


def load_checkpoint(
    model: IFRNet,
    path: Union[str, Path],
    *,
    map_location: Union[str, torch.device] = "cpu",
) -> Dict[str, Any]:
    """Load weights from ``path`` into ``model`` (strictly) and return the whole checkpoint dict.

    Raises :class:`CheckpointError` with one sentence for a missing file, a file that is not a
    checkpoint (or is damaged, or holds code), a file of another IFRNet width, weights that do not
    fit the model, integer tensors where the model has floating-point weights, or weights holding
    NaN or Inf (named by the first such tensor).
    """
    path = Path(path)
    if not path.is_file():
        hint = ""
        entry = next((e for e in PUBLISHED_CHECKPOINTS if e.file_name == path.name), None)
        if entry is not None:
            hint = (f"; run {_download_command(entry)}, or download {path.name} from the authors' folder "
                    f"{PUBLISHED_CHECKPOINTS_URL} and put it at {path}, or pass --checkpoint PATH")
        raise CheckpointError(f"checkpoint not found: {path}{hint}")
    try:
        checkpoint = _read_checkpoint(path, map_location)
    except CheckpointError as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from None
    try:
        state_dict = extract_state_dict(checkpoint)
    except CheckpointError as error:
        raise CheckpointError(f"{path}: {error}") from None

    expected, found = _model_variant(model), detect_variant(state_dict)
    if expected is not None and found is not None and expected != found:
        raise CheckpointError(
            f"{path} holds {found} weights but the model is {expected}: pass --model_name {found} "
            f"or an {expected} checkpoint"
        )
    problem = _fit_problem(model.state_dict(), state_dict, expected or type(model).__name__)
    if problem:
        raise CheckpointError(f"{path} {problem}")
    model.load_state_dict(state_dict, strict=True)
    return checkpoint if isinstance(checkpoint, dict) else {"model": state_dict}


def verify_weights_file(path: Union[str, Path], variant: Optional[str] = None, parameters: Optional[int] = None) -> str:
    """Check that ``path`` holds usable IFRNet weights (of ``variant`` and ``parameters`` when given).

    The check of every downloaded file before it is moved into place: it loads with
    ``weights_only=True``, fits its variant strictly, has the expected parameter count and only
    finite values. Returns the variant; raises :class:`CheckpointError` with a short reason.
    """
    state_dict = extract_state_dict(_read_checkpoint(Path(path)))
    found = detect_variant(state_dict)
    if found is None:
        raise CheckpointError("it holds no IFRNet weights of a known width")
    if variant is not None and found != variant:
        raise CheckpointError(f"it holds {found} weights, not {variant}")
    problem = _fit_problem(IFRNet(WIDTHS[found]).state_dict(), state_dict, found)
    if problem:
        raise CheckpointError(f"it {problem}")
    count = sum(tensor.numel() for tensor in state_dict.values())
    if parameters is not None and count != parameters:
        raise CheckpointError(f"it has {count:,} parameters, not the {parameters:,} of {found}")
    return found


def verify_published(entry: PublishedCheckpoint, path: Union[str, Path]) -> None:
    """:func:`verify_weights_file` with the variant and parameter count of a published checkpoint."""
    verify_weights_file(path, entry.variant, entry.parameters)


def add_weights_arguments(parser: argparse.ArgumentParser, *, dataset: Optional[str] = "Vimeo90K") -> None:
    """``--checkpoint`` and ``--offline``, the same in every tool that loads weights.

    ``dataset=None`` for a tool that picks the published weights by the job's timesteps
    (:func:`models.timestep_policy.datasets_for`). ``--checkpoint`` stays a string so an http(s)
    URL survives (``Path`` would fold its ``//``).
    """
    if dataset is None:
        default = ("the published checkpoint of the variant, downloaded on first use: Vimeo90K when every new "
                   "frame is at a multiple of 1/2^k (2x, 4x, 8x), GoPro for other timesteps (e.g. 24 -> 60 fps)")
    else:
        example = published_checkpoint_path("IFRNet", dataset, root=Path("checkpoints"))
        default = f"the published {dataset} checkpoint of the variant, e.g. {example}, downloaded on first use"
    parser.add_argument(
        "--checkpoint", default=None, help=f"weights file or http(s) URL (downloaded once, verified; default: {default})")
    parser.add_argument(
        "--offline", action="store_true",
        help=f"never download: without the published checkpoint use the starter weights (same as {OFFLINE_VARIABLE}=1)")
