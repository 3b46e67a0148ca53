"""utils.atomic.atomic_path: an output made by another writer appears whole under its name, or not at all."""
from __future__ import annotations

import pytest

from utils.atomic import atomic_path, remove_stale_temporaries, temporary_path


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
