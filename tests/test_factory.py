"""models.create_model: the one way from a name and weights to a ready model; the library and the
hub entry points give the width they name, or raise."""
import ast
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import models.checkpoint as checkpoint_module
from models import PUBLISHED, create_model
from models.interpolator import Interpolator
from models.lean_inference import LeanIFRNet
from models.network import IFRNet
from tests.seeded import seeded_model
from utils.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkpoint_gives_its_weights_in_eval_mode_with_the_chosen_path(seeded_checkpoints):
    model = create_model("IFRNet_S", weights=seeded_checkpoints["IFRNet_S"])  # the default: lean, as the tools run
    expected = seeded_model("IFRNet_S").state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in model.state_dict().items())
    assert not model.training and type(model) is LeanIFRNet and model.precision == torch.float32
    assert model.weights_source == ("IFRNet_S", Path(seeded_checkpoints["IFRNet_S"]), None)
    assert type(create_model("IFRNet_S", weights=seeded_checkpoints["IFRNet_S"], lean=False)) is IFRNet  # the plain maths


def test_no_weights_keeps_the_initial_ones_and_says_so():
    torch.manual_seed(0)
    model = create_model("IFRNet_S", weights=None)
    torch.manual_seed(0)
    from models import build_model

    fresh = build_model("IFRNet_S")
    assert all(torch.equal(value, fresh.state_dict()[key]) for key, value in model.state_dict().items())
    assert model.weights_source is None


def test_published_weights_give_the_width_asked_for_or_raise_unless_another_may_stand_in(starter_only):
    with pytest.raises(checkpoint_module.CheckpointError, match=r"checkpoint not found: .*IFRNet_Vimeo90K\.pth"):
        create_model("IFRNet", offline=True)  # never an IFRNet_S in its place unasked
    same = create_model("IFRNet_S", offline=True)  # the starter is an IFRNet_S: the width asked, with its note
    assert same.weights_source.path == starter_only and "starter weights" in same.weights_source.note
    model = create_model("IFRNet", weights=PUBLISHED, offline=True, other_variant=True)
    assert model.weights_source.model_name == "IFRNet_S" and model.weights_source.path == starter_only
    assert "IFRNet_Vimeo90K.pth not found" in model.weights_source.note
    assert sum(parameter.numel() for parameter in model.parameters()) == 2_803_610  # IFRNet_S's count, as the note says
    interpolator = Interpolator(model, "cpu")
    assert (interpolator.model_name, interpolator.weights_note) == ("IFRNet_S", model.weights_source.note)


@pytest.fixture
def starter_only(tmp_path, seeded_checkpoints, monkeypatch):
    """A checkpoints folder holding only the starter weights (the seeded IFRNet_S); returns their path."""
    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path)
    starter = tmp_path / checkpoint_module.STARTER_CHECKPOINT
    starter.parent.mkdir(parents=True)
    shutil.copy(seeded_checkpoints["IFRNet_S"], starter)
    return starter


def test_the_interpolator_loads_the_width_it_names_unless_told_another_may_stand_in(starter_only):
    with pytest.raises(checkpoint_module.CheckpointError, match=r"checkpoint not found: .*IFRNet_Vimeo90K\.pth"):
        Interpolator.load("IFRNet", device="cpu", offline=True)
    same = Interpolator.load("IFRNet_S", device="cpu", offline=True)  # the starter is an IFRNet_S: the width asked
    assert (same.model_name, same.checkpoint) == ("IFRNet_S", starter_only) and "starter weights" in same.weights_note
    allowed = Interpolator.load("IFRNet", device="cpu", offline=True, other_variant=True)  # the tools' choice
    assert allowed.model_name == "IFRNet_S" and "IFRNet_Vimeo90K.pth not found" in allowed.weights_note


def test_hub_entry_points_warn_when_the_weights_are_not_the_ones_asked_for(starter_only, seeded_checkpoints):
    with pytest.raises(checkpoint_module.CheckpointError,
                       match=r"IFRNet_Vimeo90K\.pth.*put it there; or pass checkpoint=PATH"):
        torch.hub.load(str(ROOT), "IFRNet", source="local")  # never the starter's other width
    with pytest.warns(UserWarning, match="running the starter weights instead"):
        model = torch.hub.load(str(ROOT), "IFRNet_S", source="local")
    assert model.weights_source.path == starter_only and "starter weights" in model.weights_source.note
    with pytest.warns(UserWarning, match="running the starter weights instead"):
        interpolator = torch.hub.load(str(ROOT), "interpolator", source="local", model_name="IFRNet_S", device="cpu")
    assert interpolator.checkpoint == starter_only
    with warnings.catch_warnings(record=True) as caught:  # the weights asked for: nothing to say
        warnings.simplefilter("always")
        torch.hub.load(str(ROOT), "IFRNet_S", source="local", checkpoint=seeded_checkpoints["IFRNet_S"])
    assert not [w for w in caught if "weights" in str(w.message)], [str(w.message) for w in caught]


@pytest.mark.parametrize(
    "options, message",
    [({"precision": "fp16"}, "needs a CUDA device"),
     ({"precision": torch.bfloat16, "lean": False}, "reduced precision runs on the lean inference path")],
)
def test_precision_rules_are_checked_before_the_weights_are_read(tmp_path, options, message, monkeypatch):
    import utils.precision_choice

    monkeypatch.setattr(utils.precision_choice, "cpu_has_native_bfloat16", lambda: True)  # bf16 allowed on this CPU
    with pytest.raises(InputError, match=message):
        create_model("IFRNet_S", weights=tmp_path / "not_read.pth", device="cpu", **options)


def test_precision_is_built_into_the_lean_model_with_the_checkpoints_keys(seeded_checkpoints, monkeypatch):
    import utils.precision_choice

    monkeypatch.setattr(utils.precision_choice, "cpu_has_native_bfloat16", lambda: True)  # bf16 allowed on this CPU
    model = create_model("IFRNet_S", weights=seeded_checkpoints["IFRNet_S"], precision="bf16")
    assert type(model) is LeanIFRNet and model.precision == torch.bfloat16
    expected = seeded_model("IFRNet_S").state_dict()
    assert list(model.state_dict()) == list(expected)  # the cast copies add no key
    assert all(torch.equal(value, expected[key]) for key, value in model.state_dict().items())  # float32 weights kept
    assert Interpolator.load("IFRNet_S", seeded_checkpoints["IFRNet_S"], "cpu", precision="bf16").model.precision == torch.bfloat16


def test_interpolator_load_is_create_model_plus_the_interpolator(seeded_checkpoints):
    frames = [np.random.default_rng(i).integers(0, 256, (32, 48, 3), dtype=np.uint8) for i in range(2)]
    loaded = Interpolator.load("IFRNet_S", seeded_checkpoints["IFRNet_S"], "cpu")
    wrapped = Interpolator(create_model("IFRNet_S", weights=seeded_checkpoints["IFRNet_S"]), "cpu")
    assert type(loaded.model) is type(wrapped.model) is LeanIFRNet
    assert (loaded.model_name, loaded.checkpoint) == (wrapped.model_name, wrapped.checkpoint) == (
        "IFRNet_S", Path(seeded_checkpoints["IFRNet_S"]))
    assert np.array_equal(loaded.interpolate(*frames, [0.5])[0], wrapped.interpolate(*frames, [0.5])[0])


def test_tools_build_models_through_the_factory():
    """resolve -> build -> load is written once (models/factory.py): no tool loads weights itself.
    Training is the exception: --resume loads a run's checkpoint into the model it is training."""
    callers = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in ("models", "tests", "training") or any(part.startswith(".") for part in relative.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "load_checkpoint":
                callers.append(f"{relative}:{node.lineno}")
    assert not callers, callers
