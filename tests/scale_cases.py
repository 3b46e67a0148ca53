"""What the tests of several workers share (tests/test_scale_video.py on local processes,
tests/test_scale_ray.py on Ray): the clips, a lossless run on one worker, and the comparisons."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import List, Tuple

import numpy as np

from scale import WorkerContext
from scale.pool import Done
from tests.video_builders import read_video, sample_frames, write_clip
from tests.worker_models import blend
from video.batch import run_batch
from video.convert import ConversionJob, convert
from video.parallel import WorkerModel

SEGMENT = Fraction(3, 10)  # three segments of the 0.96 s clips (a key frame every 8 frames)
CLIP_SIZE = (64, 36)  # width, height


class InProcessPool:
    """A pool of one worker that is this process: the calls and results a worker process gets and
    sends back, without the processes (for what the driver does with them)."""

    size = 1
    shared_disk = True

    def __init__(self, factory) -> None:
        self.context = WorkerContext("cpu", factory, "here")
        self.calls = 0

    def run(self, calls):
        for index, (function, arguments) in enumerate(calls):
            self.calls += 1
            yield Done(index, function(self.context, *arguments), self.context.name)

    def close(self) -> None:
        pass


def clips(folder: Path) -> Tuple[Path, Path]:
    """Two 0.96 s clips at 25 fps with a tone and a key frame every 8 frames: three segments each
    (more than the two workers, so one worker takes a second segment).
    64x36: what crosses between processes is the same at any size, and the network's work is small."""
    return (write_clip(folder / "bikes.mp4", sample_frames("bikes", 24, size=CLIP_SIZE), gop=8, tone=(440, 44100)),
            write_clip(folder / "bunny.mp4", sample_frames("bigbuckbunny", 24, size=CLIP_SIZE), gop=8, tone=(660, 44100)))


def lossless_job(clip: Path, output: Path, **options) -> ConversionJob:
    """FFV1 in Matroska (lossless, with the clip's audio), in segments."""
    return ConversionJob(input=clip, output=output, progress=False, codec="ffv1", crf=None, segment_seconds=SEGMENT,
                         factor=3, **options)


def video_on(pool, clip: Path, folder: Path, name: str) -> Tuple[Path, Path]:
    """The clip converted on one worker (in this process) and on ``pool``: the two outputs."""
    convert(lossless_job(clip, folder / f"{name}_one.mkv"), blend)
    convert(lossless_job(clip, folder / f"{name}_pool.mkv"), WorkerModel(pool, None))
    return folder / f"{name}_one.mkv", folder / f"{name}_pool.mkv"


def assert_same_video(one: Path, other: Path) -> None:
    a, b = read_video(one), read_video(other)
    assert a.times == b.times and len(a.frames) == 72
    assert all(np.array_equal(x, y) for x, y in zip(a.frames, b.frames))
    assert b.audio_codec == a.audio_codec == "aac" and b.audio_duration == a.audio_duration


def folder_files(folder: Path) -> List[tuple]:
    return sorted((str(path.relative_to(folder)), path.read_bytes()) for path in folder.rglob("*") if path.is_file())


def batch_on(pool, inputs: List[Path], folder: Path) -> Tuple[Path, Path]:
    """A batch of PNG folders (lossless) on one worker and on ``pool``: the two output folders."""
    job = ConversionJob(input=inputs[0], output=folder / "one", progress=False, segment_seconds=SEGMENT, image_format="png")
    run_batch(job, inputs, lambda checked: (blend, {}))
    job = ConversionJob(input=inputs[0], output=folder / "pool", progress=False, segment_seconds=SEGMENT, image_format="png")
    result = run_batch(job, inputs, lambda checked: (WorkerModel(pool, None), {}))
    assert (result.written, result.failed) == (2, 0)
    return folder / "one", folder / "pool"


def same_benchmark_json(main, root: Path, folder: Path, flags: List[str], workers: List[str]) -> dict:
    """A benchmark script's JSON and printed line on one process (one thread) and on ``workers``'
    flags: asserts they are equal and returns the report."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' arithmetic: one thread each
    try:
        one = main(["--data_root", str(root), "--json", str(folder / "one.json"), *flags])
    finally:
        torch.set_num_threads(threads)
    spread = main(["--data_root", str(root), "--json", str(folder / "spread.json"), *flags, *workers])
    assert (folder / "spread.json").read_text() == (folder / "one.json").read_text()
    assert spread == one
    return one
