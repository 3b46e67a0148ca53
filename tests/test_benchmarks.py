"""The benchmark scripts on tiny copies of each evaluation set, checked against an independent computation.

Each test builds the dataset's real layout from Big Buck Bunny frames (odd sizes where the protocol
pads), runs the script with seeded IFRNet_S weights, and recomputes the expected scores here with
plain torch: its own padding, scale and cropping, written from the protocol's description. The two
protocols whose network input is large (GoPro's 512x512 crop, Middlebury's 480x640 canvas) run a
stand-in network instead (:class:`StandIn`): they check the frames the protocol gives the network
and scores it gets back; the network itself is the other tests'.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from benchmarks import GoPro, Adobe240, Middlebury_Other, SNU_FILM, UCF101, Vimeo90K
from tests import benchmark_builders as build
from tests.seeded import seeded_model
from utils.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
MODEL = "IFRNet_S"


@pytest.fixture(scope="module")
def model():
    return seeded_model(MODEL)


@pytest.fixture
def common(seeded_checkpoints):
    """Flags every run shares: seeded weights, the CPU, no progress bar."""
    return ["--model_name", MODEL, "--checkpoint", str(seeded_checkpoints[MODEL]), "--device", "cpu", "--no_progress"]


class StandIn(torch.nn.Module):
    """A network stand-in for the protocol tests: it predicts the nearer input frame (frame 0 up to
    t = 1/2, frame 1 after; exact 8-bit values, so IE has no rounding to argue about) and keeps
    every (img0, img1, timesteps, scale) it was given. It costs nothing at 512x512 or 480x640, where
    IFRNet_S costs seconds on a CPU."""

    def __init__(self, weights_source):
        super().__init__()
        self.weights_source = weights_source
        self.calls = []

    @staticmethod
    def predict(img0, img1, timesteps):
        return torch.where(torch.tensor(timesteps).view(-1, 1, 1, 1) <= 0.5, img0, img1)

    def inference(self, img0, img1, embt, scale_factor=1.0):
        timesteps = embt.flatten().tolist()
        self.calls.append((img0.clone(), img1.clone(), timesteps, scale_factor))
        return self.predict(img0, img1, timesteps)


@pytest.fixture
def stand_in(monkeypatch):
    """The benchmark scripts build a :class:`StandIn` (named after the weights they were given) instead of the network."""
    import evaluation.benchmark_command_line

    built = []

    def create_model(name, weights, **options):
        built.append(StandIn((name, Path(weights), None)))
        return built[-1]

    monkeypatch.setattr(evaluation.benchmark_command_line, "create_model", create_model)
    return built


def load(path):
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB")).copy()).permute(2, 0, 1)[None].float() / 255


def infer(model, img0, img1, timesteps, scale=1.0):
    with torch.no_grad():
        return model.inference(img0, img1, torch.tensor(timesteps).view(-1, 1, 1, 1), scale_factor=scale)


GAUSS = torch.exp(-((torch.arange(11.0) - 5) ** 2) / 4.5)
GAUSS = GAUSS / GAUSS.sum()


def blur_3d(x):
    """The 11x11x11 Gaussian of the reference's SSIM over (C, H, W), replicate-padded by 5, done as
    three 1-D passes (the window is separable): channel axis by shifted sums, then rows, columns."""
    x = F.pad(x.unsqueeze(1), (5,) * 6, mode="replicate").squeeze(1)
    channels = x.shape[1] - 10
    x = sum(GAUSS[k] * x[:, k : k + channels] for k in range(11))
    n, c, h, w = x.shape
    x = F.conv2d(x.reshape(n * c, 1, h, w), GAUSS.view(1, 1, 11, 1))
    x = F.conv2d(x, GAUSS.view(1, 1, 1, 11))
    return x.reshape(n, c, h - 10, w - 10)


def ssim_3d(pred, truth):
    mu1, mu2, p2, t2, pt = blur_3d(torch.cat([pred, truth, pred * pred, truth * truth, pred * truth])).split(1)
    var1, var2, cov = p2 - mu1 ** 2, t2 - mu2 ** 2, pt - mu1 * mu2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (var1 + var2 + c2))).mean()


# How far the script's float prediction may lie from the one computed here, in [0, 1] units: the
# script runs the lean path, this file the plain one, and each CPU's convolution kernels (AVX2,
# AVX-512, ARM) sum in their own order. Measured (IFRNet_S, seeded, AVX-512): at most 5.8e-6 on
# 640x480 video frames, 3.4e-5 on 480x640 noise; 1e-4 leaves a 3x margin over the worst and is
# 1/40 of an 8-bit level, so about 5% of the values count as able to round either way.
PREDICTION_SLACK = 1e-4


def scores(pred, truth):
    """PSNR on the float prediction, the reference's 3-D SSIM, and IE on 8-bit rounded images.

    IE comes as (low, high): a value within PREDICTION_SLACK of a rounding boundary may round
    either way in the script (on an AVX2 CPU two pixels of 35,100 did, moving IE by 5.7e-5), so
    IE is pinned to the interval its ambiguous pixels allow, not to one float.
    """
    psnr = (-10 * torch.log10(((pred - truth) ** 2).mean())).item()
    target = torch.round(truth * 255)
    errors = [(torch.round((pred + shift) * 255) - target).abs() for shift in (-PREDICTION_SLACK, 0.0, PREDICTION_SLACK)]
    low = torch.minimum(torch.minimum(errors[0], errors[1]), errors[2]).mean().item()
    high = torch.maximum(torch.maximum(errors[0], errors[1]), errors[2]).mean().item()
    return psnr, ssim_3d(pred, truth).item(), (low, high)


def within(bounds):
    """An IE between its bounds (see scores), with float32 summation's own slack on the mean."""
    low, high = bounds
    return pytest.approx((low + high) / 2, abs=(high - low) / 2 + 1e-6)


def replicate_pad(image, multiple):
    """Pads as the authors' SNU-FILM script: the odd pixel goes to the bottom/right."""
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    pads = [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2]
    return F.pad(image, pads, mode="replicate"), (pads[2], pads[0], height, width)


def crop(image, box):
    top, left, height, width = box
    return image[..., top : top + height, left : left + width]


def approx(value):
    """PSNR (and means of it) on the float prediction: lean (the script) and plain (here) predictions
    differ by up to ~3e-5 per value on any CPU, but the mean squared error averages those out; at
    96x64 to 640x480 the float32 PSNRs came out identical. rel=1e-6 (~3e-5 dB) is ten float32 ulps of
    a PSNR near 30 dB; IE, a mean of 8-bit rounded values, is not pinned this way (see scores)."""
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def approx_ssim(value):
    """The SSIM here sums in another order than utils.metrics; float32 rounding moves it by ~1e-6."""
    return pytest.approx(value, abs=2e-5)


def assert_matches(report, expected):
    """Per-sample and mean PSNR/SSIM (and IE when expected) equal the independent values."""
    assert [s["name"] for s in report["per_sample"]] == [name for name, *_ in expected]
    for sample, (name, psnr, ssim, *ie) in zip(report["per_sample"], expected):
        assert sample["psnr"] == approx(psnr), name
        assert sample["ssim"] == approx_ssim(ssim), name
        if ie:
            assert sample["ie"] == within(ie[0]), name
    assert report["count"] == len(expected)
    assert report["psnr"] == approx(np.mean([e[1] for e in expected]))
    assert report["ssim"] == approx_ssim(np.mean([e[2] for e in expected]))


def test_vimeo90k_plain_inference_and_json(tmp_path, model, common):
    root = tmp_path / "vimeo_triplet"
    names = build.build_vimeo90k(root, count=2, size=(64, 96))
    out = tmp_path / "out" / "vimeo.json"
    report = Vimeo90K.main(["--data_root", str(root), "--json", str(out), *common])

    expected = []
    for name in names:
        folder = root / "sequences" / name
        pred = infer(model, load(folder / "im1.png"), load(folder / "im3.png"), [0.5])
        expected.append((name, *scores(pred, load(folder / "im2.png"))[:2]))
    assert_matches(report, expected)

    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(report))
    assert set(written) == {"dataset", "split", "model_name", "checkpoint", "protocol", "count", "psnr", "ssim", "per_sample"}
    assert (written["dataset"], written["model_name"]) == ("Vimeo90K", MODEL)
    assert set(written["per_sample"][0]) == {"name", "psnr", "ssim"}


def test_tta_scores_the_mean_with_the_turned_pair(tmp_path, model, common):
    root = tmp_path / "vimeo_triplet"
    names = build.build_vimeo90k(root, count=2, size=(64, 96))
    report = Vimeo90K.main(["--data_root", str(root), "--tta", *common])
    expected = []
    for name in names:
        folder = root / "sequences" / name
        img0, img1 = load(folder / "im1.png"), load(folder / "im3.png")
        turned = infer(model, img0.flip(2, 3), img1.flip(2, 3), [0.5]).flip(2, 3)
        expected.append((name, *scores((infer(model, img0, img1, [0.5]) + turned) / 2, load(folder / "im2.png"))[:2]))
    assert_matches(report, expected)


def test_ucf101_limit_takes_the_first_samples_in_name_order(tmp_path, model, common, capsys):
    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["3", "1", "2"], size=(64, 64))
    report = UCF101.main(["--data_root", str(root), "--limit", "2", *common])

    expected = []
    for sample in ("1", "2"):
        pred = infer(model, load(root / sample / "frame_00.png"), load(root / sample / "frame_02.png"), [0.5])
        expected.append((sample, *scores(pred, load(root / sample / "frame_01_gt.png"))[:2]))
    assert_matches(report, expected)
    summary = capsys.readouterr().out.strip().splitlines()
    assert len(summary) == 1 and "UCF101" in summary[0] and f"PSNR {report['psnr']:.4f}" in summary[0]


def expected_snu(model, frames):
    """Replicate-pad to a multiple of 20, run at scale 0.8, crop back."""
    img0, truth, img1 = (load(path) for path in frames)
    (img0, box), (img1, _) = replicate_pad(img0, 20), replicate_pad(img1, 20)
    return scores(crop(infer(model, img0, img1, [0.5], scale=0.8), box), truth)[:2]


@pytest.mark.parametrize("keep_prefix", [False, True], ids=["prefix-dropped", "prefix-kept"])
def test_snu_film_pads_to_20_and_runs_at_scale_0_8(tmp_path, model, common, keep_prefix):
    root = tmp_path / "SNU-FILM"
    sizes = {"easy": (75, 97), "medium": (61, 83), "hard": (75, 97), "extreme": (41, 59)}
    lines = build.build_snu_film(root, sizes, keep_prefix=keep_prefix)
    report = SNU_FILM.main(["--data_root", str(root), "--split", "all", *common])

    assert report["split"] == "all" and list(report["splits"]) == list(sizes)
    on_disk = lambda p: root / p if keep_prefix else root.joinpath(*Path(p).parts[2:])  # noqa: E731
    for split, written in lines.items():
        psnr, ssim = expected_snu(model, [on_disk(p) for p in written])
        (sample,) = [s for s in report["per_sample"] if s["split"] == split]
        assert sample["name"] == written[1]
        assert (sample["psnr"], sample["ssim"]) == (approx(psnr), approx_ssim(ssim))
        assert report["splits"][split]["psnr"] == approx(psnr) and report["splits"][split]["count"] == 1

    # the protocol matters: plain padding to 16 at scale 1 gives another score
    img0, truth, img1 = (load(on_disk(p)) for p in lines["easy"])
    (img0, box), (img1, _) = replicate_pad(img0, 16), replicate_pad(img1, 16)
    plain = scores(crop(infer(model, img0, img1, [0.5]), box), truth)[0]
    assert report["splits"]["easy"]["psnr"] != approx(plain)


def test_snu_film_single_split(tmp_path, common):
    root = tmp_path / "SNU-FILM"
    build.build_snu_film(root, {"easy": (41, 59), "hard": (41, 59)}, keep_prefix=False)
    report = SNU_FILM.main(["--data_root", str(root), "--split", "hard", *common])
    assert report["split"] == "hard" and report["count"] == 1 and "splits" not in report
    assert report["per_sample"][0]["name"].endswith("clip_hard/000001.png")


def test_middlebury_zero_pads_to_480x640_and_reports_ie(tmp_path, common, stand_in):
    root = tmp_path / "Middlebury"
    sequences = ["Beanbags"]  # means over samples are every benchmark's
    build.build_middlebury(root, sequences, size=(90, 130))
    out = tmp_path / "middlebury.json"
    report = Middlebury_Other.main(["--data_root", str(root), "--limit", "1", "--json", str(out), *common])

    frames = [load(root / "other-data" / "Beanbags" / name) for name in ("frame10.png", "frame11.png")]
    (model,) = stand_in
    ((img0, img1, timesteps, scale),) = model.calls
    assert (timesteps, scale) == ([0.5], 1.0)
    for canvas, frame in zip((img0, img1), frames):  # the frame at the top left of a black 480x640 canvas
        assert canvas.shape == (1, 3, 480, 640)
        assert torch.equal(canvas[..., :90, :130], frame)
        assert not canvas[..., 90:, :].any() and not canvas[..., :, 130:].any()
    # What comes back is cropped from the canvas's top left: here, frame 0 itself.
    pred = StandIn.predict(frames[0], frames[1], [0.5])
    expected = [("Beanbags", *scores(pred, load(root / "other-gt-interp" / "Beanbags" / "frame10i11.png")))]
    assert_matches(report, expected)
    assert report["ie"] == within(expected[0][3])
    assert "ie" in json.loads(out.read_text())

    with pytest.raises(InputError, match=r"Middlebury-Other frame not found: .*Dimetrodon.*expected"):
        Middlebury_Other.main(["--data_root", str(root), *common])


def test_gopro_scores_seven_frames_on_the_512_centre_crop(tmp_path, common, stand_in):
    """The network is given GoPro's own crop of the inputs, at t = 1/8 .. 7/8, and each of its seven
    frames is scored against the same crop of its target. The network on every frame of an 8x
    window is the Adobe240 test's, on the same lister and scorer (its trailing frames left out there too)."""
    root = tmp_path / "GOPRO"
    build.build_eight_x(root, {"GOPR0384_11_00": 9}, size=(517, 530))  # one window
    report = GoPro.main(["--data_root", str(root), *common])

    frames = [root / "test" / "GOPR0384_11_00" / f"{k:06d}.png" for k in range(9)]
    top, left = 517 // 2 - 256, 530 // 2 - 256  # the authors' centre crop
    images = [load(path)[..., top : top + 512, left : left + 512] for path in frames]
    (model,) = stand_in
    ((img0, img1, timesteps, scale),) = model.calls
    assert torch.equal(img0, images[0]) and torch.equal(img1, images[8])
    assert timesteps == [k / 8 for k in range(1, 8)] and scale == 1.0
    preds = StandIn.predict(images[0], images[8], timesteps)

    (sample,) = report["per_sample"]
    assert sample["name"] == "GOPR0384_11_00/000000-000008"
    assert [f["t"] for f in sample["frames"]] == [k / 8 for k in range(1, 8)]
    for pred, k in zip(preds, range(1, 8)):
        psnr = (-10 * torch.log10(((pred - images[k][0]) ** 2).mean())).item()
        assert sample["frames"][k - 1]["psnr"] == approx(psnr)
        if k in (1, 7):  # SSIM at 512x512 costs a little: the first and the last frame
            assert sample["frames"][k - 1]["ssim"] == approx_ssim(ssim_3d(pred[None], images[k]).item())
    assert report["count"] == 1
    assert report["psnr"] == approx(np.mean([f["psnr"] for f in sample["frames"]]))
    assert report["ssim"] == approx(np.mean([f["ssim"] for f in sample["frames"]]))


def test_an_8x_benchmark_says_when_its_weights_ignore_t(tmp_path, seeded_checkpoints, capsys):
    state = torch.load(seeded_checkpoints[MODEL], weights_only=True)
    state["decoder4.convblock.0.0.weight"][:, -1] = 0
    torch.save(state, tmp_path / "IFRNet_S_Vimeo90K.pth")
    root = tmp_path / "Adobe240"
    build.build_eight_x(root, {"clip": 9}, size=(16, 16))
    for checkpoint, noted in ((tmp_path / "IFRNet_S_Vimeo90K.pth", True), (seeded_checkpoints[MODEL], False)):
        Adobe240.main(["--data_root", str(root), "--model_name", MODEL, "--checkpoint", str(checkpoint), "--device", "cpu",
                       "--no_progress"])
        err = capsys.readouterr().err
        assert ("IFRNet_S_Vimeo90K.pth ignores t" in err and "every frame scored here is its middle frame" in err) is noted


def test_adobe240_full_resolution_padded_to_16(tmp_path, model, common):
    root = tmp_path / "Adobe240"
    build.build_eight_x(root, {"clip_b": 12, "clip_a": 9, "too_short": 5}, size=(45, 71))
    report = Adobe240.main(["--data_root", str(root), *common])

    assert [s["name"] for s in report["per_sample"]] == ["clip_a/000000-000008", "clip_b/000000-000008"]
    means = []
    for sample, video in zip(report["per_sample"], ("clip_a", "clip_b")):
        images = [load(root / "test" / video / f"{k:06d}.png") for k in range(9)]
        (img0, box), (img1, _) = replicate_pad(images[0], 16), replicate_pad(images[8], 16)
        preds = crop(infer(model, img0, img1, [k / 8 for k in range(1, 8)]), box)
        per_frame = [scores(preds[k - 1 : k], images[k])[:2] for k in range(1, 8)]
        for frame, (psnr, ssim) in zip(sample["frames"], per_frame):
            assert (frame["psnr"], frame["ssim"]) == (approx(psnr), approx_ssim(ssim))
        means.extend(per_frame)
    assert report["psnr"] == approx(np.mean([p for p, _ in means]))


def test_missing_list_file_and_frames_are_named(tmp_path, common):
    root = tmp_path / "vimeo_triplet"
    root.mkdir()
    with pytest.raises(InputError, match=r"Vimeo90K list file not found: .*tri_testlist\.txt; expected .*sequences"):
        Vimeo90K.main(["--data_root", str(root), *common])

    build.build_vimeo90k(root, count=1, size=(32, 32))
    (root / "sequences" / "00001" / "0001" / "im2.png").unlink()
    with pytest.raises(InputError, match=r"Vimeo90K frame not found: .*im2\.png"):
        Vimeo90K.main(["--data_root", str(root), *common])

    snu = tmp_path / "SNU-FILM"
    snu.mkdir()
    (snu / "test-easy.txt").write_text("data/SNU-FILM/test/a/0.png data/SNU-FILM/test/a/1.png data/SNU-FILM/test/a/2.png\n")
    with pytest.raises(InputError, match=r"SNU-FILM frame not found: .*0\.png"):
        SNU_FILM.main(["--data_root", str(snu), "--split", "easy", *common])
    with pytest.raises(InputError, match=r"SNU-FILM list file not found: .*test-medium\.txt"):
        SNU_FILM.main(["--data_root", str(snu), "--split", "medium", *common])


def test_missing_checkpoint_names_the_download(tmp_path, monkeypatch):
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")  # nothing downloaded, no starter
    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["1"], size=(32, 32))
    with pytest.raises(InputError, match=r"checkpoint not found: .*IFRNet_S_Vimeo90K\.pth.*download"):
        UCF101.main(["--data_root", str(root), "--model_name", "IFRNet_S", "--device", "cpu"])


def run_script(script, *args, cwd):
    """A benchmark script in a subprocess: for the one smoke test of its real exit code and output."""
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def cli(tmp_path, monkeypatch, run_main):
    """A benchmark's main in-process in tmp_path (conftest's run_main): (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)
    return lambda module, *args: run_main(module.main, *args)


def test_cli_runs_and_refuses_a_missing_root_in_one_line(tmp_path, seeded_checkpoints, cli):
    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["1"], size=(32, 48))
    ok = run_script("UCF101.py", "--data_root", str(root), "--model_name", MODEL,
                    "--checkpoint", str(seeded_checkpoints[MODEL]), "--device", "cpu", "--json", "r.json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.count("\n") == 1 and ok.stdout.startswith("UCF101 [test] IFRNet_S")
    assert json.loads((tmp_path / "r.json").read_text())["count"] == 1

    code, _, err = cli(GoPro, "--data_root", tmp_path / "nowhere", "--device", "cpu")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "GoPro dataset root not found" in err and "<root>/test/<video>/" in err

    code, _, err = cli(UCF101, "--data_root", root, "--limit", "0")
    assert code == 2 and "--limit" in err


@pytest.fixture
def zero_checkpoint(tmp_path):
    """IFRNet_S with every weight zero: no motion, mask 0.5, no residual, so a black pair gives an exactly black frame."""
    model = seeded_model(MODEL)
    path = tmp_path / "zero.pth"
    torch.save({name: torch.zeros_like(value) for name, value in model.state_dict().items()}, path)
    return path


def test_exact_frames_are_left_out_of_the_psnr_mean_and_json_stays_strict(tmp_path, zero_checkpoint, cli):
    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["1"], size=(32, 48))
    for name in ("frame_00.png", "frame_01_gt.png", "frame_02.png"):  # sample 2: a black still, predicted exactly
        (root / "2").mkdir(exist_ok=True)
        Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(root / "2" / name)
    code, out, err = cli(UCF101, "--data_root", root, "--model_name", MODEL, "--checkpoint", zero_checkpoint,
                         "--device", "cpu", "--no_progress", "--json", "r.json")
    assert code == 0, err
    assert "nan" not in out.lower() and "inf " not in out
    assert "(n=2; 1 frame(s) predicted exactly, PSNR infinite, not in the PSNR average)" in out
    assert "1 non-finite value(s) written as null (per_sample[1].psnr=inf)" in err

    text = (tmp_path / "r.json").read_text()
    written = json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in the JSON"))
    assert [s["psnr"] is None for s in written["per_sample"]] == [False, True]
    assert written["psnr"] == approx(written["per_sample"][0]["psnr"]) and math.isfinite(written["psnr"])
    assert written["exact_frames"] == 1


def test_a_prediction_that_is_not_finite_stops_at_the_first_sample(tmp_path, model):
    from evaluation.benchmark_sets import get_benchmark, list_samples
    from evaluation.runner import score_benchmark

    class BrokenModel(torch.nn.Module):  # what NaN weights that slipped past loading would produce
        def inference(self, img0, img1, embt, scale_factor=1.0):
            return torch.full((embt.shape[0], *img0.shape[1:]), float("nan"))

    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["1", "2"], size=(32, 48))
    benchmark = get_benchmark("UCF101")
    with pytest.raises(InputError, match=r"^1: the model's prediction is not finite \(NaN or Inf\)"):
        score_benchmark(BrokenModel(), list_samples(benchmark, root), benchmark.protocol, torch.device("cpu"), progress=False)


def test_unwritable_json_is_refused_before_the_run_not_after(tmp_path, seeded_checkpoints, cli):
    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["1"], size=(32, 48))
    (tmp_path / "notes.txt").write_text("x")
    for target, message in (("notes.txt/r.json", f"--json's folder {tmp_path / 'notes.txt'} is a file, not a folder"),
                            (".", f"--json {tmp_path} is a folder; give a file name")):
        code, out, err = cli(UCF101, "--data_root", root, "--model_name", MODEL, "--checkpoint",
                             seeded_checkpoints[MODEL], "--device", "cpu", "--json", target)
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith(f"error: {message}")
        assert out == ""  # refused before scoring, not after the whole run


def test_a_json_inside_the_dataset_is_refused_before_the_run_and_its_files_are_kept(tmp_path, seeded_checkpoints, cli):
    root = tmp_path / "UCF101"
    build.build_ucf101(root, ["1"], size=(32, 48))
    frame = sorted(root.rglob("*.png"))[0]
    before = frame.read_bytes()
    for target in (frame, root / "report.json"):
        code, out, err = cli(UCF101, "--data_root", root, "--model_name", MODEL, "--checkpoint",
                             seeded_checkpoints[MODEL], "--device", "cpu", "--json", target)
        assert code == 2 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].endswith(
            f"error: --json {target} is inside --data_root {root}; write the report outside the dataset")
    assert frame.read_bytes() == before and not (root / "report.json").exists()


def test_starter_eval_refuses_an_unwritable_json_before_decoding_the_clips(tmp_path):
    from benchmarks import starter_eval

    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"--json's folder .*notes\.txt is a file"):
        starter_eval.main(["--json", str(tmp_path / "notes.txt" / "r.json"), "--device", "cpu"])


def test_a_list_file_that_is_not_text_is_named(tmp_path, common):
    root = tmp_path / "SNU-FILM"
    root.mkdir()
    (root / "test-easy.txt").write_bytes(b"\x00\xff\xfe binary")
    with pytest.raises(InputError, match=r"cannot read list file .*test-easy\.txt: it is not text"):
        SNU_FILM.main(["--data_root", str(root), "--split", "easy", *common])


def test_unreadable_or_mismatched_frames_stop_before_the_model_is_loaded(tmp_path, common, monkeypatch):
    import evaluation.benchmark_command_line

    monkeypatch.setattr(evaluation.benchmark_command_line, "create_model", lambda *a, **k: pytest.fail("the model was loaded before the frames were checked"))
    root = tmp_path / "vimeo_triplet"
    build.build_vimeo90k(root, count=2, size=(32, 48))
    broken = root / "sequences" / "00001" / "0002" / "im3.png"
    broken.write_text("not a PNG")
    with pytest.raises(InputError, match=r"cannot read image .*00001/0002/im3\.png"):
        Vimeo90K.main(["--data_root", str(root), *common])
    build.write_frame(broken, 0, 20, 20)
    with pytest.raises(InputError, match=r"^00001/0002: the frames of a sample must have one size, got im1\.png 48x32, im3\.png 20x20"):
        Vimeo90K.main(["--data_root", str(root), *common])
