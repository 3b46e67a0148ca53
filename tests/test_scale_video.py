"""A video's segments on two local worker processes (``--devices cpu,cpu``): the output is the
one-worker run's frame for frame, with its audio; a batch too; a worker killed mid-segment is
replaced and its segment written again."""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from scale import Workers, open_pool
from scale.workers import parse_devices
from tests.benchmark_builders import build_vimeo90k
from tests.scale_cases import (SEGMENT, assert_same_video, batch_on, clips, folder_files, lossless_job,
                               same_benchmark_json, video_on)
from tests.worker_models import DyingBlendFactory, blend
from utils.errors import InputError
from video.convert import ConversionJob, convert
from video.parallel import WorkerModel
from video.segments import segment_name, work_folder

pytestmark = pytest.mark.slow  # worker processes of their own


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return clips(tmp_path_factory.mktemp("scale"))


@pytest.fixture(scope="module")
def trigger(tmp_path_factory) -> Path:
    """While this file exists, the next worker to interpolate a pair kills itself (SIGKILL)."""
    return tmp_path_factory.mktemp("trigger") / "die"


@pytest.fixture(scope="module")
def pool(trigger):
    """Two CPU workers of one thread each, started once for the module (a start costs seconds)."""
    with open_pool(Workers(devices=("cpu", "cpu"), threads=2), DyingBlendFactory(trigger)) as running:
        yield running


def test_two_workers_write_the_same_video_with_its_audio(pool, inputs, tmp_path, caplog):
    caplog.set_level("DEBUG", logger="ifrnet.video")
    assert_same_video(*video_on(pool, inputs[0], tmp_path, "bikes"))
    writers = {line.split(" written by ")[1].split(" (")[0] for line in caplog.messages if " written by " in line}
    assert writers == {"worker 0", "worker 1"}


def test_a_batch_on_two_workers_equals_the_one_worker_batch(pool, inputs, tmp_path):
    one, spread = batch_on(pool, list(inputs), tmp_path)
    assert folder_files(spread) == folder_files(one) and len(folder_files(one)) == 96


def test_a_worker_killed_mid_segment_is_replaced_and_the_output_is_the_same(pool, inputs, tmp_path, trigger, caplog):
    pids = pool.pids
    convert(lossless_job(inputs[1], tmp_path / "one.mkv"), blend)
    trigger.touch()  # the first pair interpolated: the worker dies in its segment
    convert(lossless_job(inputs[1], tmp_path / "pool.mkv"), WorkerModel(pool, None))
    assert not trigger.exists()
    assert "exit code -9) during call" in caplog.text and "it runs again on a new worker" in caplog.text
    assert len(set(pool.pids) - set(pids)) == 1
    assert_same_video(tmp_path / "one.mkv", tmp_path / "pool.mkv")


def test_a_job_in_one_piece_interpolates_each_pair_on_a_worker(pool, inputs, tmp_path):
    """--loop runs in one piece: in the driver, the pairs on the workers."""
    options = dict(input=inputs[0], progress=False, loop=True)
    convert(ConversionJob(output=tmp_path / "one", **options), blend)
    convert(ConversionJob(output=tmp_path / "pool", **options), WorkerModel(pool, None))
    assert folder_files(tmp_path / "pool") == folder_files(tmp_path / "one")


def test_a_rerun_writes_only_the_segments_missing_wherever_they_are(inputs, tmp_path, caplog):
    """Workers commit out of order: a killed run can leave segment 1 without segment 0."""
    caplog.set_level("INFO", logger="ifrnet.video")

    def counting(frame0, frame1, timesteps):
        counting.calls += 1
        return blend(frame0, frame1, timesteps)

    options = dict(input=inputs[0], progress=False, segment_seconds=SEGMENT, fps=Fraction(60))
    counting.calls = 0
    convert(ConversionJob(output=tmp_path / "whole", **options), counting)
    whole = counting.calls
    work = work_folder(tmp_path / "out")

    class Stop(BaseException):
        pass

    def stopping(frame0, frame1, timesteps):
        if (work / segment_name(1, "")).exists():
            raise Stop
        return blend(frame0, frame1, timesteps)

    with pytest.raises(Stop):
        convert(ConversionJob(output=tmp_path / "out", **options), stopping)
    for path in (work / segment_name(0, "")).iterdir():  # as if segment 0's worker had been killed
        path.unlink()
    (work / segment_name(0, "")).rmdir()
    counting.calls = 0
    convert(ConversionJob(output=tmp_path / "out", **options), counting)
    assert "resuming after the 1 done" in caplog.text
    assert counting.calls == whole - 8  # all but segment 1's 8 pairs
    assert folder_files(tmp_path / "out") == folder_files(tmp_path / "whole")


def test_a_benchmark_on_two_workers_writes_the_json_of_one_process(tmp_path, seeded_checkpoints, capsys):
    from benchmarks import Vimeo90K

    names = build_vimeo90k(tmp_path / "vimeo", count=5, size=(64, 96))  # five samples: shards of 1
    flags = ["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--device", "cpu",
             "--no_progress"]
    report = same_benchmark_json(Vimeo90K.main, tmp_path / "vimeo", tmp_path, flags, ["--devices", "cpu,cpu"])
    assert [sample["name"] for sample in report["per_sample"]] == names  # each once, in order
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]


def test_devices_are_read_and_refused_in_one_line():
    assert parse_devices("cuda:0, cuda:1,2*cpu") == ("cuda:0", "cuda:1", "cpu", "cpu")
    with pytest.raises(InputError, match=r"--devices: 'gpu0' is not a device; expected cpu, cuda or cuda:N"):
        parse_devices("cpu,gpu0")


def test_ray_not_installed_is_one_line_naming_the_requirements_file(run_main, monkeypatch, inputs, tmp_path):
    import interpolate_video

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails
    code, _, err = run_main(interpolate_video.main, "--input", inputs[0], "--output", tmp_path / "out.mp4", "--ray")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert err.strip().endswith(": error: --ray needs Ray, which is not installed: pip install -r requirements-cluster.txt")


def test_the_tool_on_two_cpu_workers_writes_the_frames_of_one(run_main, inputs, tmp_path, seeded_checkpoints):
    """The script's path with the real network: two workers of one thread each against one thread."""
    import interpolate_video

    argv = ["--input", inputs[0], "--model_name", "IFRNet_S", "--checkpoint", seeded_checkpoints["IFRNet_S"],
            "--segment_seconds", "0.3", "--duration", "0.7", "--quiet"]  # three segments
    threads = torch.get_num_threads()
    try:
        assert run_main(interpolate_video.main, *argv, "--output", tmp_path / "one", "--threads", "1")[0] == 0
        assert run_main(interpolate_video.main, *argv, "--output", tmp_path / "two", "--threads", "2",
                        "--devices", "cpu,cpu")[0] == 0
    finally:
        torch.set_num_threads(threads)  # --threads is process-wide
    assert folder_files(tmp_path / "two") == folder_files(tmp_path / "one") and len(folder_files(tmp_path / "one")) == 35
