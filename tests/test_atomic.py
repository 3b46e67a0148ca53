"""utils.atomic: a failed write leaves nothing behind and raises once; an output made by another
writer appears whole under its name or not at all; devices, FIFOs and symlinks are written through
or followed (utils.output_target); a killed process's temporaries are swept.

Tests run as root, for whom chmod does not make a folder read-only, so a read-only file system is
simulated in-process: os.replace and os.unlink are patched to fail as they do on one (EROFS).
"""
import errno
import os
import stat
import threading
from pathlib import Path

import pytest

import utils.atomic as atomic
from evaluation.json_report import write_json_report
from utils.atomic import atomic_path, atomic_writer, remove_stale_temporaries, temporary_path
from utils.errors import InputError


def read_only(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


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


@pytest.mark.parametrize("name", ["a" * 250 + ".mkv", "\u00e9" * 125 + ".mp4", "b" * 255],
                         ids=["254-bytes", "254-bytes-of-2-byte-characters", "255-bytes-without-suffix"])
@pytest.mark.parametrize("write", ["path", "writer"])
def test_a_name_the_file_system_takes_gets_a_temporary_it_takes_too(tmp_path, name, write):
    """The temporary twin adds 38 bytes: its stem is shortened (by whole characters) to stay within
    255 bytes, keeps the final extension, and is still recognised as the output's temporary."""
    final = tmp_path / name
    temporary = temporary_path(final)
    assert len(os.fsencode(temporary.name)) <= 255 and temporary.name.endswith(final.suffix)
    assert atomic.temporary_name_pattern(final).fullmatch(temporary.name)
    if write == "path":
        with atomic_path(final) as temp:
            temp.write_bytes(b"done")
    else:
        with atomic_writer(final) as handle:
            handle.write(b"done")
    assert [p.name for p in tmp_path.iterdir()] == [name] and final.read_bytes() == b"done"


# ---------------------------------------------------------------------------------------------
# devices, FIFOs and symlinks are written through or followed, never renamed over


@pytest.fixture
def char_device(tmp_path):
    """A node like /dev/null (character device 1:3) in tmp_path; tests run as root, else skipped."""
    node = tmp_path / "n"
    try:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as error:
        pytest.skip(f"mknod not permitted here: {error}")
    return node


def _write_through(writer: str, path, data: bytes) -> None:
    """Write ``data`` to ``path`` with ``atomic_writer`` (a handle) or ``atomic_path`` (a temporary path)."""
    if writer == "atomic_writer":
        with atomic_writer(path) as handle:
            handle.write(data)
    else:
        with atomic_path(path) as temp:
            temp.write_bytes(data)


@pytest.mark.parametrize("writer", ["atomic_writer", "atomic_path", "json"])
def test_a_character_device_is_written_through_and_stays_a_device(tmp_path, char_device, writer):
    if writer == "json":
        write_json_report(char_device, {"psnr": 1.0})
    else:
        _write_through(writer, char_device, b"graph")
    assert stat.S_ISCHR(os.stat(char_device).st_mode)  # still /dev/null's twin, not a JSON file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n"]  # and no temporary beside it


@pytest.mark.parametrize("writer", ["atomic_writer", "atomic_path"])
def test_a_fifo_like_dev_stdout_in_a_pipe_gets_the_content(tmp_path, writer):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    try:
        _write_through(writer, fifo, b'{"psnr": 1.0}\n')
    finally:
        reader.join(timeout=10)
    assert received == [b'{"psnr": 1.0}\n']
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


@pytest.mark.parametrize("writer", ["atomic_writer", "atomic_path"])
def test_a_symlink_stays_a_symlink_and_its_target_gets_the_content(tmp_path, writer):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "report.json"
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(Path("runs") / "report.json")  # relative, as `ln -s` makes them
    dangling = tmp_path / "next.json"
    dangling.symlink_to(tmp_path / "runs" / "next_report.json")
    for path in (link, dangling):
        _write_through(writer, path, b"new")
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "report.json")
    assert dangling.is_symlink() and (tmp_path / "runs" / "next_report.json").read_text() == "new"
    assert target.read_text() == "new"
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["next_report.json", "report.json"]


# ---------------------------------------------------------------------------------------------
# two writers of the same new output: one wins, the other is refused in one line


def _race(final, kind, overwrite):
    """Two threads write ``final``; both have their temporary ready before either moves it into place."""
    both_ready = threading.Barrier(2, timeout=10)
    outcomes = {}

    def write(name):
        try:
            if kind == "file":
                with atomic_writer(final, overwrite=overwrite) as handle:
                    handle.write(name.encode())
                    both_ready.wait()
            else:
                with atomic_path(final, overwrite=overwrite) as temp:
                    temp.mkdir()
                    (temp / "00000000.png").write_text(name)
                    both_ready.wait()
            outcomes[name] = "wrote"
        except Exception as error:  # noqa: BLE001 - the outcome is what is checked
            outcomes[name] = error

    threads = [threading.Thread(target=write, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return outcomes


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_two_writers_of_one_new_output_one_wins_and_the_other_is_refused(tmp_path, kind):
    final = tmp_path / ("out.json" if kind == "file" else "frames")
    outcomes = _race(final, kind, overwrite=False)
    winners = [name for name, outcome in outcomes.items() if outcome == "wrote"]
    losers = [outcome for outcome in outcomes.values() if outcome != "wrote"]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert isinstance(losers[0], InputError)
    message = str(losers[0])
    assert "\n" not in message and "already exists" in message and "--overwrite" in message and str(final) in message
    written = final.read_text() if kind == "file" else (final / "00000000.png").read_text()
    assert written == winners[0]  # the winner's output, whole, is what stays
    assert [p.name for p in tmp_path.iterdir()] == [final.name]  # the loser's temporary is gone


def test_a_folder_that_appeared_meanwhile_is_refused_even_with_overwrite_not_a_crash(tmp_path):
    final = tmp_path / "frames"
    outcomes = _race(final, "folder", overwrite=True)
    assert sorted(map(str, map(type, outcomes.values()))) == sorted([str(str), str(InputError)]), outcomes
    assert [p.name for p in tmp_path.iterdir()] == ["frames"]


def test_without_overwrite_a_file_system_without_hard_links_still_refuses_atomically(tmp_path, monkeypatch):
    def no_links(*_args):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    outcomes = _race(tmp_path / "out.json", "file", overwrite=False)
    assert sorted(type(o).__name__ for o in outcomes.values()) == ["InputError", "str"], outcomes
    assert (tmp_path / "out.json").read_text() in outcomes
    with atomic_writer(tmp_path / "out.json") as handle:  # overwrite (the default) still replaces
        handle.write(b"again")
    assert (tmp_path / "out.json").read_bytes() == b"again"


# ---------------------------------------------------------------------------------------------
# a full disk: one line naming the path, nothing half-written


def test_a_full_disk_is_one_line_naming_the_path_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(InputError) as info:
        with atomic_writer(target) as handle:
            handle.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"cannot write {target}: no space left on device"
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]

    with pytest.raises(InputError, match=r"^cannot write .*clip\.mp4: no space left on device$"):
        with atomic_path(tmp_path / "clip.mp4") as temp:
            temp.write_bytes(b"half")
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_a_program_sharing_a_folder_sweeps_only_its_own_outputs_temporaries(tmp_path):
    mine = temporary_path(tmp_path / "IFRNet.onnx")
    other_name = temporary_path(tmp_path / "IFRNet_S.onnx")  # another export's, perhaps still running
    other_kind = temporary_path(tmp_path / "IFRNet.mp4")
    for path in (mine, other_name, other_kind):
        path.write_bytes(b"half")
    assert remove_stale_temporaries(tmp_path, output=tmp_path / "IFRNet.onnx") == [mine]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([other_name.name, other_kind.name])


def test_dev_stdout_redirected_to_a_file_gets_the_report_between_the_printed_lines(tmp_path):
    """`tool --json /dev/stdout > out.txt`: the report is written through the process's own descriptor,
    so the file keeps what was printed before and after it (a rename would unlink it, a reopen truncate it)."""
    out = tmp_path / "out.txt"
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        inode = os.stat(out).st_ino
        os.write(descriptor, b"printed before\n")
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{descriptor}")  # what /dev/stdout is, for descriptor 1
        write_json_report(link, {"psnr": 1.0})
        os.write(descriptor, b"printed after\n")
    finally:
        os.close(descriptor)
    assert out.read_text() == 'printed before\n{\n  "psnr": 1.0\n}\nprinted after\n'
    assert os.stat(out).st_ino == inode and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "stdout"]


def test_an_outputs_stale_temporary_folders_are_swept_beside_and_inside_it_and_young_ones_kept(tmp_path):
    """atomic_path's temporary for a frame folder is a folder, and a writer merging into an existing
    output folder keeps its temporary inside it: both go once stale, with what they hold."""
    output = tmp_path / "frames"
    output.mkdir()
    beside, inside, young = temporary_path(output), temporary_path(output, folder=output), temporary_path(output)
    for folder in (beside, inside, young):
        folder.mkdir()
        (folder / "00000000.png").write_bytes(b"partial")
    old = os.stat(tmp_path).st_mtime - 3600
    for path in (beside, inside, beside / "00000000.png", inside / "00000000.png"):
        os.utime(path, (old, old))
    link = temporary_path(output)
    link.symlink_to(young)  # never followed nor removed
    removed = remove_stale_temporaries(tmp_path, output=output, older_than_s=600)
    assert sorted(removed) == sorted([beside, inside])
    assert not beside.exists() and not inside.exists() and young.is_dir() and link.is_symlink()
