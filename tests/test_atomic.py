"""utils.atomic: a failed write leaves nothing behind and raises once; an output made by another
writer appears whole under its name or not at all; reports are strict JSON; output checks.

Tests run as root, for whom chmod does not make a folder read-only, so a read-only file system is
simulated in-process: os.replace, os.unlink or os.access are patched to fail as they do on one (EROFS).
"""
import errno
import io
import json
import math
import os

import pytest

import utils.atomic as atomic
from utils.atomic import atomic_path, atomic_writer, check_output_folder, remove_stale_temporaries, temporary_path, write_json_report
from utils.errors import InputError


def read_only(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def strict_loads(text):
    """json.loads that refuses NaN and Infinity, as JavaScript's JSON.parse and jq do."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))


def test_failed_replace_on_a_read_only_file_system_raises_once_and_leaves_no_temporary(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.os, "replace", read_only)
    monkeypatch.setattr(atomic.os, "unlink", read_only)  # the clean-up fails too, as it does there
    with pytest.raises(OSError) as info:
        with atomic_writer(tmp_path / "model.onnx") as handle:
            handle.write(b"graph")
    assert info.value.errno == errno.EROFS
    assert info.value.__context__ is None  # the clean-up's own failure is not chained onto it


def test_failed_write_removes_the_temporary_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_json_report_writes_non_finite_numbers_as_null_and_says_so(tmp_path):
    notes = io.StringIO()
    report = {"psnr": 31.5, "per_sample": [{"name": "a", "psnr": math.inf}, {"name": "b", "psnr": math.nan}]}
    replaced = write_json_report(tmp_path / "r.json", report, notes=notes)
    written = strict_loads((tmp_path / "r.json").read_text())
    assert written == {"psnr": 31.5, "per_sample": [{"name": "a", "psnr": None}, {"name": "b", "psnr": None}]}
    assert replaced == ["per_sample[0].psnr=inf", "per_sample[1].psnr=nan"]
    assert notes.getvalue().count("\n") == 1 and "2 non-finite value(s) written as null" in notes.getvalue()
    assert report["per_sample"][0]["psnr"] == math.inf  # the caller's report is not changed


def test_json_report_on_a_read_only_file_system_is_one_input_error(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.os, "replace", read_only)
    monkeypatch.setattr(atomic.os, "unlink", read_only)
    with pytest.raises(InputError, match=r"cannot write --json .*r\.json: Read-only file system"):
        write_json_report(tmp_path / "r.json", {"psnr": 1.0})


def test_output_folder_checks(tmp_path, monkeypatch):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(InputError, match=r"--output .*notes\.txt/out cannot be created: .*notes\.txt is a file"):
        check_output_folder(a_file / "out")
    with pytest.raises(InputError, match=r"--output .*notes\.txt is a file, not a folder"):
        check_output_folder(a_file)
    check_output_folder(tmp_path / "new" / "deeper")  # creatable: fine, and nothing is created
    assert not (tmp_path / "new").exists()

    real_access = os.access
    monkeypatch.setattr(atomic.os, "access", lambda path, mode: False if os.fspath(path) == os.fspath(tmp_path) else real_access(path, mode))
    with pytest.raises(InputError, match=r"is not writable \(no permission or a read-only file system\)"):
        check_output_folder(tmp_path / "new")


def test_atomic_path_replaces_only_on_success(tmp_path):
    final = tmp_path / "out.mp4"
    final.write_bytes(b"old")
    with atomic_path(final) as temp:
        assert temp.parent == tmp_path and temp.suffix == ".mp4" and temp.name.startswith(".out.")
        temp.write_bytes(b"new")
        assert final.read_bytes() == b"old"  # nothing visible under the final name until the end
    assert final.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_atomic_path_failure_deletes_the_partial_output_and_keeps_the_old(tmp_path, kind):
    final = tmp_path / ("out.mp4" if kind == "file" else "frames")
    if kind == "file":
        final.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(final) as temp:
            if kind == "file":
                temp.write_bytes(b"half")
            else:
                temp.mkdir()
                (temp / "00000000.png").write_bytes(b"half")
            raise KeyboardInterrupt
    expected = ["out.mp4"] if kind == "file" else []
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    if kind == "file":
        assert final.read_bytes() == b"old"


def test_a_temporary_left_by_a_killed_process_is_recognised_as_stale(tmp_path):
    stale = temporary_path(tmp_path / "clip.mkv")  # what atomic_path writes to before the rename
    stale.write_bytes(b"half")  # a SIGKILL here leaves it behind
    keep = tmp_path / "clip.mkv"
    keep.write_bytes(b"done")
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mkv"]
