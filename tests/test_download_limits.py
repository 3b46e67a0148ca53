"""Downloads a hostile or broken source cannot abuse: sizes are capped by declaration and by bytes read, slow
sources are abandoned for the next naming their host, only http(s) redirects are followed, credentials and query
strings never reach a message, each file is fetched under the folder's lock (SHA256SUMS keeps every line, no file
is fetched twice), a URL naming no file is refused, killed downloads' temporaries are swept.

Every source is a loopback HTTP http_server (tests/http_server.py); caps and deadlines are made small so each test
takes seconds.
"""
import hashlib
import io
import multiprocessing
import os
import struct
import time
import zipfile

import pytest

import models.downloads as downloads_module
from models.checkpoint import CheckpointError, resolve_weights
from models.downloads import LOCK_FILE, Downloader, read_sums, record_sum
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
    monkeypatch.setattr(downloads_module, "FILE_LIMITS", TransferLimits(max_bytes=MB))
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
    monkeypatch.setattr(downloads_module, "ARCHIVE_LIMITS", TransferLimits(max_bytes=len(small_weights) // 2))
    with pytest.raises(InputError, match="over the .* limit"):
        download("--output", str(tmp_path / "out"))


def test_an_endless_body_stops_at_the_cap(http_server):
    http_server.endless.add("/endless.pth")
    written = io.BytesIO()
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"goes on past the 2\.0 MB limit \(stopped reading\)"):
        download_to(http_server.url("/endless.pth"), written, progress=False, limits=TransferLimits(max_bytes=2 * MB))
    assert len(written.getvalue()) <= 2 * MB and time.perf_counter() - started < 10


def test_a_source_under_the_minimum_rate_is_named_and_abandoned(http_server):
    http_server.drip["/slow.pth"] = 0.05  # 20 bytes/s
    started = time.perf_counter()
    with pytest.raises(DownloadError) as error:
        download_to(http_server.url("/slow.pth"), io.BytesIO(), progress=False,
                    limits=TransferLimits(deadline_s=30, min_rate=1000, rate_window_s=0.5))
    assert time.perf_counter() - started < 5
    host = http_server.url("").split("//")[1]
    assert str(error.value).startswith(f"{host} was too slow: ") and "under the 1 kB/s minimum" in str(error.value)


def test_a_source_past_the_overall_deadline_is_named_and_abandoned(http_server):
    http_server.drip["/slow.pth"] = 0.05
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:\d+ was too slow: .* in the 0\.5 s allowed"):
        download_to(http_server.url("/slow.pth"), io.BytesIO(), progress=False,
                    limits=TransferLimits(deadline_s=0.5, min_rate=0, rate_window_s=60))
    assert 0.5 <= time.perf_counter() - started < 5


def test_a_source_dripping_its_headers_is_named_and_abandoned(http_server):
    """Each header byte arrives within the per-read timeout, so without a limit of its own the request would wait for ever."""
    http_server.header_drip["/slow.pth"] = 0.05
    http_server.redirects["/moved.pth"] = "/slow.pth"  # the limit covers the redirects too
    for path in ("/slow.pth", "/moved.pth"):
        started = time.perf_counter()
        with pytest.raises(DownloadError, match=r"^127\.0\.0\.1:\d+ was too slow: no complete response headers within 0\.5 s$"):
            download_to(http_server.url(path), io.BytesIO(), progress=False, limits=TransferLimits(headers_within_s=0.5))
        assert 0.5 <= time.perf_counter() - started < 5


def test_a_connection_opened_after_the_header_time_is_up_is_given_up_at_once(http_server):
    """A redirect answered just in time opens its next connection after the limit, when there is
    no socket left to cut: that request must end at once, not wait on the dripping headers."""
    from utils.download import _get, _HeaderDeadline

    http_server.header_drip["/slow.pth"] = 0.05
    deadline = _HeaderDeadline(0.01)
    deadline.join()  # the time is up before the connection opens
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        _get(http_server.url("/slow.pth"), deadline)
    assert time.perf_counter() - started < 1 and deadline.stop()


def test_after_a_slow_source_the_next_one_is_tried(tmp_path, http_server, small_weights, online, monkeypatch, capsys):
    slow = LoopbackServer()  # another host:port, so the message names which source was slow
    with slow:
        slow.drip[f"/m/{SMALL}"] = 0.05
        http_server.files[f"/good/{SMALL}"] = small_weights
        online(slow.url("/m/"), http_server.url("/good/"))
        monkeypatch.setattr(downloads_module, "FILE_LIMITS", TransferLimits(deadline_s=1.0, min_rate=1000, rate_window_s=0.3))
        started = time.perf_counter()
        download("--output", str(tmp_path / "out"))
        assert time.perf_counter() - started < 10
    assert (tmp_path / "out" / "IFRNet_small" / SMALL).read_bytes() == small_weights


def test_a_redirect_loop_is_one_line(tmp_path, http_server, online):
    http_server.redirects[f"/loop/{SMALL}"] = f"/loop/{SMALL}"
    online(http_server.url("/loop/"))
    with pytest.raises(InputError) as error:
        download("--output", str(tmp_path / "out"))
    message = str(error.value)
    assert "more than 10 redirects (a redirect loop)" in message and "\n" not in message, message


@pytest.mark.parametrize("location, shown", [
    ("ftp://127.0.0.1:21/pub/model.pth", "ftp://127.0.0.1:21/pub/model.pth"),  # would escape the header deadline
    ("file:///etc/passwd", "file:///etc/passwd"),
    ("data:application/octet-stream;base64,UEsDBA==", "data:..."),
])
def test_a_redirect_to_another_scheme_is_refused_naming_why(http_server, location, shown):
    http_server.redirects["/moved.pth"] = location
    with pytest.raises(DownloadError) as error:
        download_to(http_server.url("/moved.pth"), io.BytesIO(), progress=False)
    assert str(error.value) == f"redirected to a non-http(s) URL {shown}"


def test_credentials_and_query_strings_never_reach_a_message_or_the_log(tmp_path, http_server, online, monkeypatch, capsys):
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    http_server.files["/mine/junk.pth?X-Amz-Signature=TOKEN"] = b"not weights"
    online(http_server.url("/mirror/").replace("//", "//user:secret@"))
    with pytest.raises(InputError) as error:
        download("--output", str(tmp_path / "out"))
    assert f"{http_server.url('/mirror/')}: HTTP 404" in str(error.value) and "secret" not in str(error.value)
    assert http_server.authorizations[-1] == "Basic dXNlcjpzZWNyZXQ="  # user:secret, sent as basic authentication
    url = http_server.url("/mine/junk.pth?X-Amz-Signature=TOKEN").replace("//", "//user:secret@")
    with pytest.raises(InputError, match=r"junk\.pth: http://127\.0\.0\.1:\d+/mine/junk\.pth: it is not a PyTorch") as error:
        resolve_weights("IFRNet_S", url, progress=False)
    logged = capsys.readouterr().err
    assert "downloading http://127.0.0.1" in logged
    for text in (str(error.value), logged):
        assert "secret" not in text and "TOKEN" not in text, text


def _record_many(root, prefix, count):
    for index in range(count):
        record_sum(root, f"{prefix}/{index:03d}.pth", hashlib.sha256(f"{prefix}{index}".encode()).hexdigest())


def test_two_processes_recording_at_once_keep_every_line(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_record_many, args=(tmp_path, name, 50)) for name in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    sums = read_sums(tmp_path)
    assert len(sums) == 100 and sums["b/049.pth"] == hashlib.sha256(b"b49").hexdigest()
    assert files_under(tmp_path) == [LOCK_FILE, "SHA256SUMS"]  # no temporaries


def test_a_file_is_fetched_under_the_folder_lock_and_not_again_by_whoever_waited(tmp_path, http_server, small_weights):
    from filelock import FileLock, Timeout

    from models.checkpoint import verify_weights_file

    http_server.files[f"/m/{SMALL}"] = small_weights
    verified = []

    def verify(path):  # mid-download: another process cannot take the lock
        with pytest.raises(Timeout):
            FileLock(tmp_path / LOCK_FILE, timeout=0).acquire()
        verified.append(verify_weights_file(path, "IFRNet_S"))

    sources = [("mirror", http_server.url(f"/m/{SMALL}"), False)]
    with Downloader(tmp_path, progress=False) as first, Downloader(tmp_path, progress=False) as waited:
        first.fetch(f"IFRNet_small/{SMALL}", sources, verify)
        waited.fetch(f"IFRNet_small/{SMALL}", sources, verify)  # as a process that got the lock once the first had finished
    assert http_server.requests == [f"/m/{SMALL}"] and verified == ["IFRNet_S"]


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


def test_a_checkpoint_url_whose_file_name_no_file_system_holds_is_refused_in_one_line(tmp_path, http_server, online,
                                                                                     monkeypatch):
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    online()
    url = http_server.url("/" + "w" * 252 + ".pth")
    with pytest.raises(CheckpointError, match="its file name is 256 bytes, over the 255 a file name may have"):
        resolve_weights("IFRNet_S", url, progress=False)
    assert http_server.requests == []


def test_a_download_sweeps_the_temporaries_a_killed_download_left(tmp_path, http_server, small_weights, online, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "out"
    target = out / "IFRNet_small" / SMALL
    target.parent.mkdir(parents=True)
    hour_ago = time.time() - 3600
    stale = [temporary_path(target), temporary_path(out / "SHA256SUMS")]
    fresh = temporary_path(target)  # another download may be writing it right now
    for path in (*stale, fresh):
        path.write_bytes(b"partial")
    for path in stale:
        os.utime(path, (hour_ago, hour_ago))
    foreign = temporary_path(tmp_path / "tmp" / "someone-else.zip")  # /tmp is shared: not ours to sweep
    foreign.write_bytes(b"theirs")
    os.utime(foreign, (hour_ago, hour_ago))

    http_server.files["/folder.zip"] = zip_of({f"IFRNet_small/{SMALL}": small_weights})
    online(http_server.url("/folder.zip"))
    download("--output", str(out))
    assert target.read_bytes() == small_weights
    assert not any(path.exists() for path in stale) and fresh.exists() and foreign.exists()
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == [foreign.name]  # the archive left no file


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
    from models.interpolator import Interpolator
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
    monkeypatch.setattr(Interpolator, "load", spy)
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
