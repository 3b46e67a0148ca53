"""Long jobs in segments: the output equals one unsegmented run frame for frame, and a rerun
resumes after the segments a killed run committed, or says what changed."""
from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path
from typing import List

import numpy as np
import pytest

from tests.video_builders import read_video, sample_frames, write_clip
from utils.errors import InputError
from video.convert import ConversionJob, convert
from video.segments import MANIFEST_NAME, work_folder


def blend(frame0: np.ndarray, frame1: np.ndarray, timesteps: List[float]) -> List[np.ndarray]:
    """A deterministic stand-in for the network: a weighted mean of the pair."""
    return [np.round(frame0 * (1 - t) + frame1 * t).astype(np.uint8) for t in timesteps]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """1.6 s at 25 fps with a key frame every 8 frames (0.32 s) and a tone: five segments of 0.3 s.
    64x36: segments, commits and resumption are the same at any size, and the network's work is small."""
    folder = tmp_path_factory.mktemp("segments")
    return write_clip(folder / "clip.mp4", sample_frames("bikes", 40, size=(64, 36)), gop=8, tone=(440, 44100))


def job(clip: Path, output: Path, **options) -> ConversionJob:
    return ConversionJob(input=clip, output=output, progress=False, **options)


def folder_frames(folder: Path) -> List[tuple]:
    return [(path.name, path.read_bytes()) for path in sorted(folder.iterdir())]


def test_segmented_frames_equal_one_run_bit_for_bit(clip, tmp_path, caplog):
    caplog.set_level("INFO", logger="ifrnet.video")
    whole = convert(job(clip, tmp_path / "whole", segment_seconds=Fraction(0), fps=Fraction(60)), blend)
    parts = convert(job(clip, tmp_path / "parts", segment_seconds=Fraction(3, 10), fps=Fraction(60)), blend)
    assert "5 segments (at 0.00, 0.32, 0.64, 0.96, " in caplog.text  # key frames every 0.32 s (x264 may add one)
    assert folder_frames(tmp_path / "parts") == folder_frames(tmp_path / "whole")
    assert (parts.frames_in, parts.frames_out, parts.interpolated) == (whole.frames_in, whole.frames_out, whole.interpolated)
    assert not work_folder(tmp_path / "parts").exists()


def test_segmented_ffv1_video_equals_one_run_with_times_and_tracks(clip, tmp_path):
    options = dict(codec="ffv1", crf=None, factor=3)
    convert(job(clip, tmp_path / "whole.mkv", segment_seconds=Fraction(0), **options), blend)
    convert(job(clip, tmp_path / "parts.mkv", segment_seconds=Fraction(3, 10), **options), blend)
    whole, parts = read_video(tmp_path / "whole.mkv"), read_video(tmp_path / "parts.mkv")
    assert parts.times == whole.times and len(parts.frames) == 120
    assert all(np.array_equal(a, b) for a, b in zip(parts.frames, whole.frames))
    assert parts.audio_codec == whole.audio_codec == "aac"
    assert parts.audio_duration == pytest.approx(whole.audio_duration, abs=0.03)


def test_segmented_mp4_keeps_its_audio_and_plays_through(clip, tmp_path):
    convert(job(clip, tmp_path / "whole.mp4", segment_seconds=Fraction(0)), blend)
    convert(job(clip, tmp_path / "parts.mp4", segment_seconds=Fraction(3, 10)), blend)
    whole, parts = read_video(tmp_path / "whole.mp4"), read_video(tmp_path / "parts.mp4")
    assert parts.times == whole.times and len(parts.frames) == 80
    assert parts.audio_codec == "aac" and parts.audio_duration == pytest.approx(whole.audio_duration, abs=0.03)


def test_a_segmented_run_removes_stale_temporaries_and_says_what_is_not_kept(clip, tmp_path, caplog):
    """What the one-piece run does before it starts, the segmented run does too."""
    caplog.set_level("INFO", logger="ifrnet.video")
    stale = tmp_path / f".parts.{'0' * 32}.tmp"  # a killed run's temporary output folder
    stale.mkdir()
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    convert(job(clip, tmp_path / "parts", segment_seconds=Fraction(3, 10)), blend)
    assert "5 segments" in caplog.text
    assert not stale.exists() and f"removed {stale}, a temporary output left by a run that was killed" in caplog.text
    assert "writing frames to a folder: the audio is not kept" in caplog.text


class Killed(BaseException):
    """Stands for SIGKILL in-process: nothing after it runs (no cleanup is asked of the job)."""


def dying_after(pairs: int):
    """``blend`` that stops the run at its ``pairs + 1``-th call; ``calls`` counts them."""
    def interpolate(frame0, frame1, timesteps):
        interpolate.calls += 1
        if interpolate.calls > pairs:
            raise Killed
        return blend(frame0, frame1, timesteps)
    interpolate.calls = 0
    return interpolate


def test_a_rerun_resumes_after_the_committed_segments_with_the_same_output(clip, tmp_path, caplog):
    caplog.set_level("INFO", logger="ifrnet.video")
    options = dict(segment_seconds=Fraction(3, 10), fps=Fraction(60))
    whole = dying_after(10**6)
    convert(job(clip, tmp_path / "whole", **options), whole)
    killed = dying_after(20)  # in the third segment
    with pytest.raises(Killed):
        convert(job(clip, tmp_path / "out", **options), killed)
    assert sorted(path.name for path in work_folder(tmp_path / "out").iterdir() if "segment_" in path.name) == [
        "segment_00000", "segment_00001"]
    rerun = dying_after(10**6)
    convert(job(clip, tmp_path / "out", **options), rerun)
    assert "resuming after the 2 done" in caplog.text
    assert rerun.calls == whole.calls - 16  # the pairs after the two segments of 8 pairs each
    assert folder_frames(tmp_path / "out") == folder_frames(tmp_path / "whole")
    assert not work_folder(tmp_path / "out").exists()


@pytest.mark.parametrize("change, message", [
    (dict(image_format="jpg"), "--image_format changed from None to jpg"),
    (dict(scene_threshold=5.0), "--scene_threshold changed from 30.0 to 5.0"),
])
def test_a_rerun_with_other_settings_says_what_changed_and_overwrite_starts_over(clip, tmp_path, change, message):
    options = dict(segment_seconds=Fraction(3, 10))
    with pytest.raises(Killed):
        convert(job(clip, tmp_path / "out", **options), dying_after(10))
    with pytest.raises(InputError, match=f"cannot resume from .*: {message}; rerun with --overwrite to start over"):
        convert(job(clip, tmp_path / "out", **options, **change), blend)
    convert(job(clip, tmp_path / "out", **options, **change, overwrite=True), blend)
    assert len(list((tmp_path / "out").iterdir())) == 80


def test_a_changed_input_or_weights_file_is_named(clip, tmp_path):
    options = dict(segment_seconds=Fraction(3, 10))
    with pytest.raises(Killed):
        convert(job(clip, tmp_path / "out", **options), dying_after(10), model={"weights_sha256": "aa"})
    with pytest.raises(InputError, match=r"the weights file changed \(sha256\): aa then, bb now"):
        convert(job(clip, tmp_path / "out", **options), blend, model={"weights_sha256": "bb"})
    copy = tmp_path / "clip.mp4"
    copy.write_bytes(clip.read_bytes())
    with pytest.raises(InputError, match=r"the input changed \(path, modified time\)"):
        convert(job(copy, tmp_path / "out", **options), blend, model={"weights_sha256": "aa"})
    assert (work_folder(tmp_path / "out") / MANIFEST_NAME).exists()  # a refusal keeps the work done


@pytest.mark.slow
def test_the_tool_killed_with_sigkill_resumes_to_the_same_frames(clip, tmp_path, seeded_checkpoints):
    """The one run in a second process: a real SIGKILL mid-job, then the same command again."""
    import signal
    import subprocess
    import sys
    import time

    import torch

    import interpolate_video
    root = Path(__file__).resolve().parents[1]
    # One thread in both processes: the same arithmetic, and no threads spinning against each other
    # on a busy machine (two threads there made this test ten times slower).
    argv = ["--input", str(clip), "--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]),
            "--device", "cpu", "--quiet", "--segment_seconds", "0.3", "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        interpolate_video.main([*argv, "--output", str(tmp_path / "whole"), "--segment_seconds", "0"])
    finally:
        torch.set_num_threads(threads)  # --threads is process-wide: the other tests keep theirs
    work = work_folder(tmp_path / "out")
    process = subprocess.Popen([sys.executable, str(root / "interpolate_video.py"), *argv, "--output", str(tmp_path / "out")],
                               cwd=root)
    deadline = time.monotonic() + 120
    while not (work / "segment_00001").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed mid-job"
    kept = sorted(path.name for path in work.iterdir() if path.name.startswith("segment_"))
    assert 2 <= len(kept) < 5
    try:
        interpolate_video.main([*argv, "--output", str(tmp_path / "out")])
    finally:
        torch.set_num_threads(threads)
    assert folder_frames(tmp_path / "out") == folder_frames(tmp_path / "whole")
    assert not work.exists()
