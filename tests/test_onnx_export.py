"""ONNX export: the exported graph runs in onnxruntime at any size and matches PyTorch."""
import contextlib
import io

import numpy as np
import pytest
import torch

import export_onnx
from models import create_model
from models.lean_inference import LeanIFRNet
from models.onnx_export import INPUT_NAMES, OUTPUT_NAME, export_onnx as export_model
from utils.cli import run_cli
from utils.errors import InputError
from utils.padding import InputPadder

onnxruntime = pytest.importorskip("onnxruntime")

SIZES = ((64, 96), (96, 128))  # neither is the size the exporter traces at (80x112)
TIMESTEPS = (0.25, 0.7)
TOLERANCE = 1e-4


def _seeded_small(seeded_checkpoints):
    # a caller's lean model: the export traces the plain path of its weights and must leave it so
    return create_model("IFRNet_S", weights=seeded_checkpoints["IFRNet_S"])


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _max_diff_to_pytorch(session, model, height, width, scale_factor=1.0, seed=0):
    """Two different pairs in one batch, one at each timestep; max |onnxruntime - PyTorch|."""
    generator = torch.Generator().manual_seed(seed)
    img0 = torch.rand((len(TIMESTEPS), 3, height, width), generator=generator)
    img1 = torch.rand((len(TIMESTEPS), 3, height, width), generator=generator)
    embt = torch.tensor(TIMESTEPS, dtype=torch.float32).view(-1, 1, 1, 1)
    with torch.no_grad():
        expected = model.inference(img0, img1, embt, scale_factor).numpy()
    (got,) = session.run([OUTPUT_NAME], dict(zip(INPUT_NAMES, (img0.numpy(), img1.numpy(), embt.numpy()))))
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


@pytest.fixture(scope="module")
def exported(seeded_checkpoints, tmp_path_factory):
    """IFRNet_S exported through the script with --check; (onnx path, folder, printed text)."""
    folder = tmp_path_factory.mktemp("onnx")
    path = folder / "ifrnet_s.onnx"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        export_onnx.main(
            ["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
             "--output", str(path), "--check"]
        )
    return path, folder, out.getvalue()


def test_exported_graph_matches_pytorch_at_two_sizes_and_two_timesteps(exported, seeded_checkpoints):
    path, _, _ = exported
    session = _session(path)
    model = _seeded_small(seeded_checkpoints)
    for height, width in SIZES:
        assert _max_diff_to_pytorch(session, model, height, width) < TOLERANCE


def test_graph_declares_the_timestep_input_and_dynamic_batch_height_width(exported):
    session = _session(exported[0])
    inputs = {i.name: i.shape for i in session.get_inputs()}
    assert list(inputs) == list(INPUT_NAMES)
    for name in ("img0", "img1"):
        batch, channels, height, width = inputs[name]
        assert channels == 3 and all(isinstance(d, str) for d in (batch, height, width))
    assert inputs["embt"][1:] == [1, 1, 1] and isinstance(inputs["embt"][0], str)
    (output,) = session.get_outputs()
    assert output.name == OUTPUT_NAME
    assert output.shape[1] == 3 and all(isinstance(d, str) for d in output.shape[:1] + output.shape[2:])


def test_single_pair_runs_at_batch_one(exported, seeded_checkpoints):
    """The example batch was 2: batch 1 must not have been frozen into the graph either."""
    session = _session(exported[0])
    model = _seeded_small(seeded_checkpoints)
    generator = torch.Generator().manual_seed(1)
    img0, img1 = torch.rand((2, 1, 3, 48, 80), generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    with torch.no_grad():
        expected = model.inference(img0, img1, embt).numpy()
    (got,) = session.run(None, {"img0": img0.numpy(), "img1": img1.numpy(), "embt": embt.numpy()})
    assert np.abs(got - expected).max() < TOLERANCE


@pytest.mark.parametrize("height, width", [(40, 40), (37, 53)])
def test_frames_of_any_size_are_padded_and_cropped_back_inside_the_graph(exported, seeded_checkpoints, height, width):
    """A 40x40 pair gives the 40x40 frame the Python tools give (padded to 48x48 by edge
    replication, cropped back), not the 48x48 output of a graph run on unpadded frames."""
    session = _session(exported[0])
    model = _seeded_small(seeded_checkpoints)
    generator = torch.Generator().manual_seed(2)
    img0, img1 = torch.rand((2, 1, 3, height, width), generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    padder = InputPadder(img0.shape, mode="replicate")
    with torch.no_grad():
        expected = padder.unpad(model.inference(*padder.pad(img0, img1), embt)).numpy()
    (got,) = session.run(None, {"img0": img0.numpy(), "img1": img1.numpy(), "embt": embt.numpy()})
    assert got.shape == (1, 3, height, width) and np.abs(got - expected).max() < TOLERANCE


@pytest.fixture
def traced_once(exported, monkeypatch):
    """The exporter writes the module's graph instead of tracing the network again (seconds each):
    for the tests of where and how the file is written, which the trace does not change."""
    graph = exported[0].read_bytes()
    monkeypatch.setattr(torch.onnx, "export", lambda module, inputs, buffer, **options: buffer.write(graph))


def test_check_flag_prints_small_differences_and_no_temporary_file_is_left(exported):
    path, folder, printed = exported
    assert "pads H and W to multiples of 16" in printed and "check 93x133" in printed
    lines = [line for line in printed.splitlines() if line.startswith("check ")]
    assert len(lines) == 4  # two sizes x two timesteps
    assert all(float(line.rsplit("=", 1)[1]) < TOLERANCE for line in lines)
    assert sorted(p.name for p in folder.iterdir()) == [path.name]


def test_scale_factor_is_fixed_in_the_graph_and_the_callers_model_is_untouched(seeded_checkpoints, tmp_path):
    model = _seeded_small(seeded_checkpoints)
    path = export_model(model, tmp_path / "half.onnx", scale_factor=0.5)
    assert type(model) is LeanIFRNet and all(p.requires_grad for p in model.parameters())
    session = _session(path)
    assert _max_diff_to_pytorch(session, model, 64, 96, scale_factor=0.5) < TOLERANCE
    # Run at full scale instead, PyTorch gives a different frame: the 0.5 really is in the graph.
    generator = torch.Generator().manual_seed(0)
    img0, img1 = torch.rand((2, 2, 3, 64, 96), generator=generator)
    embt = torch.tensor(TIMESTEPS).view(-1, 1, 1, 1)
    with torch.no_grad():
        full = model.inference(img0, img1, embt, 1.0).numpy()
    (got,) = session.run(None, {"img0": img0.numpy(), "img1": img1.numpy(), "embt": embt.numpy()})
    assert np.abs(got - full).max() > 1e-3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--opset", "15"], "--opset must be between 16"),
        (["--scale_factor", "0.3"], "scale_factor must be in (0, 1]"),
        (["--checkpoint", "missing.pth"], "checkpoint not found"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(export_onnx.main, argv + ["--output", str(tmp_path / "x.onnx")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_export_refuses_an_opset_without_gridsample(seeded_checkpoints, tmp_path):
    with pytest.raises(InputError):
        export_model(_seeded_small(seeded_checkpoints), tmp_path / "x.onnx", opset=15)


def test_output_under_a_file_is_one_line_before_the_export(tmp_path, seeded_checkpoints):
    import subprocess
    import sys
    from pathlib import Path

    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    result = subprocess.run(
        [sys.executable, str(Path(export_onnx.__file__)), "--model_name", "IFRNet_S",
         "--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--output", str(notes / "m.onnx")],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"export_onnx.py: error: --output's folder {notes} is a file, not a folder"]
    assert "exporting" not in result.stdout


def test_read_only_file_system_is_one_line_and_no_chained_traceback(tmp_path, seeded_checkpoints, capsys, monkeypatch, traced_once):
    """Simulated in-process (tests run as root, which chmod does not stop): os.replace and the
    temporary file's clean-up fail with EROFS, as on a read-only mount."""
    import errno

    import utils.atomic

    def read_only(*_args):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(utils.atomic.os, "replace", read_only)
    monkeypatch.setattr(utils.atomic.os, "unlink", read_only)
    output = tmp_path / "m.onnx"
    with pytest.raises(SystemExit) as exit_info:
        run_cli(export_onnx.main, ["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
                                   "--output", str(output)])
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"error: cannot write --output {output}: Read-only file system")


def test_a_killed_exports_temporary_is_swept_at_the_next_start_and_others_are_kept(tmp_path, seeded_checkpoints, capsys, traced_once):
    from utils.atomic import temporary_path

    output = tmp_path / "m.onnx"
    stale = temporary_path(output)  # what a SIGKILL during the write leaves
    stale.write_bytes(b"partial graph")
    unrelated = temporary_path(tmp_path / "clip.mp4")  # another tool's, maybe still being written
    unrelated.write_bytes(b"frames")
    run_cli(export_onnx.main, ["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
                               "--output", str(output)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.onnx", unrelated.name])
    assert f"removed 1 partial file(s) of an interrupted export: {stale.name}" in capsys.readouterr().err


def test_a_device_output_is_written_through_and_a_symlink_followed(tmp_path, seeded_checkpoints, traced_once):
    import os
    import stat

    node = tmp_path / "null"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError as error:
        pytest.skip(f"mknod not permitted here: {error}")
    (tmp_path / "graphs").mkdir()
    link = tmp_path / "latest.onnx"
    link.symlink_to(tmp_path / "graphs" / "m.onnx")
    for output in (node, link):
        run_cli(export_onnx.main, ["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
                                   "--output", str(output)])
    assert stat.S_ISCHR(os.stat(node).st_mode) and link.is_symlink()
    assert _session(link).get_inputs()[0].name == INPUT_NAMES[0]  # the graph is at the link's target
