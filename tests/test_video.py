"""interpolate_video.py on real clips (Big Buck Bunny, bikes) with seeded IFRNet_S weights, on CPU.

The seeded network is random, so its in-between frames look nothing like the inputs (~21 dB);
that makes "this output frame is an original" (> 35 dB after the codec) an unambiguous check.
"""
from __future__ import annotations

import logging
import re
import sys
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

import interpolate_video
from datasets.starter_data.clips import clip_path
from models.interpolator import Interpolator, auto_scale_factor
from tests.seeded import seeded_model
from tests.video_builders import decode_audio, psnr, read_video, sample_frames, write_clip
from tests.video_cli import MISSING, assert_refused, cli, run
from video.timing import OutputClock

ROOT = Path(__file__).resolve().parents[1]
CLIP_FRAMES = 6
ORIGINAL_DB = 35.0
ODD_SIZE = (71, 37)  # neither side a multiple of 16, nor even
CLIP_SIZE = (64, 36)  # the clips' width and height: what is checked holds at any size, and the network's work is small


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Small real inputs, built once: a clip with audio, a VFR clip, a clip with a cut, a frame folder."""
    folder = tmp_path_factory.mktemp("clips")
    bunny = sample_frames("bigbuckbunny", CLIP_FRAMES, size=CLIP_SIZE)
    bikes = sample_frames("bikes", 2, size=CLIP_SIZE)
    made = {
        "bunny": write_clip(folder / "bunny.mp4", bunny, audio_from=clip_path("bigbuckbunny")),
        "vfr": write_clip(folder / "vfr.mp4", bunny[:6], timestamps=[Fraction(ms, 1000) for ms in (0, 40, 120, 160, 280, 320)]),
        "cut": write_clip(folder / "cut.mp4", bunny[2:4] + bikes),
        "one_frame": write_clip(folder / "one.mp4", bunny[:1]),
    }
    frames_dir = folder / "frames"
    frames_dir.mkdir()
    for number, image in enumerate(sample_frames("bigbuckbunny", 5, size=ODD_SIZE)):
        Image.fromarray(image).save(frames_dir / f"frame{number + 1}.png")  # frame10 would sort after frame9
    made["frames"] = frames_dir
    return made


@pytest.fixture
def checkpoint(seeded_checkpoints):
    return seeded_checkpoints["IFRNet_S"]


def audio_packets(path):
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


@pytest.mark.parametrize("factor", [2, 4])
def test_factor_keeps_rate_duration_audio_and_originals(tmp_path, clips, checkpoint, factor):
    out = tmp_path / f"bunny_{factor}x.mp4"
    run(clips["bunny"], out, checkpoint, "--factor", factor, "--crf", 12)
    source, result = read_video(clips["bunny"]), read_video(out)

    assert len(result.frames) == CLIP_FRAMES * factor
    assert result.rate == 25 * factor
    assert result.duration == pytest.approx(source.duration, abs=1e-6) == pytest.approx(CLIP_FRAMES / 25)
    assert result.times == [Fraction(k, 25 * factor) for k in range(CLIP_FRAMES * factor)]
    # The audio is there, as long as before, and copied bit for bit rather than re-encoded.
    assert result.audio_codec == "aac"
    assert result.audio_duration == pytest.approx(source.audio_duration, abs=1e-3)
    assert audio_packets(out) == audio_packets(clips["bunny"])
    for k, frame in enumerate(result.frames):
        original = source.frames[min(k // factor, CLIP_FRAMES - 1)]
        if k % factor == 0 or k > factor * (CLIP_FRAMES - 1):  # originals, and the last one held to the end
            assert psnr(frame, original) > ORIGINAL_DB, k
        else:
            assert psnr(frame, original) < ORIGINAL_DB - 5, k  # really interpolated, not a copy


def test_target_fps_gives_each_frame_the_timestep_of_its_timestamp(tmp_path, clips, checkpoint, monkeypatch):
    """A variable-rate clip (frames at 0, 40, 120, 160, 280, 320 ms) resampled to 50 fps."""
    calls = []
    original = Interpolator.interpolate

    def spy(self, frame0, frame1, timesteps):
        calls.append([round(t, 6) for t in timesteps])
        return original(self, frame0, frame1, timesteps)

    monkeypatch.setattr(Interpolator, "interpolate", spy)
    out = tmp_path / "vfr_50.mp4"
    run(clips["vfr"], out, checkpoint, "--fps", 50, "--crf", 8)  # at 64x36 crf 12 leaves the originals under ORIGINAL_DB
    source, result = read_video(clips["vfr"]), read_video(out)

    assert calls == [[0.5], [0.25, 0.5, 0.75], [0.5], [round(i / 6, 6) for i in range(1, 6)], [0.5]]
    assert result.rate == 50 and len(result.frames) == 18  # 0.36 s: the last frame lasts 40 ms too
    originals = {0: 0, 2: 1, 6: 2, 8: 3, 14: 4, 16: 5, 17: 5}
    for k, frame in enumerate(result.frames):
        if k in originals:
            assert psnr(frame, source.frames[originals[k]]) > ORIGINAL_DB, k
        else:
            assert max(psnr(frame, s) for s in source.frames) < ORIGINAL_DB, k


def test_scene_cut_repeats_the_nearer_original(tmp_path, clips, checkpoint):
    """Two frames of Big Buck Bunny then two of 'bikes': nothing at the cut blends the two."""
    source = read_video(clips["cut"])
    out = tmp_path / "cut_4x.mp4"
    run(clips["cut"], out, checkpoint, "--factor", 4, "--crf", 12)
    frames = read_video(out).frames
    assert len(frames) == 16
    assert psnr(frames[5], source.frames[1]) > ORIGINAL_DB  # t = 0.25: the last bunny frame
    assert psnr(frames[6], source.frames[1]) > ORIGINAL_DB  # t = 0.5: still the nearer (earlier) one
    assert psnr(frames[7], source.frames[2]) > ORIGINAL_DB  # t = 0.75: the first bikes frame
    assert psnr(frames[1], source.frames[0]) < ORIGINAL_DB - 5  # within a shot: interpolated

    # With detection off, the same positions are blends of two unrelated shots.
    run(clips["cut"], tmp_path / "blend.mp4", checkpoint, "--factor", 4, "--crf", 12, "--scene_threshold", 0)
    blended = read_video(tmp_path / "blend.mp4").frames
    assert max(psnr(blended[6], source.frames[1]), psnr(blended[6], source.frames[2])) < ORIGINAL_DB


def test_folder_in_folder_out_at_an_odd_size(tmp_path, clips, checkpoint):
    out = tmp_path / "frames_3x"
    run(clips["frames"], out, checkpoint, "--factor", 3)
    inputs = [np.asarray(Image.open(p)) for p in sorted(clips["frames"].iterdir(), key=lambda p: int(p.stem[5:]))]
    written = sorted(out.iterdir())
    assert [p.name for p in written] == [f"{k:08d}.png" for k in range(15)]
    outputs = [np.asarray(Image.open(p)) for p in written]
    assert all(o.shape == (ODD_SIZE[1], ODD_SIZE[0], 3) for o in outputs)
    for k in range(0, 15, 3):
        np.testing.assert_array_equal(outputs[k], inputs[k // 3])  # lossless: exact copies
    assert not np.array_equal(outputs[1], inputs[0])


def test_folder_in_video_out_at_an_odd_size(tmp_path, clips, checkpoint):
    out = tmp_path / "frames.mp4"
    run(clips["frames"], out, checkpoint, "--factor", 2, "--input_fps", 30, "--crf", 12)
    result = read_video(out)
    assert len(result.frames) == 10 and result.rate == 60 and result.audio_codec is None
    assert result.frames[0].shape == (ODD_SIZE[1], ODD_SIZE[0], 3)
    first = np.asarray(Image.open(clips["frames"] / "frame1.png"))
    assert psnr(result.frames[0], first) > ORIGINAL_DB


def _interrupt_on_call(monkeypatch, call_number):
    original, count = Interpolator.interpolate, [0]

    def interrupted(self, *args):
        count[0] += 1
        if count[0] == call_number:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Interpolator, "interpolate", interrupted)


@pytest.mark.parametrize("kind", ["video", "folder"])
def test_interrupted_run_leaves_nothing_under_the_output_name(tmp_path, clips, checkpoint, monkeypatch, capsys, kind):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / ("bunny.mp4" if kind == "video" else "bunny_frames")
    _interrupt_on_call(monkeypatch, 4)
    code, _ = cli(clips["bunny"], out, checkpoint, capsys)
    assert code == 130
    assert list(out_dir.iterdir()) == []  # neither the output nor a temporary file

    # An interrupted --overwrite keeps the previous output intact.
    run(clips["bunny"], out, checkpoint)
    before = read_video(out).frames if kind == "video" else sorted(p.name for p in out.iterdir())
    _interrupt_on_call(monkeypatch, 2)
    code, _ = cli(clips["bunny"], out, checkpoint, capsys, "--overwrite", "--factor", 4)
    assert code == 130
    after = read_video(out).frames if kind == "video" else sorted(p.name for p in out.iterdir())
    assert len(after) == len(before) == 2 * CLIP_FRAMES
    assert [p.name for p in out_dir.iterdir()] == [out.name]


def _garbled_video(clips, folder):
    """The bunny clip with its compressed frames overwritten by noise (the index left intact)."""
    data = bytearray(clips["bunny"].read_bytes())
    start, end = data.find(b"mdat") + 8, data.find(b"moov")
    assert 0 < start < end
    data[start:end] = np.random.default_rng(0).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    path = folder / "garbled.mp4"
    path.write_bytes(bytes(data))
    return path


def _text_file(clips, folder):
    path = folder / "notes.mp4"
    path.write_text("hello, this is not a video")
    return path


def _audio_only(clips, folder):
    path = folder / "audio.m4a"
    with av.open(str(clips["bunny"])) as source, av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.size:
                packet.stream = stream
                out.mux(packet)
    return path


def _bad_frame_folder(clips, folder):
    path = folder / "bad_frames"
    path.mkdir()
    for name in ("a1.png", "a2.png"):
        (path / name).write_bytes((clips["frames"] / "frame1.png").read_bytes())
    (path / "a3.png").write_bytes(b"not a png at all")
    return path


BAD_INPUTS = {
    "not a video": (_text_file, "not a video file"),
    "no video stream": (_audio_only, "has no video stream"),
    "one frame only": (lambda clips, folder: clips["one_frame"], "has only one frame"),
    "unreadable video frames": (_garbled_video, "cannot decode frame 1"),
    "unreadable frame file": (_bad_frame_folder, "cannot read image"),
    "missing input": (lambda clips, folder: folder / "missing.mp4", "input not found"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gets_one_clear_line(tmp_path, clips, checkpoint, capsys, case):
    make, expected = BAD_INPUTS[case]
    input_path = make(clips, tmp_path)
    out = tmp_path / "out" / "result.mp4"
    code, err = cli(input_path, out, checkpoint, capsys)
    errors = [line for line in err.splitlines() if "error:" in line]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err
    assert expected in errors[0]
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])


@pytest.mark.parametrize(
    "extra, expected",
    [((), "output already exists"), (("--fp16",), "--precision fp16 needs a CUDA device"), (("--scale_factor", "0.3"), "scale_factor"),
     (("--factor", "2.5"), "--factor: must be a whole number of at least 2, got '2.5'"),
     (("--batch_size", "0"), "--batch_size: must be a whole number of at least 1, got '0'")],
)
def test_bad_options_are_refused(tmp_path, clips, checkpoint, capsys, extra, expected):
    out = tmp_path / "exists.mp4"
    if not extra:
        out.write_bytes(b"precious")
    else:
        out = tmp_path / "new.mp4"
    code, err = cli(clips["bunny"], out, checkpoint, capsys, *extra)
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert (out.read_bytes() == b"precious") if not extra else not out.exists()


def test_unsupported_output_extension(tmp_path, clips, checkpoint, capsys):
    code, err = cli(clips["bunny"], tmp_path / "out.gifv", checkpoint, capsys)
    assert code == 2 and "unsupported output extension" in err


def test_clock_snaps_rounded_timestamps_to_the_originals():
    """29.97 fps stored in milliseconds: doubling must still copy every original, not interpolate at t=0.001."""
    rate = Fraction(30000, 1001)
    times = [Fraction(round(i * 1000 / rate), 1000) for i in range(30)]
    clock = OutputClock(rate * 2, origin=times[0], snap=Fraction(1, 2000))
    slots = [slot for a, b in zip(times, times[1:]) for slot in clock.slots_between(a, b)]
    assert [slot.index for slot in slots] == list(range(58))
    assert all(slot.is_original == (slot.index % 2 == 0) for slot in slots)
    assert all(abs(slot.t - Fraction(1, 2)) < Fraction(1, 20) for slot in slots if slot.index % 2)


def test_interpolator_batches_and_auto_scale():
    frames = sample_frames("bigbuckbunny", 2, size=(64, 48))
    whole = Interpolator(seeded_model("IFRNet_S", lean=True)).interpolate(*frames, [0.25, 0.5, 0.75])
    chunked = Interpolator(seeded_model("IFRNet_S", lean=True), batch_size=2).interpolate(*frames, [0.25, 0.5, 0.75])
    for a, b in zip(whole, chunked):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert auto_scale_factor(1080, 1920) == 1.0
    assert auto_scale_factor(2160, 3840) == 0.5
    assert auto_scale_factor(4320, 7680) == 0.25
    auto = Interpolator(seeded_model("IFRNet_S", lean=True), scale_factor="auto")
    assert auto.scale_for(2160, 3840) == 0.5 and auto.interpolate(*frames, [0.5])[0].shape == (48, 64, 3)
    half = Interpolator(seeded_model("IFRNet_S", lean=True), scale_factor=0.5)  # pads to multiples of 32
    assert half.interpolate(frames[0][:45, :61], frames[1][:45, :61], [0.5])[0].shape == (45, 61, 3)


def test_torch_hub_gives_a_ready_model(seeded_checkpoints, tmp_path, monkeypatch):
    model = torch.hub.load(str(ROOT), "IFRNet_S", source="local", checkpoint=seeded_checkpoints["IFRNet_S"])
    assert not model.training
    expected = seeded_model("IFRNet_S").state_dict()
    assert all(torch.equal(value, expected[key]) for key, value in model.state_dict().items())

    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(checkpoint_module.CheckpointError, match="IFRNet_L_Vimeo90K.pth.*put it there"):
        torch.hub.load(str(ROOT), "IFRNet_L", source="local")


# --------------------------------------------------------------------------------------------
# Reliability: nothing lost, no traceback, no silent partial result. The scenarios run
# the CLI in-process (``cli`` goes through run_cli, as the script's __main__ does), SIGTERM too
# (sent to this process). A missing --checkpoint shows that a refusal comes before the model is loaded.

@contextmanager
def fresh_root_logger():
    """The root logger as a new process has it (no handlers, level WARNING), so that the script's
    ``logging.basicConfig`` writes its lines to ``sys.stderr`` as it does when run; restored after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def folder_state(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_into_a_folder_holding_the_input_is_refused_and_deletes_nothing(tmp_path, clips, capsys):
    """clip.mp4 and notes.txt in d, then --output d --overwrite: replacing the folder would delete the input."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(clips["bunny"].read_bytes())
    (folder / "notes.txt").write_text("x")
    frames = folder / "frames"  # a frame-folder input inside the output folder
    frames.mkdir()
    for image in sorted(clips["frames"].iterdir()):
        (frames / image.name).write_bytes(image.read_bytes())
    before = folder_state(folder)
    missing = tmp_path / MISSING
    assert_refused(cli(folder / "clip.mp4", folder, missing, capsys, "--overwrite"), f"the output folder {folder} holds the input")
    assert_refused(cli(frames, folder, missing, capsys, "--overwrite"), "holds the input")
    assert_refused(cli(frames, frames, missing, capsys, "--overwrite"), "is the input folder")
    assert_refused(cli(folder, frames / "out", missing, capsys, "--overwrite"), "inside the input folder")
    assert_refused(cli(folder / "clip.mp4", folder / "clip.mp4", missing, capsys, "--overwrite"), "is the input")
    assert folder_state(folder) == before


def test_overwrite_replaces_only_the_folders_own_frames(tmp_path, clips, checkpoint):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "sub" / "00000001.png").write_bytes(b"not ours: in a subfolder")
    (out / "frame1.png").write_bytes(b"not ours: another name")
    for index in range(30):  # an earlier, longer output: frames 12.. must go
        (out / f"{index:08d}.png").write_bytes(b"old frame")
    run(clips["bunny"], out, checkpoint, "--overwrite")
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{k:08d}.png" for k in range(2 * CLIP_FRAMES)] + ["frame1.png", "notes.txt", "sub"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "frame1.png").read_bytes() == b"not ours: another name"
    assert (out / "sub" / "00000001.png").read_bytes() == b"not ours: in a subfolder"
    assert psnr(np.asarray(Image.open(out / "00000000.png")), read_video(clips["bunny"]).frames[0]) > ORIGINAL_DB


def test_webm_output_resamples_44k_audio_to_48k_opus(tmp_path, checkpoint):
    clip = write_clip(tmp_path / "tone.mp4", sample_frames("bigbuckbunny", 4, size=CLIP_SIZE), tone=(440.0, 44100))
    assert decode_audio(clip)[1:] == (44100, "aac")
    run(clip, tmp_path / "tone.webm", checkpoint)
    samples, rate, codec = decode_audio(tmp_path / "tone.webm")
    assert (codec, rate) == ("opus", 48000)
    assert samples.shape[1] / rate == pytest.approx(4 / 25, abs=0.03)
    spectrum = np.abs(np.fft.rfft(samples[0]))
    assert np.fft.rfftfreq(samples.shape[1], 1 / rate)[spectrum.argmax()] == pytest.approx(440, abs=10)  # same pitch
    assert len(read_video(tmp_path / "tone.webm").frames) == 8


def test_unwritable_outputs_are_refused_before_the_model_loads(tmp_path, clips, capsys):
    missing = tmp_path / MISSING
    (tmp_path / "in.mp4").write_bytes(b"a file")
    assert_refused(cli(clips["bunny"], tmp_path / "in.mp4" / "out.mp4", missing, capsys), "is a file, not a folder")
    assert_refused(cli(clips["bunny"], tmp_path / "in.mp4" / "deeper" / "frames", missing, capsys), "is a file, not a folder")


def _unwritable_folder():
    """A folder that refuses new files even to root (chmod does not stop root): sysfs on Linux."""
    folder = Path("/sys")
    try:
        (folder / "ifrnet-write-probe").open("x").close()
    except OSError:
        return folder
    return None


@pytest.mark.skipif(_unwritable_folder() is None, reason="no folder here refuses new files to this user")
def test_a_folder_that_takes_no_files_is_refused_before_the_model_loads(tmp_path, clips, capsys):
    result = cli(clips["bunny"], _unwritable_folder() / "out.mp4", tmp_path / MISSING, capsys)
    assert_refused(result, "does not take new files")


@pytest.mark.parametrize("output", [".", ".."])
def test_dot_outputs_with_overwrite_write_frames_there(tmp_path, clips, checkpoint, output, monkeypatch):
    """Were a traceback ("PosixPath('.') has an empty name"; for ".." after the whole run)."""
    cwd = tmp_path / "a" / "b"
    cwd.mkdir(parents=True)
    (cwd / "keep.txt").write_text("keep")
    monkeypatch.chdir(cwd)
    run(clips["bunny"], output, checkpoint, "--overwrite")
    target = (cwd / output).resolve()
    assert sorted(p.name for p in target.glob("*.png")) == [f"{k:08d}.png" for k in range(2 * CLIP_FRAMES)]
    assert (cwd / "keep.txt").read_text() == "keep"
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".png")) == (["keep.txt"] if output == "." else ["b"])


@pytest.fixture(scope="module")
def truncated(tmp_path_factory):
    """A 24-frame MP4 with its index (moov) at the front, the second half of the file cut off."""
    folder = tmp_path_factory.mktemp("truncated")
    whole = write_clip(folder / "whole.mp4", sample_frames("bigbuckbunny", 24, size=CLIP_SIZE), faststart=True)
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    path = folder / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_video_warns_with_both_counts(tmp_path, truncated, checkpoint, run_main):
    """On stderr, with --quiet too: the one line a user must see of a conversion that goes on."""
    with fresh_root_logger():
        code, _, err = run_main(interpolate_video.main, "--input", truncated, "--output", tmp_path / "out.mp4", "--model_name",
                                "IFRNet_S", "--checkpoint", checkpoint, "--device", "cpu", "--quiet")
    assert code == 0, err
    warning = re.search(r"^interpolate_video: warning: .*truncated.mp4 ends early: decoded (\d+) of the 24 frames", err, re.MULTILINE)
    assert warning, err
    decoded = int(warning.group(1))
    assert 2 <= decoded < 24
    assert len(read_video(tmp_path / "out.mp4").frames) == 2 * decoded


def test_sigterm_mid_conversion_exits_143_and_leaves_nothing(tmp_path, clips, checkpoint, capsys, monkeypatch):
    """A service stop (SIGTERM) unwinds like Ctrl-C, the temporary output goes, but the exit code is
    the terminated one, 143, not 130 (interrupted), so a supervisor tells the two apart. The signal
    is sent to this process in the second pair (in-process: the handler runs in the main thread,
    the test's; the script runs as a process of its own in test_video_segments.py and
    test_video_pipes.py)."""
    import os
    import signal
    import time

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    original, calls = Interpolator.interpolate, []

    def terminated_in_the_second_pair(self, *args):
        calls.append(1)
        if len(calls) == 2:
            deadline = time.monotonic() + 60
            while not any(out_dir.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.01)  # the temporary output appears once the writer has the first frames
            calls.append(sorted(path.name for path in out_dir.iterdir()))
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, *args)

    monkeypatch.setattr(Interpolator, "interpolate", terminated_in_the_second_pair)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "interpolate_video.py")])  # the program name of its last line
    handler = signal.signal(signal.SIGTERM, lambda *_: pytest.fail("the script left SIGTERM to the test's handler"))
    try:
        code, err = cli(clips["bunny"], out_dir / "out.mp4", checkpoint, capsys, "--factor", 8)
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert code == 128 + signal.SIGTERM, err
    assert err.strip().splitlines() == ["interpolate_video.py: terminated"]
    assert calls[2] and list(out_dir.iterdir()) == []  # the temporary output was there, and went


def test_strict_refuses_a_truncated_video_and_writes_nothing(tmp_path, truncated, checkpoint, capsys):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, err = cli(truncated, out_dir / "out.mp4", checkpoint, capsys, "--strict")
    assert_refused((code, err), "of the 24 frames its header promises")
    assert "--strict refuses a partial conversion" in err and list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    "extra, expected",
    [
        (("--codec", "h264_nvenc"), "h264_nvenc"),
        (("--fps", "0"), "argument --fps: a frame rate must be positive, got 0"),
        (("--crf", "100"), "--crf 100 is outside the range of libx264 (0-51"),
        (("--crf", "64", "--codec", "libvpx-vp9"), "--crf 64 is outside the range of libvpx-vp9 (0-63"),
        (("--fps", "1e9"), "over the limit of 1000 fps"),
        (("--factor", "64"), "over the limit of 1000 fps"),  # 25 fps x 64
    ],
)
def test_bad_encoder_and_rate_flags_are_refused_in_one_line(tmp_path, clips, capsys, extra, expected):
    if extra[1] == "h264_nvenc" and torch.cuda.is_available():
        pytest.skip("a CUDA machine may really have NVENC")
    result = cli(clips["bunny"], tmp_path / "out.mp4", tmp_path / MISSING, capsys, *extra)
    assert_refused(result, expected)
    if extra[1] == "h264_nvenc":
        assert "libx264" in result[1].splitlines()[-1]  # the way out
    assert not (tmp_path / "out.mp4").exists()
