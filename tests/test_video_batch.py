"""A batch of inputs in one run of interpolate_video: a folder of videos, several files, a list file.
One failed input does not stop the others (exit 1), the model loads once, a rerun skips what is
finished."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.video_builders import sample_frames, write_clip


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """A folder of three short videos, the middle one damaged (cut in half: no index), and a text
    file that is not a video (left alone)."""
    folder = tmp_path_factory.mktemp("batch") / "videos"
    folder.mkdir()
    frames = sample_frames("bikes", 4, size=(64, 48))
    write_clip(folder / "a.mp4", frames)
    damaged = write_clip(folder / "b.mp4", frames)
    damaged.write_bytes(damaged.read_bytes()[: damaged.stat().st_size // 2])
    write_clip(folder / "c.mkv", frames[::-1])
    (folder / "notes.md").write_text("not a video")
    return folder


def error_lines(caplog) -> list:
    return [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]


def test_a_folder_with_a_damaged_video_gives_the_others_one_error_line_and_exit_1(videos, tmp_path, video_tool, caplog):
    caplog.set_level("INFO", logger="ifrnet.video")
    code, _, _ = video_tool("--input", videos, "--output", tmp_path / "out")
    assert code == 1
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["a.mp4", "c.mkv"]
    [error] = error_lines(caplog)
    assert error.startswith(f"{videos / 'b.mp4'}: failed: ")
    assert video_tool.loads == 1
    assert "3 inputs: 2 written, 0 skipped (finished earlier), 1 failed" in caplog.text

    written = {path.name: path.stat().st_mtime_ns for path in (tmp_path / "out").iterdir()}
    caplog.clear()
    code, _, _ = video_tool("--input", videos, "--output", tmp_path / "out")
    assert code == 1 and len(error_lines(caplog)) == 1
    assert f"{videos / 'a.mp4'}: skipped, {tmp_path / 'out' / 'a.mp4'} is finished" in caplog.text
    assert {path.name: path.stat().st_mtime_ns for path in (tmp_path / "out").iterdir()} == written
    assert video_tool.loads == 1  # nothing left to convert: no model loaded


def test_a_list_file_names_inputs_beside_it_and_frames_go_to_a_folder_each(videos, tmp_path, video_tool):
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "a.mp4").write_bytes((videos / "a.mp4").read_bytes())
    listing = tmp_path / "lists" / "inputs.txt"
    listing.write_text(f"# the good ones\na.mp4\n\n{videos / 'c.mkv'}\n")  # a.mp4: beside the list
    code, _, err = video_tool("--input", listing, "--output", tmp_path / "frames", "--image_format", "png")
    assert code == 0, err
    assert sorted(path.name for path in (tmp_path / "frames").iterdir()) == ["a", "c"]
    assert len(list((tmp_path / "frames" / "a").iterdir())) == 8  # 4 frames at 2x


@pytest.mark.parametrize("output, message", [
    ("taken.mp4", "with several inputs --output is a folder; {tmp}/taken.mp4 is a file"),
    ("out.mp4", "with several inputs --output is a folder, not {tmp}/out.mp4"),
])
def test_a_batch_into_a_file_is_refused_in_one_line(videos, tmp_path, video_tool, output, message):
    (tmp_path / "taken.mp4").write_bytes(b"")
    code, _, err = video_tool("--input", videos / "a.mp4", videos / "c.mkv", "--output", tmp_path / output)
    assert code == 2 and err.strip().splitlines()[-1].endswith(message.format(tmp=tmp_path))
    assert video_tool.loads == 0


def test_a_batch_output_that_could_replace_or_reread_its_inputs_is_refused(videos, video_tool):
    before = {path: path.read_bytes() for path in videos.iterdir() if path.is_file()}
    for inputs, output, message in (([videos / "a.mp4", videos / "c.mkv"], videos, "holds the input"),
                                    ([videos], videos, "is the input folder"),
                                    ([videos], videos / "out", "is inside the input folder")):
        code, _, err = video_tool("--input", *inputs, "--output", output)
        assert code == 2 and message in err.strip().splitlines()[-1], err
    assert video_tool.loads == 0 and not (videos / "out").exists()
    assert {path: path.read_bytes() for path in videos.iterdir() if path.is_file()} == before


def test_two_inputs_of_one_name_are_refused_before_any_is_converted(videos, tmp_path, video_tool):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.mp4").write_bytes((videos / "a.mp4").read_bytes())
    code, _, err = video_tool("--input", videos / "a.mp4", tmp_path / "other" / "a.mp4", "--output", tmp_path / "out")
    assert code == 2 and "would both be written to" in err and not (tmp_path / "out").exists()
