"""Downloads a hostile or broken source cannot abuse (issue 23 items 5, 6, 7, 11, 18, 19, 21): sizes are capped by
declaration and by bytes read, slow sources are abandoned for the next naming their host, SHA256SUMS keeps every
line when processes record at once, a URL naming no file is refused, killed downloads' temporaries are swept.

Every source is a loopback HTTP http_server (tests/http_server.py); caps and deadlines are made small so each test
takes seconds.
"""
import hashlib
import io
import multiprocessing
import os
import struct
import threading
import time
import zipfile

import pytest

import models.downloads as downloads_module
from models.checkpoint import CheckpointError, resolve_weights
from models.downloads import DownloadLimits, read_sums, record_sum
from tests.http_server import LoopbackServer, zip_of
from utils.atomic import temporary_path
from utils.download import DownloadError, TransferLimits, download_to
from utils.errors import InputError

SMALL = "IFRNet_S_Vimeo90K.pth"
MB = 1_000_000


@pytest.fixture(scope="module")
def small_weights(seeded_checkpoints):
    return seeded_checkpoints["IFRNet_S"].read_bytes()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def download(*args, **options):
    from tools.download_checkpoints import main

    main(["--variant", "IFRNet_S", "--task", "Vimeo90K", "--no_progress", *args], **options)


def declare_size(archive: bytes, size: int) -> bytes:
    """``archive`` (one stored member) with the member's uncompressed size rewritten to ``size`` in both headers."""
    data = bytearray(archive)
    local = data.index(b"PK\x03\x04")
    struct.pack_into("<I", data, local + 22, size)
    central = data.rindex(b"PK\x01\x02")  # the outer directory comes last (the member may be a zip itself)
    struct.pack_into("<I", data, central + 24, size)
    return bytes(data)


# ---------------------------------------------------------------------------------------------
# item 5: sizes


def test_a_zip_member_declaring_1_gib_is_refused_before_unpacking_and_the_next_source_is_tried(
        tmp_path, http_server, small_weights, online):
    bomb = declare_size(zip_of({f"IFRNet_small/{SMALL}": small_weights}), 1 << 30)
    assert zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0].file_size == 1 << 30
    http_server.files["/bomb.zip"] = bomb
    online(http_server.url("/bomb.zip"))
    with pytest.raises(InputError) as error:
        download("--output", str(tmp_path / "out"))
    message = str(error.value)
    assert f"{SMALL} declares 1073.7 MB, over the 100.0 MB limit" in message and "\n" not in message, message
    assert files_under(tmp_path / "out") == []

    http_server.files[f"/good/{SMALL}"] = small_weights
    online(http_server.url("/bomb.zip"), http_server.url("/good/"))
    download("--output", str(tmp_path / "out"))
    assert (tmp_path / "out" / "IFRNet_small" / SMALL).read_bytes() == small_weights


def test_a_small_deflated_zip_that_unpacks_past_the_cap_is_refused_unpacked(tmp_path, http_server, online, monkeypatch):
    """A real zip bomb in miniature: 3 MB of zeros compress to a few kB; the file cap is set to 1 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"IFRNet_small/{SMALL}", b"\0" * (3 * MB))
    assert len(buffer.getvalue()) < 20_000
    http_server.files["/bomb.zip"] = buffer.getvalue()
    online(http_server.url("/bomb.zip"))
    monkeypatch.setattr(downloads_module, "DEFAULT_LIMITS", DownloadLimits(file_bytes=MB))
    with pytest.raises(InputError, match=r"declares 3\.0 MB, over the 1\.0 MB limit \(not unpacked\)"):
        download("--output", str(tmp_path / "out"))
    assert files_under(tmp_path / "out") == []


def test_a_declared_content_length_over_the_cap_is_refused_unread(tmp_path, http_server, small_weights, online):
    http_server.files[f"/big/{SMALL}"] = small_weights
    http_server.declared[f"/big/{SMALL}"] = 1 << 30
    online(http_server.url("/big/"))
    with pytest.raises(InputError, match=r"it declares 1073\.7 MB, over the 100\.0 MB limit \(not downloaded\)"):
        download("--output", str(tmp_path / "out"))
    assert files_under(tmp_path / "out") == []


def test_an_archive_over_its_own_cap_is_refused(tmp_path, http_server, small_weights, online, monkeypatch):
    http_server.files["/folder.zip"] = zip_of({f"IFRNet_small/{SMALL}": small_weights})
    online(http_server.url("/folder.zip"))
    monkeypatch.setattr(downloads_module, "DEFAULT_LIMITS", DownloadLimits(archive_bytes=len(small_weights) // 2))
    with pytest.raises(InputError, match="over the .* limit"):
        download("--output", str(tmp_path / "out"))


def test_an_endless_body_stops_at_the_cap(http_server):
    http_server.endless.add("/endless.pth")
    written = io.BytesIO()
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"goes on past the 2\.0 MB limit \(stopped reading\)"):
        download_to(http_server.url("/endless.pth"), written, progress=False, limits=TransferLimits(max_bytes=2 * MB))
    assert len(written.getvalue()) <= 2 * MB and time.perf_counter() - started < 10


# ---------------------------------------------------------------------------------------------
# item 6: slow sources


def test_a_source_under_the_minimum_rate_is_named_and_abandoned(http_server):
    http_server.drip["/slow.pth"] = 0.05  # 20 bytes/s
    started = time.perf_counter()
    with pytest.raises(DownloadError) as error:
        download_to(http_server.url("/slow.pth"), io.BytesIO(), progress=False,
                    limits=TransferLimits(deadline_s=30, min_rate=1000, rate_window_s=1.0))
    assert time.perf_counter() - started < 5
    host = http_server.url("").split("//")[1]
    assert str(error.value).startswith(f"{host} was too slow: ") and "under the 1 kB/s minimum" in str(error.value)


def test_a_source_past_the_overall_deadline_is_named_and_abandoned(http_server):
    http_server.drip["/slow.pth"] = 0.05
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:\d+ was too slow: .* in the 1 s allowed"):
        download_to(http_server.url("/slow.pth"), io.BytesIO(), progress=False,
                    limits=TransferLimits(deadline_s=1.0, min_rate=0, rate_window_s=60))
    assert 1.0 <= time.perf_counter() - started < 5


def test_a_source_dripping_its_headers_is_named_and_abandoned(http_server):
    """Each header byte arrives within the per-read timeout, so without a limit of its own urllib would wait for ever."""
    http_server.header_drip["/slow.pth"] = 0.05
    http_server.redirects["/moved.pth"] = "/slow.pth"  # the limit covers the redirects too
    for path in ("/slow.pth", "/moved.pth"):
        started = time.perf_counter()
        with pytest.raises(DownloadError, match=r"^127\.0\.0\.1:\d+ was too slow: no complete response headers within 1 s$"):
            download_to(http_server.url(path), io.BytesIO(), progress=False, limits=TransferLimits(headers_within_s=1.0))
        assert 1.0 <= time.perf_counter() - started < 5


def test_a_connection_opened_after_the_header_time_is_up_is_cut_at_once(http_server):
    """A redirect answered just in time opens its next connection after the limit: that connection is
    cut as it opens (this used to deadlock the watchdog on its own lock, hanging the download)."""
    import threading
    import urllib.request

    from utils.download import _HeaderWatchdog

    http_server.header_drip["/slow.pth"] = 0.05
    outcome = []

    def late_request():
        with _HeaderWatchdog(0.01) as watchdog:
            time.sleep(0.2)  # the time is up before the connection opens
            try:
                watchdog.opener().open(urllib.request.Request(http_server.url("/slow.pth")), timeout=5).close()
            except OSError as error:
                outcome.append(error)
        outcome.append(watchdog.fired)

    thread = threading.Thread(target=late_request, daemon=True)
    started = time.perf_counter()
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive(), "the watchdog hung"
    assert outcome[-1] is True and time.perf_counter() - started < 2


def test_after_a_slow_source_the_next_one_is_tried(tmp_path, http_server, small_weights, online, monkeypatch, capsys):
    slow = LoopbackServer()  # another host:port, so the message names which source was slow
    with slow:
        slow.drip[f"/m/{SMALL}"] = 0.05
        http_server.files[f"/good/{SMALL}"] = small_weights
        online(slow.url("/m/"), http_server.url("/good/"))
        monkeypatch.setattr(downloads_module, "DEFAULT_LIMITS",
                            DownloadLimits(transfer=TransferLimits(deadline_s=1.5, min_rate=1000, rate_window_s=0.5)))
        started = time.perf_counter()
        download("--output", str(tmp_path / "out"))
        assert time.perf_counter() - started < 10
    assert (tmp_path / "out" / "IFRNet_small" / SMALL).read_bytes() == small_weights


# ---------------------------------------------------------------------------------------------
# item 18: a redirect loop in one line


def test_a_redirect_loop_is_one_line(tmp_path, http_server, online):
    http_server.redirects[f"/loop/{SMALL}"] = f"/loop/{SMALL}"
    online(http_server.url("/loop/"))
    with pytest.raises(InputError) as error:
        download("--output", str(tmp_path / "out"))
    message = str(error.value)
    assert "HTTP 302: too many redirects (a redirect loop)" in message and "\n" not in message, message


# ---------------------------------------------------------------------------------------------
# item 7: SHA256SUMS under concurrent downloads


def _record_many(root, prefix, count):
    for index in range(count):
        record_sum(root, f"{prefix}/{index:03d}.pth", hashlib.sha256(f"{prefix}{index}".encode()).hexdigest())


def test_two_processes_recording_at_once_keep_every_line(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_record_many, args=(tmp_path, name, 100)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    sums = read_sums(tmp_path)
    assert len(sums) == 200 and sums["b/099.pth"] == hashlib.sha256(b"b99").hexdigest()
    assert files_under(tmp_path) == ["SHA256SUMS"]  # no lock file, no temporaries


def test_the_lock_without_fcntl_keeps_every_line_and_leaves_no_lock_file(tmp_path, monkeypatch):
    """The fallback for systems without fcntl (Windows): an exclusive lock file, removed on release."""
    import utils.folder_lock

    monkeypatch.setattr(utils.folder_lock, "fcntl", None)
    threads = [threading.Thread(target=_record_many, args=(tmp_path, name, 40)) for name in "abc"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(read_sums(tmp_path)) == 120 and files_under(tmp_path) == ["SHA256SUMS"]


# ---------------------------------------------------------------------------------------------
# item 11: a --checkpoint URL that names no file


@pytest.mark.parametrize("path", ["/dir/..", "/dir/.", "/dir/", "/dir/%2e%2e", "/dir/a%2fb"])
def test_a_checkpoint_url_naming_no_file_is_refused_in_one_line(tmp_path, http_server, online, monkeypatch, path):
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    online()
    url = http_server.url(path)
    with pytest.raises(CheckpointError) as error:
        resolve_weights("IFRNet_S", url, progress=False)
    assert str(error.value) == (f"--checkpoint {url} names no file (its path must end in a file name such as "
                                "model.pth)")
    assert http_server.requests == [] and not (tmp_path / "checkpoints").exists()


# ---------------------------------------------------------------------------------------------
# item 19: temporaries of killed downloads


def test_a_download_sweeps_the_temporaries_a_killed_download_left(tmp_path, http_server, small_weights, online, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "out"
    target = out / "IFRNet_small" / SMALL
    target.parent.mkdir(parents=True)
    hour_ago = time.time() - 3600
    stale = [temporary_path(target), temporary_path(out / "SHA256SUMS"),
             temporary_path(tmp_path / "tmp" / "ifrnet-archive.zip")]
    fresh = temporary_path(target)  # another download may be writing it right now
    for path in (*stale, fresh):
        path.write_bytes(b"partial")
    for path in stale:
        os.utime(path, (hour_ago, hour_ago))
    foreign = temporary_path(tmp_path / "tmp" / "someone-else.zip")  # /tmp is shared: only our own names go
    foreign.write_bytes(b"theirs")
    os.utime(foreign, (hour_ago, hour_ago))

    http_server.files["/folder.zip"] = zip_of({f"IFRNet_small/{SMALL}": small_weights})
    online(http_server.url("/folder.zip"))
    download("--output", str(out))
    assert target.read_bytes() == small_weights
    assert not any(path.exists() for path in stale) and fresh.exists() and foreign.exists()
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == [foreign.name]  # this run's archive is gone too


# ---------------------------------------------------------------------------------------------
# item 21: --quiet hides the download progress bar


def test_without_progress_no_download_bar_is_drawn(tmp_path, http_server, small_weights, online, monkeypatch, capsys):
    import models.checkpoint as checkpoint_module
    from models.interpolator import Interpolator

    http_server.files[f"/m/{SMALL}"] = small_weights
    online(http_server.url("/m/"))
    for progress, folder in ((True, "loud"), (False, "quiet")):
        monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / folder)
        Interpolator.load("IFRNet_S", device="cpu", progress=progress)
        bar = "%|" in capsys.readouterr().err  # tqdm's bar
        assert bar == progress


def test_interpolate_video_quiet_and_benchmarks_no_progress_reach_the_download(tmp_path, monkeypatch):
    import interpolate_video
    from PIL import Image

    from benchmarks import Vimeo90K
    from tests import benchmark_builders

    class Reached(Exception):
        pass

    seen = []

    def spy(*args, progress=True, **options):
        seen.append(progress)
        raise Reached

    frames = tmp_path / "frames"
    frames.mkdir()
    for index in range(2):
        Image.new("RGB", (32, 32), (index * 50, 0, 0)).save(frames / f"{index:03d}.png")
    monkeypatch.setattr(interpolate_video.Interpolator, "load", spy)
    for flag in ("--quiet", "--no_progress"):  # --no_progress as in every other tool; --quiet also hides the log
        with pytest.raises(Reached):
            interpolate_video.main(["--input", str(frames), "--output", str(tmp_path / "out"), "--input_fps", "10", flag])
    import evaluation.benchmark_command_line as command_line

    monkeypatch.setattr(command_line, "create_model", spy)
    root = tmp_path / "vimeo_triplet"
    benchmark_builders.build_vimeo90k(root, count=1, size=(32, 32))
    with pytest.raises(Reached):
        Vimeo90K.main(["--data_root", str(root), "--device", "cpu", "--no_progress"])
    assert seen == [False, False, False]
