"""The models a conversion runs on (video.loading): on a pool's workers the driver says what a run
in one process says about the weights, and a bisection's time error once.

The pool here runs its calls in this process (the calls and their results are those a worker
process gets and sends back); the real worker processes are tests/test_scale_video.py's.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import interpolate_video
import video.loading
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT
from scale import WorkerContext
from scale.pool import Done
from tests.test_timestep_policy import t_blind
from utils.image_io import read_image

ROOT = Path(__file__).resolve().parents[1]


class InProcessPool:
    """A pool of one worker that is this process."""

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


@pytest.fixture
def in_process_pools(monkeypatch):
    pools = []

    def open_pool(workers, factory):
        pools.append(InProcessPool(factory))
        return pools[-1]

    monkeypatch.setattr(video.loading, "open_pool", open_pool)
    return pools


@pytest.fixture(scope="module")
def blind_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("blind") / "IFRNet_S_blind.pth"
    torch.save(t_blind(torch.load(CHECKPOINT_DIR / STARTER_CHECKPOINT, weights_only=True)), path)
    return path


def _said(caplog) -> list:
    return [(record.levelno, record.getMessage()) for record in caplog.records
            if record.name in ("ifrnet.video", "ifrnet.timesteps") and not record.getMessage().startswith("wrote ")]


def test_workers_say_the_weights_and_the_bisection_error_as_one_process_and_write_its_frames(
        tmp_path, blind_checkpoint, in_process_pools, caplog):
    frames = tmp_path / "frames"
    frames.mkdir()
    pair = [Image.open(ROOT / "figures" / name).convert("RGB").resize((96, 54), Image.BICUBIC)
            for name in ("img0.png", "img1.png")]
    for index, frame in enumerate(pair + pair[:1]):  # two moving pairs
        frame.save(frames / f"{index:03d}.png")
    common = ["--input", str(frames), "--input_fps", "24", "--fps", "60", "--model_name", "IFRNet_S",
              "--checkpoint", str(blind_checkpoint), "--device", "cpu", "--no_progress"]
    said = {}
    for name, extra in (("one", []), ("pool", ["--devices", "cpu,cpu"])):
        caplog.clear()
        with caplog.at_level(logging.INFO):
            interpolate_video.main(common + ["--output", str(tmp_path / name)] + extra)
        said[name] = _said(caplog)
    assert len(in_process_pools) == 1 and in_process_pools[0].calls > 1  # the pair calls went to the pool
    assert said["pool"] == said["one"]
    errors = [line for level, line in said["one"] if "largest time error 0.0250" in line]
    assert len(errors) == 1, said["one"]
    assert any(line.startswith("weights: IFRNet_S_blind.pth") for _, line in said["one"]), said["one"]
    one, pool = (sorted((tmp_path / name).glob("*.png")) for name in ("one", "pool"))
    assert [path.name for path in pool] == [path.name for path in one] and len(one) == 8
    for a, b in zip(one, pool):
        np.testing.assert_array_equal(read_image(a), read_image(b))
