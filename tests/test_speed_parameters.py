"""benchmarks/speed_parameters.py at a tiny size: its figures, its JSON, and timing a reference checkout."""
import json
import sys

import pytest

from benchmarks import precision, speed_parameters, train_speed
from evaluation.reference import load_reference_class
from evaluation.speed_worker import max_rss_bytes
from utils.errors import InputError

TINY = ["--height", "64", "--width", "96", "--runs", "1", "--warmup", "0", "--device", "cpu", "--matmul_size", "256"]

# A stand-in for a checkout of the authors' repository. Like their models/*.py it imports its own
# top-level utils.py; the project has a utils package too, so the loader must keep the two apart.
FAKE_UTILS = "CHECKOUT_MARKER = 'authors utils'\n"
FAKE_MODEL = '''
from utils import CHECKOUT_MARKER  # the checkout's utils.py, not the project's utils package


class Model:
    """Builds the project's IFRNet_S at construction time, when the project's modules are back."""

    def __new__(cls):
        from models import build_model

        model = build_model("IFRNet_S")
        model.marker = CHECKOUT_MARKER
        return model
'''


@pytest.fixture
def checkout(tmp_path):
    (tmp_path / "ref" / "models").mkdir(parents=True)
    (tmp_path / "ref" / "utils.py").write_text(FAKE_UTILS)
    (tmp_path / "ref" / "models" / "__init__.py").write_text("")
    (tmp_path / "ref" / "models" / "IFRNet_S.py").write_text(FAKE_MODEL)
    return tmp_path / "ref"


@pytest.mark.slow  # a fresh worker process per memory measurement: ours and the reference's
def test_figures_json_a_reference_checkout_with_its_own_modules_and_memory_measured_apart_from_the_caller(
        tmp_path, seeded_checkpoints, checkout, capsys):
    """One run gives our figures and the reference's beside them (each memory figure costs a fresh
    process, so the two share a run, and the check that a worker measures itself rides on it)."""
    import torch

    import utils

    model_class = load_reference_class(checkout, "IFRNet_S")
    assert model_class().marker == "authors utils"
    assert sys.modules["utils"] is utils and not hasattr(utils, "CHECKOUT_MARKER")

    # Linux carries ru_maxrss over fork and exec; a worker must not report its parent's peak. 0.4 GB
    # resident here lifts this process's peak above a worker's own (~0.65 GB: torch and IFRNet_S at
    # 64x96, about this process's size before the ballast); a worker that inherited this peak would
    # report at least parent_gb, a worker measuring itself stays 0.2 GB below it.
    ballast = torch.ones(100_000_000)
    out = tmp_path / "speed.json"
    report = speed_parameters.main(["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
                                    "--reference_dir", str(checkout), "--json", str(out), *TINY])
    parent_gb = max_rss_bytes() / 1e9
    del ballast
    (row,) = report["models"]
    assert 0 < row["rss_before_inference_gb"] <= row["peak_rss_gb"] < parent_gb - 0.2
    assert 0 < row["reference_peak_rss_gb"] < parent_gb - 0.2
    assert row["model_name"] == "IFRNet_S" and row["weights"] == str(seeded_checkpoints["IFRNet_S"])
    assert row["params_m"] == pytest.approx(2.803610)  # the published IFRNet_S has 2,803,610 parameters
    # FLOPs grow with the pixel count: 64x96 is 1/150 of 720x1280, where IFRNet_S counts ~202 GFLOPs
    assert 1.0 < row["gflops"] < 2.0
    assert row["latency_s"] > 0
    assert row["achieved_gflops"] == pytest.approx(row["gflops"] / row["latency_s"])
    assert row["matmul_fraction"] == pytest.approx(row["achieved_gflops"] / report["matmul_gflops"])
    assert row["peak_rss_gb"] >= row["rss_before_inference_gb"] > 0.05  # a fresh process with torch loaded
    assert row["reference_latency_s"] > 0 and row["reference_peak_rss_gb"] > 0
    assert row["speedup"] == pytest.approx(row["reference_latency_s"] / row["latency_s"])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    printed = capsys.readouterr().out
    assert "| IFRNet_S | 2.804 |" in printed and "GFLOP/s" in printed and "speed-up" in report["table"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--height", "100"], "multiples of 16"),
        (["--checkpoint", "x.pth"], "give --model_name"),
        (["--reference_dir", "/nonexistent/checkout"], "not a folder"),
    ],
)
def test_bad_flags_are_refused(argv, message):
    with pytest.raises(InputError, match=message):
        speed_parameters.main(argv)


@pytest.mark.parametrize(
    "script, flag, value, minimum",
    [
        (speed_parameters, "--warmup", "-1", 0),
        (speed_parameters, "--runs", "2.5", 1),
        (precision, "--warmup", "-1", 0),
        (precision, "--runs", "2.5", 1),
        (train_speed, "--warmup", "-1", 0),
        (train_speed, "--steps", "2.5", 1),
        (train_speed, "--batch_size", "0", 1),
    ],
    ids=lambda value: value.__name__.rsplit(".", 1)[-1] if hasattr(value, "build_parser") else str(value),
)
def test_counts_of_the_timing_scripts_are_whole_numbers(script, flag, value, minimum, capsys):
    """A negative warm-up or a fractional run count is argparse's one line naming the flag, not a
    silently empty loop."""
    with pytest.raises(SystemExit):
        script.build_parser().parse_args([flag, value])
    assert f"argument {flag}: must be a whole number of at least {minimum}, got '{value}'" in capsys.readouterr().err


def test_reference_dir_without_the_model_file(tmp_path):
    with pytest.raises(InputError, match=r"no models/IFRNet\.py"):
        load_reference_class(tmp_path, "IFRNet")


def test_cuda_runs_report_gpu_memory_tf32_and_free_the_parents_cache(monkeypatch):
    """The CUDA-only parts, checked on the CPU: the table column, the TF32 statement, the cache release."""
    import torch

    from evaluation.speed import SpeedRow, format_table, release_cached_memory, tf32_settings

    row = SpeedRow("IFRNet", "random", 9.8, 100.0, 0.05, 2000.0, 0.5, 2.0, 1.5, peak_cuda_gb=1.25)
    table = format_table([row], with_reference=False)
    assert "peak CUDA (GB)" in table.splitlines()[0] and table.splitlines()[2].endswith("| 1.25 |")
    assert "CUDA" not in format_table([SpeedRow("IFRNet", "random", 9.8, 100.0, 0.05, 2000.0, 0.5, 2.0, 1.5)], False)
    assert tf32_settings(torch.device("cpu")) == {}
    assert set(tf32_settings(torch.device("cuda"))) == {"convolutions", "matmul"}
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("synchronize"))
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append("empty_cache"))
    release_cached_memory(torch.device("cpu"))
    assert calls == []
    release_cached_memory(torch.device("cuda", 0))
    assert calls == ["synchronize", "empty_cache"]
