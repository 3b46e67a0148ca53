"""demo_2x.py and demo_8x.py end to end on CPU, and every bad input they must refuse in one line."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import demo_2x
import demo_8x
from tests.seeded import seeded_model
from utils.cli import run_cli
from utils.image_io import read_image

ROOT = Path(__file__).resolve().parents[1]
HEIGHT, WIDTH = 45, 74  # not multiples of 16: the demos must pad and crop back


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """A small crop of the real sample pair (Big Buck Bunny), written as PNG."""
    folder = tmp_path_factory.mktemp("frames")
    paths = []
    for name in ("img0.png", "img1.png"):
        crop = np.asarray(Image.open(ROOT / "figures" / name).convert("RGB"))[150 : 150 + HEIGHT, 250 : 250 + WIDTH]
        Image.fromarray(crop).save(folder / name)
        paths.append(folder / name)
    return paths


def expected_frames(model_name, img0_path, img1_path, timesteps, tta=False):
    """Independent computation: replicate-pad to 16, infer, crop, round to uint8; with ``tta``
    the mean with the prediction on the padded pair turned by 180 degrees, turned back."""
    model = seeded_model(model_name)
    to_tensor = lambda p: torch.from_numpy(np.asarray(Image.open(p).convert("RGB")).copy()).permute(2, 0, 1)[None].float() / 255
    img0, img1 = to_tensor(img0_path), to_tensor(img1_path)
    pad_h, pad_w = (-HEIGHT) % 16, (-WIDTH) % 16
    pads = [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]
    img0, img1 = F.pad(img0, pads, mode="replicate"), F.pad(img1, pads, mode="replicate")
    with torch.no_grad():
        preds = model.inference(img0, img1, torch.tensor(timesteps).view(-1, 1, 1, 1))
        if tta:
            turned = model.inference(img0.rot90(2, (2, 3)), img1.rot90(2, (2, 3)), torch.tensor(timesteps).view(-1, 1, 1, 1))
            preds = (preds + turned.rot90(2, (2, 3))) / 2
    preds = preds[..., pads[2] : pads[2] + HEIGHT, pads[0] : pads[0] + WIDTH]
    return [(p.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8) for p in preds]


@pytest.mark.parametrize(
    "script, model_name, timesteps, gif",
    [("demo_2x.py", "IFRNet", [0.5], "out_2x.gif"), ("demo_8x.py", "IFRNet_S", [k / 8 for k in range(1, 8)], "out_8x.gif")],
)
def test_demo_end_to_end(tmp_path, frames, seeded_checkpoints, script, model_name, timesteps, gif):
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / script), "--img0", str(frames[0]), "--img1", str(frames[1]),
               "--model_name", model_name, "--checkpoint", str(seeded_checkpoints[model_name]),
               "--output", str(out), "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = expected_frames(model_name, *frames, timesteps)
    for t, frame in zip(timesteps, expected):
        written = read_image(out / f"interp_t{t:.3f}.png")
        assert written.shape == (HEIGHT, WIDTH, 3)
        # One unit of rounding may differ where the float lands on .5 after a different conv path.
        assert np.abs(written.astype(int) - frame.astype(int)).max() <= 1
    with Image.open(out / gif) as animation:
        assert animation.n_frames == len(timesteps) + 2
        assert animation.size == (WIDTH, HEIGHT)


def test_demo_tta_averages_with_the_turned_pair(tmp_path, frames, seeded_checkpoints):
    out = tmp_path / "out"
    demo_2x.main(["--img0", str(frames[0]), "--img1", str(frames[1]), "--model_name", "IFRNet_S", "--checkpoint",
                  str(seeded_checkpoints["IFRNet_S"]), "--output", str(out), "--device", "cpu", "--tta"])
    written = read_image(out / "interp_t0.500.png").astype(int)
    with_tta, plain = (expected_frames("IFRNet_S", *frames, [0.5], tta=tta)[0].astype(int) for tta in (True, False))
    assert np.abs(written - with_tta).max() <= 1
    assert np.abs(written - plain).max() > 1


def run_demo(module, argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(module.main, argv)
    err = capsys.readouterr().err
    return exit_info.value.code, err


def base_args(frames, checkpoint, tmp_path, model_name="IFRNet_S"):
    return ["--img0", str(frames[0]), "--img1", str(frames[1]), "--model_name", model_name,
            "--checkpoint", str(checkpoint), "--output", str(tmp_path / "out"), "--device", "cpu"]


def bad_input_error(module, argv, capsys):
    code, err = run_demo(module, argv, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_missing_image(tmp_path, frames, seeded_checkpoints, capsys):
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[1] = str(tmp_path / "nope.png")
    assert "image not found" in bad_input_error(demo_2x, argv, capsys)


def test_unreadable_image(tmp_path, frames, seeded_checkpoints, capsys):
    broken = tmp_path / "broken.png"
    broken.write_text("this is not a PNG")
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[3] = str(broken)
    assert "cannot read image" in bad_input_error(demo_8x, argv, capsys)


def test_images_of_different_sizes(tmp_path, frames, seeded_checkpoints, capsys):
    smaller = tmp_path / "small.png"
    Image.open(frames[1]).crop((0, 0, 100, 80)).save(smaller)
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[3] = str(smaller)
    assert "differ in size" in bad_input_error(demo_2x, argv, capsys)
    assert not (tmp_path / "out").exists()  # nothing written on failure


def test_transparent_image_is_refused_and_grayscale_is_converted(tmp_path, frames, seeded_checkpoints, capsys):
    rgba = Image.open(frames[1]).convert("RGBA")
    rgba.putpixel((3, 3), (0, 0, 0, 0))
    transparent = tmp_path / "transparent.png"
    rgba.save(transparent)
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[3] = str(transparent)
    assert "transparen" in bad_input_error(demo_2x, argv, capsys)

    gray = tmp_path / "gray.png"
    Image.open(frames[1]).convert("L").save(gray)
    argv[3] = str(gray)
    demo_2x.main(argv)  # no error: converted to RGB
    assert read_image(tmp_path / "out" / "interp_t0.500.png").shape == (HEIGHT, WIDTH, 3)


def test_missing_checkpoint_says_where_to_download(tmp_path, frames, capsys, monkeypatch):
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    argv = base_args(frames, "unused", tmp_path, model_name="IFRNet_L")
    del argv[argv.index("--checkpoint") : argv.index("--checkpoint") + 2]
    line = bad_input_error(demo_8x, argv, capsys)
    assert "IFRNet_L_GoPro.pth" in line and "dropbox" in line and "IFRNet_large" in line


def test_checkpoint_of_the_wrong_variant(tmp_path, frames, seeded_checkpoints, capsys):
    argv = base_args(frames, seeded_checkpoints["IFRNet"], tmp_path, model_name="IFRNet_S")
    line = bad_input_error(demo_2x, argv, capsys)
    assert "holds IFRNet weights but the model is IFRNet_S" in line


def test_cuda_without_a_gpu_is_refused(tmp_path, frames, seeded_checkpoints, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[-1] = "cuda"
    assert "no CUDA device" in bad_input_error(demo_2x, argv, capsys)


def test_falls_back_to_the_starter_weights_with_a_note(tmp_path, frames, seeded_checkpoints, capsys, monkeypatch):
    """No published checkpoint but starter weights present: the demo runs them (an IFRNet_S) and says so."""
    import shutil

    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    starter = tmp_path / "checkpoints" / "starter" / "IFRNet_S_starter.pth"
    starter.parent.mkdir(parents=True)
    shutil.copy(seeded_checkpoints["IFRNet_S"], starter)
    argv = ["--img0", str(frames[0]), "--img1", str(frames[1]), "--output", str(tmp_path / "out"), "--device", "cpu"]
    demo_2x.main(argv)  # --model_name defaults to IFRNet: the fallback switches the variant
    err = capsys.readouterr().err
    assert "IFRNet_Vimeo90K.pth not found" in err and "starter weights" in err and "much weaker" in err
    assert "python tools/download_checkpoints.py --variant IFRNet --task Vimeo90K" in err
    note = next(line for line in err.splitlines() if "starter weights" in line)
    # One short line, read at a glance (the run's own folder as a user's would be: checkpoints/...).
    assert len(note.replace(str(tmp_path / "checkpoints"), "checkpoints")) < 300, note
    expected = expected_frames("IFRNet_S", *frames, [0.5])[0]
    written = read_image(tmp_path / "out" / "interp_t0.500.png")
    assert np.abs(written.astype(int) - expected.astype(int)).max() <= 1


def test_output_under_a_file_is_refused_in_one_line_before_inference(tmp_path, frames, seeded_checkpoints, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[argv.index("--output") + 1] = str(notes / "out")
    line = bad_input_error(demo_2x, argv, capsys)
    assert line.endswith(f"error: --output {notes / 'out'} cannot be created: {notes} is a file, not a folder")
    assert notes.read_text() == "x"


@pytest.mark.parametrize("script, name", [(demo_2x, "interp_t0.500.png"), (demo_8x, "out_8x.gif")])
def test_an_output_folder_holding_an_input_is_refused_before_inference(tmp_path, frames, seeded_checkpoints, capsys,
                                                                     monkeypatch, script, name):
    """A rerun on its own result (--img0 out/interp_t0.500.png --output out) would write over its input."""
    import apps.demo

    out = tmp_path / "out"
    out.mkdir()
    inside = out / name
    inside.write_bytes(frames[0].read_bytes())
    argv = base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)
    argv[1] = str(inside)
    monkeypatch.setattr(apps.demo, "Interpolator", lambda *a, **k: pytest.fail("the model ran before the output was checked"))
    line = bad_input_error(script, argv, capsys)
    assert line.endswith(f"error: --output {out} holds the input {inside}; choose another output folder")
    assert inside.read_bytes() == frames[0].read_bytes() and sorted(out.iterdir()) == [inside]


def test_read_only_output_is_refused_before_inference(tmp_path, frames, seeded_checkpoints, capsys, monkeypatch):
    """Root writes through chmod, so the read-only folder is simulated: os.access answers as on a read-only mount."""
    import apps.demo
    import utils.output_checks

    monkeypatch.setattr(utils.output_checks.os, "access", lambda path, mode: False)
    monkeypatch.setattr(apps.demo, "Interpolator", lambda *a, **k: pytest.fail("the model ran before the output was checked"))
    line = bad_input_error(demo_2x, base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path), capsys)
    assert "--output" in line and "is not writable (no permission or a read-only file system)" in line


def test_output_that_fails_while_writing_is_one_line(tmp_path, frames, seeded_checkpoints, capsys, monkeypatch):
    """The folder passes the check but the file system turns read-only (os.replace raises EROFS, as the clean-up does)."""
    import errno

    import utils.atomic

    def read_only(*_args):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(utils.atomic.os, "replace", read_only)
    monkeypatch.setattr(utils.atomic.os, "unlink", read_only)
    line = bad_input_error(demo_8x, base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path), capsys)
    assert line.endswith("interp_t0.125.png: Read-only file system") and "cannot write" in line


def test_demo_2x_visualize_writes_the_fields_of_its_frame(tmp_path, frames, seeded_checkpoints):
    out = tmp_path / "out"
    demo_2x.main([*base_args(frames, seeded_checkpoints["IFRNet_S"], tmp_path)[:-4], "--output", str(out), "--device", "cpu",
                  "--visualize"])
    from models.interpolator import Interpolator
    from utils.visualize import field_images

    interpolator = Interpolator(seeded_model("IFRNet_S", lean=True), "cpu")  # the demo's own model
    frame, fields = interpolator.interpolate_with_fields(read_image(frames[0]), read_image(frames[1]), [0.5])
    for name, expected in field_images(*fields[0]).items():
        written = read_image(out / f"interp_t0.500_{name}.png")
        assert written.shape == (HEIGHT, WIDTH, 3)
        assert np.abs(written.astype(int) - expected.astype(int)).mean() < 1.0, name
    panel = read_image(out / "interp_t0.500_fields.png")
    assert panel.shape == (2 * HEIGHT + 4, 4 * WIDTH + 3 * 4, 3)
    assert np.array_equal(panel[:HEIGHT, WIDTH + 4 : 2 * WIDTH + 4], read_image(out / "interp_t0.500.png"))


def test_the_web_apps_frames_job_writes_what_the_demo_writes(tmp_path, frames, seeded_checkpoints):
    """One run from a pair to its files (apps.pair_outputs.interpolate_pair) serves the demos and the
    web app's Frames job: the same weights give the same frame and field pictures, byte for byte."""
    from webapp.jobs import ModelCache, ModelChoice, run_frames_job

    checkpoint = seeded_checkpoints["IFRNet_S"]
    demo_2x.main(["--img0", str(frames[0]), "--img1", str(frames[1]), "--model_name", "IFRNet_S", "--checkpoint",
                  str(checkpoint), "--output", str(tmp_path / "demo"), "--device", "cpu", "--visualize"])
    job = run_frames_job(str(frames[0]), str(frames[1]), [0.5], ModelChoice("IFRNet_S", scale_factor="1"),
                         ModelCache("cpu", checkpoint=str(checkpoint)), tmp_path / "work", visualize=True)
    pictures = [path for path, _ in job.fields]
    assert [path.name for path in job.frames] == ["interp_t0.500.png"] and len(pictures) == 4
    for path in [*job.frames, *pictures]:
        assert path.read_bytes() == (tmp_path / "demo" / path.name).read_bytes(), path.name
