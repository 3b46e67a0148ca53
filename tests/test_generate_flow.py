"""generate_flow.py: correct flows for a known motion, the reference layout, resumption, RAFT padding."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import generate_flow
from datasets.flow_labels import flo_is_complete, pending_flow_labels, write_flow_labels
from tests.data_builders import make_translated_triplet, make_vimeo_triplets
from utils.errors import InputError
from models.flow_estimators import RAFTFlow, build_estimator
from utils.flow_io import read_flo

ROOT = Path(__file__).resolve().parents[1]


def run_generate_flow(*args: str) -> subprocess.CompletedProcess:
    """The script in a subprocess: only for the DataLoader-worker test, whose workers write to the real stderr."""
    return subprocess.run(
        [sys.executable, str(ROOT / "generate_flow.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_dis_recovers_a_known_translation_within_half_a_pixel(tmp_path):
    dy, dx = 2, -3
    root = make_translated_triplet(tmp_path / "vimeo_triplet", (dy, dx))
    generate_flow.main(["--data_root", str(root), "--estimator", "dis", "--num_workers", "0"])
    folder = root / "flow" / "00001" / "0001"
    flow_t0, flow_t1 = read_flo(folder / "flow_t0.flo"), read_flo(folder / "flow_t1.flo")
    assert flow_t0.shape == flow_t1.shape == (128, 160, 2)
    inner = (slice(12, -12), slice(12, -12))
    # im1 is im2 moved by (dy, dx): the flow warping im1 onto im2 is (-dx, -dy); towards im3 it is (dx, dy).
    assert np.abs(flow_t0[inner] - np.array([-dx, -dy])).mean(axis=(0, 1)).max() < 0.5
    assert np.abs(flow_t1[inner] - np.array([dx, dy])).mean(axis=(0, 1)).max() < 0.5
    assert np.abs(np.median(flow_t0[inner].reshape(-1, 2), 0) - [-dx, -dy]).max() < 0.5


def test_reruns_skip_complete_files_and_redo_broken_ones(tmp_path, capsys):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 2, (32, 48), n_test=1)
    generate_flow.main(["--data_root", str(root), "--estimator", "dis", "--num_workers", "0"])
    assert "3 triplets to label, 0 already complete" in capsys.readouterr().out
    flows = sorted((root / "flow").rglob("*.flo"))
    assert len(flows) == 6 and all(flo_is_complete(p, (32, 48)) for p in flows)
    assert not [p for p in (root / "flow").rglob("*") if p.name.startswith(".")], "no temporary files left behind"

    truncated = root / "flow" / "00001" / "0002" / "flow_t1.flo"
    truncated.write_bytes(truncated.read_bytes()[:100])
    untouched = root / "flow" / "00001" / "0001" / "flow_t0.flo"
    before = untouched.stat().st_mtime_ns
    generate_flow.main(["--data_root", str(root), "--estimator", "dis", "--num_workers", "0"])
    assert "1 triplets to label, 2 already complete" in capsys.readouterr().out
    assert flo_is_complete(truncated, (32, 48))
    assert untouched.stat().st_mtime_ns == before


def test_flo_completeness_checks_header_and_size(tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 1, (32, 48), with_flow=True, n_test=0)
    path = root / "flow" / "00001" / "0001" / "flow_t0.flo"
    assert flo_is_complete(path, (32, 48))
    assert not flo_is_complete(path, (48, 32))
    assert not flo_is_complete(root / "flow" / "missing.flo", (32, 48))
    jobs, complete = pending_flow_labels(root, ("train",))
    assert (len(jobs), complete) == (0, 1)


def test_raft_pads_sizes_it_cannot_take_and_crops_back(tmp_path):
    """RAFT needs sides divisible by 8; a 36x52 triplet must come back at 36x52 (random local weights)."""
    weights = tmp_path / "raft_small.pth"
    from torchvision.models.optical_flow import raft_small

    torch.manual_seed(0)
    torch.save(raft_small(weights=None).state_dict(), weights)
    estimator = build_estimator("raft_small", weights=weights, device="cpu", num_flow_updates=2)
    assert isinstance(estimator, RAFTFlow)
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 1, (36, 52), n_test=0)
    jobs, _ = pending_flow_labels(root, ("train",))
    assert write_flow_labels(jobs, estimator, batch_size=2, progress=False) == 1
    flow = read_flo(root / "flow" / "00001" / "0001" / "flow_t1.flo")
    assert flow.shape == (36, 52, 2) and np.isfinite(flow).all()


def test_bad_weights_are_clear_errors(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "foreign.pth")
    for name, message in (("none.pth", "not found"), ("junk.pth", "cannot read"), ("foreign.pth", "not torchvision raft_small")):
        with pytest.raises(InputError, match=message):
            build_estimator("raft_small", weights=tmp_path / name)


def test_bad_data_root_is_a_one_line_error(tmp_path, run_main):
    code, _, err = run_main(generate_flow.main, "--data_root", tmp_path / "nowhere", "--estimator", "dis")
    assert code == 2
    assert "tri_trainlist.txt" in err and len(err.strip().splitlines()) == 1, err


def test_dis_works_on_frames_under_its_12_pixel_minimum(tmp_path):
    """OpenCV's DIS raises on frames under 12 px; they are edge-padded and the flow cropped back."""
    root = make_translated_triplet(tmp_path / "vimeo_triplet", (0, 1), size=(10, 11))
    generate_flow.main(["--data_root", str(root), "--estimator", "dis", "--num_workers", "0"])
    flow_t0 = read_flo(root / "flow" / "00001" / "0001" / "flow_t0.flo")
    assert flow_t0.shape == (10, 11, 2)
    assert np.abs(np.median(flow_t0.reshape(-1, 2), 0) - [-1, 0]).max() < 0.25  # im1 is im2 moved right by 1 px


def test_a_list_file_that_is_not_text_is_a_one_line_error(tmp_path, run_main):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 1, (32, 48), n_test=0)
    (root / "tri_trainlist.txt").write_bytes(b"\x00\xff\xfe binary")
    code, _, err = run_main(generate_flow.main, "--data_root", root, "--estimator", "dis")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        f"error: cannot read Vimeo90K list {root / 'tri_trainlist.txt'}: it is not text")


@pytest.mark.slow  # two DataLoader worker processes
def test_an_unreadable_frame_read_in_a_worker_process_is_one_line(tmp_path):
    """The worker's error reaches the user as one line, not wrapped by the DataLoader ('Caught ImageError in
    DataLoader worker') with a traceback."""
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 2, (32, 48), n_test=0)
    broken = root / "sequences" / "00001" / "0002" / "im2.png"
    broken.write_text("not a PNG")
    result = run_generate_flow("--data_root", str(root), "--splits", "train", "--estimator", "dis", "--num_workers", "2")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower() or "Traceback" in line]
    assert errors == [f"generate_flow.py: error: cannot read image {broken}: cannot identify image file '{broken}'"], result.stderr
