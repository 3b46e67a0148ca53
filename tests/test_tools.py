"""tools/*.py refuse bad input in one line (exit 2) before writing anything.

Each script runs once as a subprocess (its real exit code and stderr); the other cases call its
``main`` in-process through ``run_cli``, as the script's ``__main__`` does.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from tools import make_sample_frames, make_starter_checkpoint

ROOT = Path(__file__).resolve().parents[1]
STARTER_WEIGHTS = ROOT / "checkpoints" / "starter" / "IFRNet_S_starter.pth"


def run_tool(name, *args, cwd):
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True, cwd=cwd)


def one_line_error(result):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def in_process(tmp_path, monkeypatch, run_main):
    """Call a tool's main in ``tmp_path`` (conftest's run_main); returns its one error line."""
    monkeypatch.chdir(tmp_path)

    def call(module, *args):
        code, _, err = run_main(module.main, *args)
        return one_line_error(subprocess.CompletedProcess([], code, "", err))

    return call


def test_make_sample_frames_refuses_a_frame_beyond_the_video_before_writing_either(tmp_path):
    """On a clip of three grey frames: frame 1 exists, frame 99999 does not (the default
    bigbuckbunny.mp4 would be decoded to its end, 132 frames at 1280x720, before the refusal)."""
    import numpy as np

    from tests.video_builders import write_clip

    write_clip(tmp_path / "clip.mp4", [np.full((16, 32, 3), 128, np.uint8)] * 3)
    line = one_line_error(run_tool("make_sample_frames.py", "--video", "clip.mp4", "--frames", "1", "99999",
                                   "--output_dir", "out", cwd=tmp_path))
    assert line.endswith("video clip.mp4 has 3 frames; there is no frame 99999")
    assert not (tmp_path / "out").exists()  # the check comes before img0.png is written


def test_make_sample_frames_refuses_missing_or_foreign_videos_and_unwritable_folders(tmp_path, in_process):
    (tmp_path / "notes.txt").write_text("x")
    assert in_process(make_sample_frames, "--video", "nothere.mp4", "--output_dir", "out").endswith(
        "cannot read video nothere.mp4: No such file or directory")
    assert "cannot read video notes.txt" in in_process(make_sample_frames, "--video", "notes.txt", "--output_dir", "out")
    assert in_process(make_sample_frames, "--output_dir", "notes.txt/out").endswith(
        "--output_dir notes.txt/out cannot be created: notes.txt is a file, not a folder")


def test_make_starter_checkpoint_refuses_a_folder_or_a_path_under_a_file(tmp_path, in_process):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    assert one_line_error(run_tool("make_starter_checkpoint.py", "--weights", str(STARTER_WEIGHTS), "--output", "folder",
                                   cwd=tmp_path)).endswith(f"--output {tmp_path / 'folder'} is a folder; give a file name")
    assert in_process(make_starter_checkpoint, "--weights", str(STARTER_WEIGHTS), "--output", "notes.txt/s.pth").endswith(
        f"--output's folder {tmp_path / 'notes.txt'} is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "notes.txt"]
