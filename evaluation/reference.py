"""The authors' IFRNet, loaded from a checkout of their repository in isolation, and holding our weights.

Their ``models/<name>.py`` import top-level modules of their checkout (``from utils import warp``,
``from loss import *``). This project has a ``utils`` package and a ``models`` package of its own,
and ours exports a ``warp`` too, so a plain import would silently mix the two code bases. The
loader therefore hides the project's modules of the same names while the authors' file executes
and restores them afterwards; the authors' module keeps references to its own helpers. Nothing of
their code is copied into this project: it is read from the user's checkout at run time. The
speed comparison (:mod:`evaluation.speed`, with :func:`build_reference_model`, which gives it this
project's weights) and the training-step benchmark (``benchmarks/train_speed.py``) load it here.
"""
from __future__ import annotations

import importlib.util
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Set, Type, Union

import torch

from utils.errors import InputError

__all__ = ["isolated_imports", "load_reference_class", "build_reference_model"]


def _top_level_names(checkout: Path) -> Set[str]:
    """Module and package names the checkout defines at its top level (utils, loss, models ...)."""
    names = {path.stem for path in checkout.glob("*.py")}
    names |= {path.parent.name for path in checkout.glob("*/__init__.py")}
    return names | {"models"}


def _owned(module_name: str, names: Set[str]) -> bool:
    return module_name.split(".", 1)[0] in names


@contextmanager
def isolated_imports(checkout: Path) -> Iterator[None]:
    """Within the block, top-level imports resolve to the checkout; afterwards the project's are back."""
    names = _top_level_names(checkout)
    saved: Dict[str, object] = {key: sys.modules.pop(key) for key in list(sys.modules) if _owned(key, names)}
    sys.path.insert(0, str(checkout))
    try:
        yield
    finally:
        sys.path.remove(str(checkout))
        for key in [key for key in sys.modules if _owned(key, names)]:
            del sys.modules[key]
        sys.modules.update(saved)


def load_reference_class(reference_dir: Union[str, Path], model_name: str) -> Type[torch.nn.Module]:
    """The ``Model`` class of ``<reference_dir>/models/<model_name>.py``."""
    checkout = Path(reference_dir).resolve()
    source = checkout / "models" / f"{model_name}.py"
    if not source.is_file():
        raise InputError(f"--reference_dir {reference_dir} has no models/{model_name}.py; "
                         "point it at a checkout of the authors' IFRNet repository")
    module_name = f"_ifrnet_reference_{model_name}"
    with isolated_imports(checkout):
        spec = importlib.util.spec_from_file_location(module_name, source)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as error:
            raise InputError(f"cannot import the reference model {source}: {error}") from None
    model_class = getattr(module, "Model", None)
    if model_class is None:
        raise InputError(f"{source} defines no Model class")
    return model_class


def build_reference_model(reference_dir: Union[str, Path], model_name: str, state_dict: Dict[str, torch.Tensor]) -> torch.nn.Module:
    """The authors' model of ``model_name`` holding ``state_dict`` (the same weights as ours), in eval mode."""
    model = load_reference_class(reference_dir, model_name)()
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise InputError(f"the reference {model_name} does not accept this project's weights: {first}") from None
    return model.eval()
