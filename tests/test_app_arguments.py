"""app.py's flags: what cannot be served on (a bad port or host, a port in use), limits that are not
positive finite numbers and a --work_dir that is a file are one line and exit 2, before Gradio is
imported or the page is built. In-process: parsing and the address check start no server."""
import socket

import pytest

import app
from tests.http_server import free_loopback_port


@pytest.fixture
def refused(run_main):
    """app.py's main on bad flags: asserts exit 2 and returns stderr's last line (argparse prints its
    usage before it)."""
    def call(*args):
        code, out, err = run_main(app.main, *args)
        assert code == 2, err
        return err.strip().splitlines()[-1]
    return call


@pytest.mark.parametrize("flag, value, message", [
    ("--port", "99999", "argument --port: must be a whole number from 1 to 65535, got '99999'"),
    ("--port", "0", "argument --port: must be a whole number from 1 to 65535, got '0'"),
    ("--max_video_mb", "nan", "argument --max_video_mb: must be a positive finite number, got 'nan'"),
    ("--max_video_seconds", "inf", "argument --max_video_seconds: must be a positive finite number, got 'inf'"),
    ("--max_video_mb", "0", "argument --max_video_mb: must be a positive finite number, got '0'"),
    ("--max_image_pixels", "-5", "argument --max_image_pixels: must be a whole number of at least 1, got '-5'"),
    ("--queue_size", "0", "argument --queue_size: must be a whole number of at least 1, got '0'"),
])
def test_flags_out_of_range_are_argparse_errors(refused, flag, value, message):
    assert refused(flag, value).endswith(f"error: {message}")


def test_a_host_that_is_not_an_address_is_named_not_called_a_busy_port(refused):
    assert refused("--host", "256.1.1.1", "--port", free_loopback_port()).endswith(
        "error: --host 256.1.1.1 is not an IP address or a host name this machine resolves (Name or service not known)")


def test_a_port_in_use_is_named(refused):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert refused("--port", port).endswith(
            f"error: --port {port} is in use on 127.0.0.1 (another server, or another app.py); choose another --port")


def test_a_work_dir_that_is_a_file_is_refused_not_every_job(refused, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    assert refused("--work_dir", notes, "--port", free_loopback_port()).endswith(f"error: --work_dir {notes} is a file, not a folder")
    assert refused("--work_dir", notes / "jobs", "--port", free_loopback_port()).endswith(
        f"error: --work_dir {notes / 'jobs'} cannot be created: {notes} is a file, not a folder")
    assert notes.read_text() == "x"


def test_good_flags_pass_and_leave_the_port_free(tmp_path):
    port = free_loopback_port()
    args = app.parse_args(["--port", str(port), "--work_dir", str(tmp_path / "jobs"), "--max_video_mb", "50.5"])
    assert (args.port, args.max_video_mb, args.host) == (port, 50.5, "127.0.0.1")
    with socket.socket() as server:  # the check's probe is closed: the server can bind the port
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
