"""interpolate_video reading standard input and writing standard output (``-``): the ffmpeg
pipeline of docs/video.md#pipes end to end (PyAV processes stand in for ffmpeg at both ends), the
same frames as from the file, audio through an encoded stream, a closed pipe and the refusals in
one line each."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.video_builders import decode_audio, dominant_pitches, read_video, sample_frames, write_clip
from video.batch import batch_targets

ROOT = Path(__file__).resolve().parents[1]
SIZE = (64, 48)


def write_y4m(path: Path, frames, rate: Fraction = Fraction(25)) -> Path:
    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("wrapped_avframe", rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for image in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def as_yuv420(image: np.ndarray) -> np.ndarray:
    """An RGB frame as it comes back from a yuv420p stream (what y4m holds)."""
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p").to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def frames():
    return sample_frames("bikes", 6, size=SIZE)


@pytest.fixture(scope="module")
def y4m(frames, tmp_path_factory) -> Path:
    return write_y4m(tmp_path_factory.mktemp("pipes") / "clip.y4m", frames)


def text_stream(binary) -> io.TextIOWrapper:
    """``binary`` as ``sys.stdin``/``sys.stdout`` hold it: text with a ``.buffer``."""
    return io.TextIOWrapper(binary, encoding="utf-8")


def png_frames(folder: Path):
    return [np.asarray(av.open(str(path)).decode(video=0).__next__().to_ndarray(format="rgb24"))
            for path in sorted(folder.iterdir())]


@pytest.mark.slow  # the script's pipe run as a process of its own, between two other processes
def test_the_ffmpeg_pipeline_of_the_docs_runs_end_to_end_and_makes_the_frames_of_a_file_run(
        y4m, tmp_path, video_tool, seeded_checkpoints, frames):
    """writer | interpolate_video.py --input - --output - --fps 60 | reader, the readers and writers
    PyAV processes speaking y4m: the reader gets the frames, count and rate of the same job run on
    the file into PNG frames (as y4m's yuv420p holds them)."""
    writer = textwrap.dedent(f"""
        import shutil, sys
        import av
        with av.open({str(y4m)!r}) as source, av.open(sys.stdout.buffer, "w", format="yuv4mpegpipe") as out:
            stream = out.add_stream("wrapped_avframe", rate=source.streams.video[0].average_rate)
            stream.width, stream.height, stream.pix_fmt = {SIZE[0]}, {SIZE[1]}, "yuv420p"
            for frame in source.decode(video=0):
                frame.pts = None
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    """)
    reader = textwrap.dedent(f"""
        import sys
        import av
        import numpy as np
        with av.open(sys.stdin.buffer) as source:
            stream = source.streams.video[0]
            images = [frame.to_ndarray(format="rgb24") for frame in source.decode(stream)]
            np.savez({str(tmp_path / "piped.npz")!r}, images=np.stack(images), rate=float(stream.average_rate),
                     format=source.format.name)
    """)
    tool_command = [sys.executable, str(ROOT / "interpolate_video.py"), "--input", "-", "--output", "-", "--fps", "60",
                    "--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--device", "cpu",
                    "--threads", "1"]
    write = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE)
    convert = subprocess.Popen(tool_command, stdin=write.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    write.stdout.close()  # the video_tool holds the only reading end: the writer learns if it stops
    read = subprocess.run([sys.executable, "-c", reader], stdin=convert.stdout, capture_output=True, timeout=120)
    convert.stdout.close()
    _, log = convert.communicate(timeout=120)
    assert write.wait(timeout=60) == 0 and read.returncode == 0, read.stderr.decode()
    assert convert.returncode == 0, log.decode()
    assert "runs in one piece" in log.decode()  # and nothing but the stream went to standard output

    code, _, err = video_tool("--input", y4m, "--output", tmp_path / "frames", "--fps", "60")
    assert code == 0, err
    expected = [as_yuv420(image) for image in png_frames(tmp_path / "frames")]
    piped = np.load(tmp_path / "piped.npz")
    assert str(piped["format"]) == "yuv4mpegpipe" and float(piped["rate"]) == 60
    assert len(piped["images"]) == len(expected) == 15  # 6 frames at 25 fps = 0.24 s at 60 fps
    assert all(np.array_equal(got, want) for got, want in zip(piped["images"], expected))


def test_a_piped_input_gives_the_frames_of_the_file_and_drops_only_what_a_pipe_cannot_give(
        y4m, frames, tmp_path, video_tool, monkeypatch, caplog):
    """Standard input holding the y4m file's bytes (read front to back, never sought) gives the same
    PNG frames as the file, --start included; an input stream with audio says the audio is not kept."""
    caplog.set_level("INFO", logger="ifrnet.video")
    for name, source in (("file", y4m), ("pipe", "-")):
        monkeypatch.setattr(sys, "stdin", text_stream(open(y4m, "rb")))
        code, _, err = video_tool("--input", source, "--output", tmp_path / name, "--factor", "3", "--start", "0.04")
        assert code == 0, err
    piped, from_file = png_frames(tmp_path / "pipe"), png_frames(tmp_path / "file")
    assert len(piped) == len(from_file) == 15  # frames 2-6 at 3x
    assert all(np.array_equal(a, b) for a, b in zip(piped, from_file))

    with_audio = write_clip(tmp_path / "tone.mkv", frames[:4], tone=(440, 48000))
    monkeypatch.setattr(sys, "stdin", text_stream(open(with_audio, "rb")))
    caplog.clear()
    code, _, err = video_tool("--input", "-", "--output", tmp_path / "out.mp4")
    assert code == 0, err
    assert read_video(tmp_path / "out.mp4").audio_codec is None and len(read_video(tmp_path / "out.mp4").frames) == 8
    assert any("reading a pipe" in record.getMessage() and "audio is not kept" in record.getMessage()
               for record in caplog.records)


def test_mkv_on_standard_output_carries_a_file_inputs_audio(frames, tmp_path, video_tool, monkeypatch):
    """--format mkv encodes the stream (libx264) and muxes the input's audio in: the frames and audio
    of the same job written to an .mkv file."""
    clip = write_clip(tmp_path / "tone.mp4", frames[:4], tone=(440, 48000))
    target = tmp_path / "stdout.mkv"
    with open(target, "wb") as stdout:
        monkeypatch.setattr(sys, "stdout", text_stream(stdout))
        code, _, err = video_tool("--input", clip, "--output", "-", "--format", "mkv")
        sys.stdout.flush()
    assert code == 0, err
    video = read_video(target)
    assert len(video.frames) == 8 and video.rate == 50
    assert video_tool("--input", clip, "--output", tmp_path / "file.mkv")[0] == 0
    as_file = read_video(tmp_path / "file.mkv")
    assert all(np.array_equal(a, b) for a, b in zip(video.frames, as_file.frames))
    samples, _, codec = decode_audio(target)
    assert codec == "aac" and np.array_equal(samples, decode_audio(tmp_path / "file.mkv")[0])
    assert dominant_pitches(target) == pytest.approx([440], abs=10)


def test_a_closed_output_pipe_ends_the_run_with_one_line_and_exit_1(y4m, tmp_path, video_tool, monkeypatch):
    """The program reading standard output stops after a few bytes (| head -c 100): one line, exit
    1, no traceback, nothing left on disk."""
    read_end, write_end = os.pipe()

    def read_a_little_then_stop():
        os.read(read_end, 100)
        os.close(read_end)

    reader = threading.Thread(target=read_a_little_then_stop)
    reader.start()
    monkeypatch.chdir(tmp_path)
    try:
        with open(write_end, "wb", buffering=0) as pipe:
            monkeypatch.setattr(sys, "stdout", text_stream(pipe))
            code, _, err = video_tool("--input", y4m, "--output", "-", "--factor", "8")
    finally:
        reader.join(timeout=30)
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        ": error: the output pipe was closed: the program reading it stopped before the end"), err
    assert sorted(tmp_path.iterdir()) == []


class _Terminal(io.BytesIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stdin, stdout, args, expected", [
    ("terminal", None, ("--input", "-", "--output", "OUT/x.mp4"), "standard input, which is a terminal"),
    ("empty", None, ("--input", "-", "--output", "OUT/x.mp4"), "not a video stream (or an unsupported one): <stdin>"),
    (None, "terminal", ("--input", "Y4M", "--output", "-"), "standard output, which is a terminal"),
    (None, None, ("--input", "Y4M", "--output", "-", "--format", "mp4"), "--output - writes y4m, nut, mkv (a stream)"),
    (None, None, ("--input", "Y4M", "--output", "-", "--codec", "libx264"), "y4m carries raw frames: --codec applies"),
    (None, None, ("--input", "Y4M", "--output", "-", "--image_format", "png"),
     "--image_format applies to a folder output, not to standard output (a stream)"),
    (None, None, ("--input", "Y4M", "--output", "OUT/x.mp4", "--format", "mkv"), "--format names the container"),
    (None, None, ("--input", "-", "Y4M", "--output", "OUT"), "--input - (standard input) is one input"),
])
def test_pipe_misuse_is_refused_in_one_line(stdin, stdout, args, expected, y4m, tmp_path, video_tool, monkeypatch):
    streams = {"terminal": _Terminal(), "empty": io.BytesIO()}
    if stdin:
        monkeypatch.setattr(sys, "stdin", text_stream(streams[stdin]))
    if stdout:
        monkeypatch.setattr(sys, "stdout", text_stream(streams[stdout]))
    names = {"Y4M": str(y4m), "OUT/x.mp4": str(tmp_path / "x.mp4"), "OUT": str(tmp_path / "out")}
    code, _, err = video_tool(*(names.get(arg, arg) for arg in args))
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "out").exists()


def test_a_batch_takes_its_outputs_suffix_from_format(tmp_path):
    inputs = [tmp_path / "a.mp4", tmp_path / "b.mov", tmp_path / "c"]
    assert batch_targets(inputs, tmp_path / "out", frames=False, format_name="mkv") == [
        tmp_path / "out" / "a.mkv", tmp_path / "out" / "b.mkv", tmp_path / "out" / "c.mkv"]
    assert batch_targets(inputs[:2], tmp_path / "out", frames=False) == [tmp_path / "out" / "a.mp4",
                                                                       tmp_path / "out" / "b.mov"]
    with pytest.raises(Exception, match="--format y4m cannot name a batch's outputs"):
        batch_targets(inputs, tmp_path / "out", frames=False, format_name="y4m")
