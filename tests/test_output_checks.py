"""utils.output_checks: an output path that cannot be written is refused up front, in one line.

Tests run as root, for whom chmod does not make a folder read-only, so a read-only file system is
simulated in-process: os.access is patched to answer as on one.
"""
import os

import pytest

import utils.output_checks as output_checks
from utils.errors import InputError
from utils.output_checks import check_output_file, check_output_folder


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
    monkeypatch.setattr(output_checks.os, "access", lambda path, mode: False if os.fspath(path) == os.fspath(tmp_path) else real_access(path, mode))
    with pytest.raises(InputError, match=r"is not writable \(no permission or a read-only file system\)"):
        check_output_folder(tmp_path / "new")


@pytest.mark.parametrize("output, expected", [
    ("a" * 256 + ".json", "is 261 bytes long; the file system takes at most 255"),
    ("d" * 300 + "/report.json", "is 300 bytes long; the file system takes at most 255"),
    ("loop/report.json", "a symlink loop"),
    ("loop.json", "a symlink loop"),
], ids=["long-name", "long-folder", "folder-loop", "file-loop"])
def test_an_output_the_file_system_cannot_name_is_refused_up_front(tmp_path, output, expected):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "loop.json").symlink_to(tmp_path / "loop.json")
    with pytest.raises(InputError, match=expected):
        check_output_file(tmp_path / output, "--json")
