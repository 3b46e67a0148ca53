"""benchmarks/peers.py at a tiny size: a row for ours and for every installed peer, the peers' frames
agreeing with ours, the CPU named, the JSON; a missing peer skipped with a note."""
import importlib.util
import json

import pytest

from benchmarks import peers
from models import peer_runtimes as peer_module
from utils.precision_choice import cpu_description

# The peers run the plain float32 graph, ours the lean path; each engine sums in its own order.
# Measured at 96x64 (IFRNet_S, seeded, AVX2): 1.0e-5 (ONNX Runtime), 8.8e-6 (OpenVINO).
PEER_SLACK = 1e-4


def test_every_installed_peer_beside_ours_at_a_tiny_size(tmp_path, seeded_checkpoints, capsys):
    out = tmp_path / "peers.json"
    report = peers.main(["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
                         "--sizes", "100x60", "--rounds", "1", "--warmup", "0", "--matmul_size", "64", "--json", str(out)])
    installed, notes = peer_module.peer_runtimes()
    expected = [(peers.OURS, precision) for precision in peers.our_precisions()]
    expected += [(peer.name, peer.precision) for peer in installed]
    rows = report["rows"]
    assert [(row["runtime"], row["precision"]) for row in rows] == expected
    assert all((row["width"], row["height"]) == (100, 60) and row["best_s"] > 0 for row in rows)
    assert rows[0]["max_abs_diff_vs_ours_fp32"] == 0 and rows[0]["speed_vs_ours_fp32"] == 1
    for row in rows[1:]:
        if row["precision"] == "fp32":
            assert row["max_abs_diff_vs_ours_fp32"] < PEER_SLACK, row
        assert row["speed_vs_ours_fp32"] == pytest.approx(rows[0]["best_s"] / row["best_s"])
    assert report["cpu"] == cpu_description() and report["matmul_gflops"] > 0 and report["skipped"] == notes
    printed = capsys.readouterr().out
    assert cpu_description() in printed and "float32 matmul probe" in printed
    for runtime, precision in expected:
        assert f"| 100x60 | {runtime} | {precision} |" in printed
    assert json.loads(out.read_text())["rows"] == rows


def test_a_peer_not_installed_is_skipped_with_a_note(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(peer_module.importlib.util, "find_spec", lambda name: None if name == "openvino" else real(name))
    installed, notes = peer_module.peer_runtimes()
    assert all(peer.name != "OpenVINO" for peer in installed)
    assert notes == ["OpenVINO skipped: not installed (pip install -r requirements-peers.txt)"]
    report = {"model_name": "IFRNet_S", "cpu": "X", "threads": 1, "torch": "2", "matmul_gflops": 1.0, "rounds": 1,
              "load_before": 0.0, "load_after": 0.0, "skipped": notes, "rows": []}
    assert peers.format_table(report).splitlines()[-1] == f"note: {notes[0]}"


@pytest.mark.parametrize("size", ["1280", "1280x", "x720", "0x720", "axb"])
def test_sizes_are_width_by_height(size, capsys):
    with pytest.raises(SystemExit):
        peers.build_parser().parse_args(["--sizes", size])
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert peers.build_parser().parse_args(["--sizes", "1920x1080"]).sizes == [(1080, 1920)]
