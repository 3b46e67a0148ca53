"""load_checkpoint accepts the checkpoint shapes found in the wild and refuses the wrong variant, damaged
or foreign files and non-finite weights, each in one line."""
from pathlib import Path

import pytest
import torch

from models import CheckpointError, build_model, load_checkpoint, published_checkpoint_path
from models.published import PUBLISHED_FOLDER_URL
from tests.seeded import seeded_state_dict


@pytest.fixture(scope="module")
def weights():
    return seeded_state_dict(build_model("IFRNet_S"))


def assert_loaded(model, weights):
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"model": sd, "optimizer": {}, "epoch": 3, "iteration": 120},
        lambda sd: {"state_dict": sd},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {"model": {f"module._orig_mod.{k}": v for k, v in sd.items()}},
        lambda sd: {k: v.half() for k, v in sd.items()},
    ],
    ids=["plain", "training", "state_dict", "ddp", "ddp+compile", "half"],
)
def test_accepted_layouts(tmp_path, weights, wrap, request):
    path = tmp_path / "ckpt.pth"
    torch.save(wrap(weights), path)
    model = build_model("IFRNet_S")
    load_checkpoint(model, path)
    if request.node.callspec.id == "half":
        weights = {k: v.half().float() for k, v in weights.items()}
    assert_loaded(model, weights)


def test_wrong_variant_is_named_in_one_line(tmp_path):
    path = tmp_path / "large.pth"
    torch.save(build_model("IFRNet_L").state_dict(), path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(build_model("IFRNet_S"), path)
    message = str(error.value)
    assert "IFRNet_L weights" in message and "model is IFRNet_S" in message and "\n" not in message


def test_missing_published_checkpoint_says_where_to_get_it(tmp_path):
    path = published_checkpoint_path("IFRNet", "GoPro", root=tmp_path)
    assert path == tmp_path / "IFRNet" / "IFRNet_GoPro.pth"
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(build_model("IFRNet"), path)
    # Fit for a command line and for Python alike: the file, the download command, the folder to fetch it from.
    assert str(error.value) == (f"checkpoint not found: {path}; run python tools/download_checkpoints.py --variant IFRNet "
                                f"--task GoPro, or download IFRNet_GoPro.pth from the authors' folder "
                                f"{PUBLISHED_FOLDER_URL} and put it there")


def test_unreadable_and_foreign_files(tmp_path, weights):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_checkpoint(build_model("IFRNet_S"), garbage)
    foreign = tmp_path / "foreign.pth"
    torch.save({"epoch": 1}, foreign)
    with pytest.raises(CheckpointError, match="no model state_dict"):
        load_checkpoint(build_model("IFRNet_S"), foreign)
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in weights.items() if not k.startswith("decoder1")}, partial)
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(build_model("IFRNet_S"), partial)


def test_resolve_weights_prefers_explicit_then_published_then_starter(tmp_path, monkeypatch):
    import models.checkpoint as checkpoint_module
    from models.checkpoint import resolve_weights

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path)
    # Nothing downloaded, no starter: the published path, so loading it explains where to get it.
    resolved = resolve_weights("IFRNet")
    assert resolved == (("IFRNet", tmp_path / "IFRNet" / "IFRNet_Vimeo90K.pth", None))
    # A starter exists and another width may stand in: fall back to it (an IFRNet_S) with a note saying
    # it is weaker and how to get the published file.
    starter = tmp_path / "starter" / "IFRNet_S_starter.pth"
    starter.parent.mkdir()
    starter.write_bytes(b"x")
    resolved = resolve_weights("IFRNet_L", dataset="GoPro", other_variant=True)
    assert resolved.model_name == "IFRNet_S" and resolved.path == starter
    assert "IFRNet_L_GoPro.pth not found" in resolved.note and "much weaker" in resolved.note
    assert "python tools/download_checkpoints.py --variant IFRNet_L --task GoPro" in resolved.note
    # The published checkpoint, once present, wins over the starter.
    published = tmp_path / "IFRNet_large" / "IFRNet_L_GoPro.pth"
    published.parent.mkdir()
    published.write_bytes(b"x")
    assert resolve_weights("IFRNet_L", dataset="GoPro", other_variant=True) == ("IFRNet_L", published, None)
    # --checkpoint always wins.
    assert resolve_weights("IFRNet", tmp_path / "mine.pth") == ("IFRNet", tmp_path / "mine.pth", None)


def test_resolve_weights_gives_another_width_only_when_asked(tmp_path, monkeypatch):
    import models.checkpoint as checkpoint_module
    from models.checkpoint import resolve_weights

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path)
    starter = tmp_path / "starter" / "IFRNet_S_starter.pth"
    starter.parent.mkdir()
    starter.write_bytes(b"x")
    assert resolve_weights("IFRNet") == ("IFRNet", tmp_path / "IFRNet" / "IFRNet_Vimeo90K.pth", None)
    assert resolve_weights("IFRNet", other_variant=True).path == starter
    same_width = resolve_weights("IFRNet_S")  # the starter is an IFRNet_S: the width asked for, with its note
    assert same_width.path == starter and "starter weights" in same_width.note


def test_starter_checkpoint_tool_writes_half_precision_weights_that_load(tmp_path, seeded_checkpoints):
    from tools import make_starter_checkpoint  # its subprocess smoke test is in test_tools.py

    output = tmp_path / "starter" / "IFRNet_S_starter.pth"
    make_starter_checkpoint.main(["--weights", str(seeded_checkpoints["IFRNet_S"]), "--output", str(output)])
    stored = torch.load(output, weights_only=True)
    assert all(value.dtype == torch.float16 for value in stored.values())
    assert output.stat().st_size < 10e6
    model = build_model("IFRNet_S")
    load_checkpoint(model, output)
    original = torch.load(seeded_checkpoints["IFRNet_S"], weights_only=True)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, original[key], rtol=1e-3, atol=1e-4)


def test_starter_checkpoint_tool_averages_several_weights_in_float32_on_request(tmp_path, seeded_checkpoints):
    """A model soup: two IFRNet_S files become their parameter-wise mean, kept in float32 for further training."""
    from tools import make_starter_checkpoint

    first = torch.load(seeded_checkpoints["IFRNet_S"], weights_only=True)
    second = {key: value * 3 + 1 for key, value in first.items()}
    torch.save(second, tmp_path / "second.pth")
    output = tmp_path / "soup.pth"
    make_starter_checkpoint.main(["--weights", str(seeded_checkpoints["IFRNet_S"]), str(tmp_path / "second.pth"),
                                  "--output", str(output), "--precision", "float32"])
    stored = torch.load(output, weights_only=True)
    assert stored.keys() == first.keys()
    for key, value in stored.items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, first[key] * 2 + 0.5, rtol=1e-6, atol=1e-6)  # (x + 3x + 1) / 2


def run_demo_cli(run_main, *args):
    """demo_2x in-process (conftest's run_main): (exit code, stderr)."""
    import demo_2x

    code, _, err = run_main(demo_2x.main, *args)
    return code, err


def test_non_finite_weights_are_refused_naming_the_first_bad_tensor(tmp_path, weights, run_main):
    """NaN or Inf weights would give black frames, PSNR nan and exported graphs of NaN."""
    keys = list(weights)
    poisoned = dict(weights)
    poisoned[keys[3]] = weights[keys[3]].clone().fill_(float("inf"))
    poisoned[keys[7]] = weights[keys[7]].clone().fill_(float("nan"))
    path = tmp_path / "diverged.pth"
    torch.save(poisoned, path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(build_model("IFRNet_S"), path)
    message = str(error.value)
    assert f"NaN or Inf values in {keys[3]}" in message and str(path) in message and "\n" not in message

    # Through a tool (the demo, the video tool, the benchmarks and the export all load with load_checkpoint).
    code, err = run_demo_cli(run_main, "--model_name", "IFRNet_S", "--checkpoint", path, "--output", tmp_path / "out",
                             "--device", "cpu")
    assert code == 2 and err.count("\n") == 1 and keys[3] in err
    assert not (tmp_path / "out").exists()


def test_files_that_are_no_checkpoint_are_named_without_pytorchs_unsafe_advice(tmp_path, weights, run_main):
    """Random bytes or text must not get PyTorch's advice to retry with weights_only=False."""
    noise = tmp_path / "noise.pth"
    noise.write_bytes(bytes(range(256)) * 64)
    code, err = run_demo_cli(run_main, "--model_name", "IFRNet_S", "--checkpoint", noise, "--device", "cpu")
    assert code == 2 and err.count("\n") == 1, err
    assert f"cannot read checkpoint {noise}: it is not a PyTorch checkpoint" in err
    assert "weights_only" not in err

    text = tmp_path / "notes.pth"
    text.write_text("IFRNet weights: see the Dropbox folder\n")
    good = tmp_path / "good.pth"
    torch.save(weights, good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    for path, reason in ((text, "not a PyTorch checkpoint"), (truncated, "corrupt or truncated"), (empty, "empty")):
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(build_model("IFRNet_S"), path)
        message = str(error.value)
        assert str(path) in message and reason in message and "weights_only" not in message, message


def test_export_names_the_variant_it_exports_and_never_swaps_in_the_starters_width(tmp_path, seeded_checkpoints,
                                                                                  monkeypatch, capsys):
    """An ONNX file is a deployment artifact of the width --model_name asks for, so the export refuses
    to substitute the starter's IFRNet_S for another width; asked for IFRNet_S it exports the
    starter and every name says IFRNet_S.
    """
    import shutil

    import export_onnx
    import models.checkpoint as checkpoint_module
    from utils.errors import InputError

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    starter = tmp_path / "checkpoints" / "starter" / "IFRNet_S_starter.pth"
    starter.parent.mkdir(parents=True)
    shutil.copy(seeded_checkpoints["IFRNet_S"], starter)
    monkeypatch.chdir(tmp_path)
    exported = []  # (width of the model handed to the exporter, output path); the ONNX export itself is tested elsewhere
    monkeypatch.setattr(export_onnx, "export_onnx", lambda model, output, **options: exported.append((model.width, output)))
    with pytest.raises(InputError, match=r"checkpoint not found: .*IFRNet_Vimeo90K\.pth; run python tools/download_checkpoints\.py"):
        export_onnx.main([])  # --model_name IFRNet by default
    assert exported == []

    export_onnx.main(["--model_name", "IFRNet_S"])
    captured = capsys.readouterr()
    assert f"exporting IFRNet_S ({starter})" in captured.out and "starter" in captured.err
    assert exported == [(build_model("IFRNet_S").width, Path("IFRNet_S.onnx"))]
