"""Reduced-precision inference: float32 unchanged, bfloat16 close to it on real frames, and the choice rules."""
import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

import utils.precision_choice as precision_module
from evaluation.baselines import frame_psnr
from models import WIDTHS, build_model, create_model, load_checkpoint
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT, STARTER_MODEL_NAME
from models.interpolator import Interpolator
from models.lean_inference import LeanIFRNet
from tests.seeded import seeded_model, seeded_state_dict
from tests.video_builders import sample_frames
from utils.errors import InputError
from utils.image_io import read_image
from utils.precision_choice import resolve_precision

ROOT = Path(__file__).resolve().parents[1]
CPU, CUDA = torch.device("cpu"), torch.device("cuda")
# bf16 against fp32 with the starter weights (benchmarks/precision.py, 120 frames at full size:
# ~64-68 dB apart, the PSNR against the real frames within 0.02 dB). The bounds leave room for
# other CPUs' kernels while still catching a flow or image rounded to bfloat16 (~47 dB apart,
# -0.9 dB against the real frames with blanket autocast).
MIN_AGREEMENT_DB = 55.0
MAX_DROP_DB = 0.05


@pytest.fixture
def native(monkeypatch):
    """Set what the CPU capability check answers."""
    def answer(has_bfloat16: bool) -> None:
        monkeypatch.setattr(precision_module, "cpu_has_native_bfloat16", lambda: has_bfloat16)
    return answer


@pytest.mark.parametrize("has_bfloat16, device, expected", [
    (True, CPU, torch.bfloat16), (False, CPU, torch.float32), (True, CUDA, torch.float16), (False, CUDA, torch.float16)])
def test_auto_picks_the_fast_precision_of_the_device(native, has_bfloat16, device, expected):
    native(has_bfloat16)
    assert resolve_precision("auto", device) == expected


def test_bf16_is_refused_on_a_cpu_without_native_bfloat16_and_auto_stays_float32(native):
    native(False)
    with pytest.raises(InputError, match="needs a CPU with native bfloat16.*slower") as error:
        create_model("IFRNet_S", weights=None, precision="bf16", device="cpu")
    assert "\n" not in str(error.value)
    assert create_model("IFRNet_S", weights=None, precision="auto", device="cpu").precision == torch.float32
    native(True)
    assert create_model("IFRNet_S", weights=None, precision="auto", device="cpu").precision == torch.bfloat16


@pytest.mark.parametrize("options, message", [
    ({"precision": "fp16"}, "--precision fp16 needs a CUDA device"),
    ({"precision": "fp64"}, "unknown precision 'fp64'"),
    ({"precision": "bf16", "lean": False}, "lean inference path"),
])
def test_bad_precision_options_are_refused(native, options, message):
    native(True)
    with pytest.raises(InputError, match=message):
        create_model("IFRNet_S", weights=None, device="cpu", **options)


def test_the_fp16_flag_is_only_the_precision_flag_spelt_shorter(capsys):
    """``--fp16`` (the video tool's older flag) sets ``--precision fp16`` and nothing else, so the
    library's rules apply to it unchanged; beside an explicit --precision it is refused."""
    parser = argparse.ArgumentParser()
    precision_module.add_precision_argument(parser, fp16_alias=True)
    assert parser.parse_args(["--fp16"]).precision == "fp16"
    assert parser.parse_args([]).precision == "fp32"
    with pytest.raises(SystemExit):
        parser.parse_args(["--fp16", "--precision", "bf16"])
    assert "not allowed with argument" in capsys.readouterr().err
    plain = argparse.ArgumentParser()
    precision_module.add_precision_argument(plain)
    with pytest.raises(SystemExit):  # the other tools have no such flag
        plain.parse_args(["--fp16"])


def test_cpu_capability_is_read_from_the_kernel_flags(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(precision_module, "CPUINFO", cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512bw avx512_vnni\n")
    assert not precision_module.cpu_has_native_bfloat16()
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Xeon X\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n"
                       "processor\t: 1\nmodel name\t: Xeon X\nflags\t\t: fpu avx512f avx512_bf16 avx512_vnni\n")
    assert precision_module.cpu_has_native_bfloat16()
    # What a benchmark prints: the name once, and the flags that decide the kernels (not fpu).
    assert precision_module.cpu_description() == "Xeon X (avx512f avx512_vnni avx512_bf16)"
    cpuinfo.unlink()
    assert not precision_module.cpu_has_native_bfloat16()  # flags unreadable: no
    assert precision_module.cpu_description() == "unknown CPU (no listed flags)"


def test_fp32_beside_bf16_on_the_same_weights_is_bit_identical_to_a_model_never_cast():
    """Choosing fp32 runs the float32 path itself (the golden vectors pin that path's values), and a
    bfloat16 model over the same weights casts copies, leaving the float32 one untouched."""
    generator = torch.Generator().manual_seed(5)
    img0, img1 = torch.rand(1, 3, 64, 96, generator=generator), torch.rand(1, 3, 64, 96, generator=generator)
    embt = torch.full((1, 1, 1, 1), 0.5)
    fp32 = seeded_model("IFRNet_S", lean=True)
    bf16 = LeanIFRNet.sharing_weights(fp32, precision=torch.bfloat16)
    with torch.inference_mode():
        before = fp32.inference(img0, img1, embt)
        low = bf16.inference(img0, img1, embt)
        after = fp32.inference(img0, img1, embt)
        fresh = seeded_model("IFRNet_S", lean=True).inference(img0, img1, embt)
    assert torch.equal(before, after) and torch.equal(after, fresh)
    assert low.dtype == torch.float32 and not torch.equal(low, after)


def test_cast_weights_follow_the_model_and_are_not_recast_per_call():
    model = LeanIFRNet(WIDTHS["IFRNet_S"], precision=torch.bfloat16)
    cast = model._cast_layers
    first = cast.layers(model)
    assert cast.layers(model) is first  # cast once
    assert first.encoder.pyramid1[0][0].weight.dtype == torch.bfloat16
    assert first.decoder1.convblock[-1].weight.dtype == torch.float32  # the output layer stays float32
    model.load_state_dict(seeded_state_dict(model))  # new weights: the copies must follow
    assert torch.equal(cast.layers(model).encoder.pyramid1[0][0].weight,
                       model.encoder.pyramid1[0][0].weight.to(torch.bfloat16).contiguous(memory_format=torch.channels_last))
    assert "._cast_layers" not in "".join(model.state_dict())


def test_bf16_agrees_with_fp32_on_real_frames_with_trained_weights():
    """Starter weights on real triplets: near-static Big Buck Bunny and moving bikes, at small sizes
    (a quarter of the clips' sides: bfloat16 convolutions are emulated on CPUs without native
    support, where 320x180 took 7 s; the figures match 320x180's: 62-67 dB apart, drop under 0.02 dB)."""
    model = build_model(STARTER_MODEL_NAME)
    load_checkpoint(model, CHECKPOINT_DIR / STARTER_CHECKPOINT)
    triplets = [sample_frames("bigbuckbunny", 3, size=(160, 90)), sample_frames("bigbuckbunny", 3, size=(160, 90), skip=100),
                sample_frames("bikes", 3, size=(160, 68), skip=40)]
    outputs = {}
    for name in ("fp32", "bf16"):
        full = Interpolator(LeanIFRNet.sharing_weights(model, precision=precision_module.PRECISION_DTYPES[name]), "cpu")
        outputs[name] = [full.interpolate(f0, f1, [0.5])[0] for f0, _, f1 in triplets]
    # Both precisions really ran: bfloat16 convolutions move some pixels by an 8-bit level or more.
    assert any(not np.array_equal(low, high) for low, high in zip(outputs["bf16"], outputs["fp32"]))
    agreement = [frame_psnr(low, high) for low, high in zip(outputs["bf16"], outputs["fp32"])]
    drop = np.mean([frame_psnr(high, t[1]) - frame_psnr(low, t[1])
                    for low, high, t in zip(outputs["bf16"], outputs["fp32"], triplets)])
    assert min(agreement) > MIN_AGREEMENT_DB, agreement
    assert drop < MAX_DROP_DB, drop


def test_precision_flag_of_the_video_tool_refuses_fp16_on_cpu_in_one_line(tmp_path, capsys):
    import interpolate_video
    from utils.cli import run_cli

    argv = ["--input", str(tmp_path), "--output", str(tmp_path / "out.mp4"), "--device", "cpu", "--precision", "fp16"]
    (tmp_path / "0.png").write_bytes(b"")  # never read: the precision is refused first
    with pytest.raises(SystemExit) as exit_info:
        run_cli(interpolate_video.main, argv)
    assert exit_info.value.code == 2
    instead = "--precision bf16 or auto" if precision_module.cpu_has_native_bfloat16() else "--precision fp32 (this CPU has no native bfloat16)"
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        "error: --precision fp16 needs a CUDA device (half precision is slower and less "
        f"accurate on the CPU); use {instead}, or --device cuda")


@pytest.mark.parametrize("has_bfloat16, advice", [(True, "use --precision bf16 or auto"), (False, "use --precision fp32")])
def test_fp16_on_a_cpu_advises_only_what_that_cpu_runs(native, has_bfloat16, advice):
    native(has_bfloat16)
    with pytest.raises(InputError) as error:
        resolve_precision("fp16", CPU)
    assert advice in str(error.value) and ("bf16" in str(error.value)) == has_bfloat16


@pytest.mark.skipif(not precision_module.cpu_has_native_bfloat16(), reason="needs a CPU with native bfloat16")
def test_demo_runs_in_bf16_through_its_flag(tmp_path, seeded_checkpoints):
    out = tmp_path / "out"
    import demo_2x

    demo_2x.main(["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--output", str(out),
                  "--device", "cpu", "--precision", "bf16"])
    fp32 = Interpolator.load("IFRNet_S", seeded_checkpoints["IFRNet_S"], "cpu")
    expected = fp32.interpolate(read_image(ROOT / "figures" / "img0.png"), read_image(ROOT / "figures" / "img1.png"), [0.5])[0]
    got = read_image(out / "interp_t0.500.png")
    assert 45.0 < frame_psnr(got, expected) < 100.0  # computed in bf16 (not bit-equal), yet close
