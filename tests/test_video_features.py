"""interpolate_video.py's features on small real clips from Big Buck Bunny and "bikes".

--dedup, --loop, --montage, --tta, jpg/webp folders, GIF output, every audio track, subtitles,
the display matrix and tags, --start/--duration. The network is IFRNet_S with the starter weights
(checkpoints/starter), whose frames survive encoding; what is checked is what the user sees in the
output files, decoded independently of the tool.
"""
from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from models import create_model
from models.interpolator import Interpolator
from tests.video_cli import MISSING, assert_refused, cli, run
from tests.video_builders import (Track, decode_audio, dominant_pitches, psnr, read_video, sample_frames, write_clip,
                                  write_tracks_clip)

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "checkpoints" / "starter" / "IFRNet_S_starter.pth"
ORIGINAL_DB = 35.0  # an original frame after one more H.264 generation at crf 12
CLIP_SIZE = (64, 36)  # width, height


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("feature_clips")
    bikes = sample_frames("bikes", 10, size=CLIP_SIZE, skip=20)
    srt = folder / "subtitles.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:00,120\nHello\n\n2\n00:00:00,120 --> 00:00:00,240\nWorld\n")
    return {
        "bikes": bikes,
        "bikes_clip": write_clip(folder / "bikes.mp4", bikes[:8]),
        "bikes_tone": write_clip(folder / "bikes_tone.mp4", bikes, tone=(440, 44100)),
        "held": write_clip(folder / "held.mp4", [frame for frame in bikes[:6] for _ in range(2)]),
        "tracks": write_tracks_clip(folder / "tracks.mkv", bikes[:6],
                                    [Track("eng", 440), Track("fra", 880, 48000), Track("deu", srt=srt)],
                                    title="Bikes at dusk", rotation=90),
    }


@pytest.fixture
def checkpoint():
    """The starter weights: their in-between frames are smooth images that survive H.264, where
    seeded weights give noise that the encoder turns into something else."""
    return STARTER


@pytest.fixture(scope="module")
def starter():
    return create_model("IFRNet_S", weights=STARTER)  # what the video tool builds


def decoded(path):
    return read_video(path).frames


def test_dedup_turns_held_frames_into_motion_and_keeps_the_count(tmp_path, inputs, checkpoint, caplog):
    """Each picture held for two frames, converted at the input's own rate: --dedup finds the
    repeats in a real encoded clip and no picture but the last stays held. Which frame fills a
    repeat's slot (the in-between of its neighbours) is the stream's, in test_video_units.py."""
    frozen = lambda a, b: np.abs(a.astype(float) - b).mean() < 0.5  # noqa: E731
    held = decoded(inputs["held"])
    assert [k for k in range(11) if frozen(held[k], held[k + 1])] == [0, 2, 4, 6, 8, 10]
    out = tmp_path / "dedup.mp4"
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    run(inputs["held"], out, checkpoint, "--fps", 25, "--dedup", 1, "--crf", 12)
    frames = decoded(out)
    assert len(frames) == len(held)
    assert "--dedup 1 dropped 6 held frame(s)" in caplog.text
    # Only the last picture stays held: nothing follows it to move towards.
    assert [k for k in range(11) if frozen(frames[k], frames[k + 1])] == [10]
    for k in (0, 2, 4):  # the distinct pictures stay at their own times
        assert psnr(frames[k], held[k]) > ORIGINAL_DB


def test_loop_fills_the_last_slots_with_frames_between_last_and_first(tmp_path, inputs, checkpoint, starter):
    out = tmp_path / "loop.mp4"
    run(inputs["bikes_clip"], out, checkpoint, "--factor", 2, "--loop", "--crf", 12)
    frames, source = decoded(out), decoded(inputs["bikes_clip"])
    assert len(frames) == 2 * len(source)
    expected = Interpolator(starter, "cpu").interpolate(source[-1], source[0], [0.5])[0]
    assert psnr(frames[-1], expected) > ORIGINAL_DB
    assert psnr(frames[-1], source[-1]) < psnr(frames[-1], expected) - 5  # not the last frame held


def test_montage_puts_the_held_original_left_of_the_result(tmp_path, inputs, checkpoint):
    plain, montage = tmp_path / "plain.mp4", tmp_path / "montage.mp4"
    run(inputs["bikes_clip"], plain, checkpoint, "--factor", 2, "--crf", 12)
    run(inputs["bikes_clip"], montage, checkpoint, "--factor", 2, "--montage", "--crf", 12)
    result, side_by_side, source = decoded(plain), decoded(montage), decoded(inputs["bikes_clip"])
    width = source[0].shape[1]
    assert len(side_by_side) == len(result) and side_by_side[0].shape == (source[0].shape[0], 2 * width, 3)
    for index in (1, 2, 7):  # in-between frames show the earlier original on the left
        assert psnr(side_by_side[index][:, :width], source[index // 2]) > ORIGINAL_DB - 3
        assert psnr(side_by_side[index][:, width:], result[index]) > ORIGINAL_DB - 3


def test_tta_differs_from_plain_and_scores_no_lower_on_held_out_frames(starter):
    """Frame i+1 of real footage predicted from i and i+2."""
    plain, tta = Interpolator(starter, "cpu"), Interpolator(starter, "cpu", tta=True)
    frames = sample_frames("bikes", 9, size=(224, 96), skip=40) + sample_frames("bigbuckbunny", 3, size=(224, 128), skip=60)
    triplets = [frames[i:i + 3] for i in (0, 3, 6, 9)]
    scores = {"plain": [], "tta": []}
    for frame0, middle, frame1 in triplets:
        one, two = plain.interpolate(frame0, frame1, [0.5])[0], tta.interpolate(frame0, frame1, [0.5])[0]
        assert np.abs(one.astype(int) - two).max() > 0
        scores["plain"].append(psnr(one, middle))
        scores["tta"].append(psnr(two, middle))
    assert np.mean(scores["tta"]) > np.mean(scores["plain"]) - 0.1, scores


def test_tta_flag_changes_the_in_between_frames_only(tmp_path, inputs, checkpoint):
    plain, tta = tmp_path / "plain", tmp_path / "tta"  # PNG frames: lossless, so compared exactly
    run(inputs["bikes_clip"], plain, checkpoint, "--factor", 2, "--duration", "0.12")
    run(inputs["bikes_clip"], tta, checkpoint, "--factor", 2, "--duration", "0.12", "--tta")
    one, two = ([np.asarray(Image.open(p)) for p in sorted(folder.iterdir())] for folder in (plain, tta))
    assert len(one) == len(two) == 6
    assert all(np.array_equal(one[k], two[k]) for k in (0, 2, 4, 5))  # originals, and the last one held
    assert all(not np.array_equal(one[k], two[k]) for k in (1, 3))


@pytest.mark.parametrize("image_format, pillow_name", [("jpg", "JPEG"), ("webp", "WEBP")])
def test_folder_output_in_lossy_formats(tmp_path, inputs, checkpoint, image_format, pillow_name):
    out = tmp_path / "frames"
    run(inputs["bikes_clip"], out, checkpoint, "--factor", 2, "--image_format", image_format, "--quality", 90)
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"{k:08d}.{image_format}" for k in range(16)]
    with Image.open(out / names[2]) as image:
        assert image.format == pillow_name
        assert psnr(np.asarray(image.convert("RGB")), inputs["bikes"][1]) > 30


def test_gif_output_has_its_frames_and_the_output_rate(tmp_path, inputs, checkpoint):
    out = tmp_path / "bikes.gif"
    run(inputs["bikes_clip"], out, checkpoint, "--fps", 30, "--loop")
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.info.get("loop") == 0
        durations, frames = [], []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
            frames.append(np.asarray(gif.convert("RGB")))
    assert len(frames) == 10  # 8 frames at 25 fps = 0.32 s -> 10 frames at 30 fps (9.6, the last one to the end)
    assert durations[:3] == [30, 40, 30] and sum(durations) == 330  # hundredths of a second, kept on the 30 fps clock
    assert psnr(frames[0], inputs["bikes"][0]) > 25  # 256 colours


def test_every_audio_track_subtitles_tags_and_rotation_survive(tmp_path, inputs, checkpoint):
    out = tmp_path / "tracks.mkv"
    run(inputs["tracks"], out, checkpoint, "--factor", 2)
    with av.open(str(out)) as container:
        assert container.metadata.get("title") == "Bikes at dusk"
        audio = container.streams.audio
        assert [s.metadata.get("language") for s in audio] == ["eng", "fra"]
        assert [s.codec_context.sample_rate for s in audio] == [44100, 48000]
        subtitles = container.streams.subtitles
        assert len(subtitles) == 1 and subtitles[0].metadata.get("language") == "deu"
        texts = [bytes(p) for p in container.demux(subtitles[0]) if p.size]
        container.seek(0)
        rotation = next(container.decode(video=0)).rotation
    assert texts == [b"Hello", b"World"]
    assert rotation == 90
    assert dominant_pitches(out) == pytest.approx([440, 880], abs=15)
    assert len(read_video(out).frames) == 12


def test_mp4_output_leaves_out_srt_subtitles_and_says_so(tmp_path, inputs, checkpoint, caplog):
    out = tmp_path / "tracks.mp4"
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    run(inputs["tracks"], out, checkpoint, "--factor", 2)
    with av.open(str(out)) as container:
        assert len(container.streams.audio) == 2 and not container.streams.subtitles
    assert "cannot hold subrip subtitles" in caplog.text


def test_start_and_duration_convert_a_part_with_its_audio(tmp_path, inputs, checkpoint):
    out = tmp_path / "part.mp4"
    run(inputs["bikes_tone"], out, checkpoint, "--factor", 2, "--start", "0.12", "--duration", "0.16", "--crf", 12)
    video, source = read_video(out), decoded(inputs["bikes_tone"])
    assert len(video.frames) == 8 and video.duration == pytest.approx(0.16)
    assert psnr(video.frames[0], source[3]) > ORIGINAL_DB > psnr(video.frames[0], source[2])  # 0.12 s: frame 3 at 25 fps
    assert psnr(video.frames[6], source[6]) > ORIGINAL_DB > psnr(video.frames[7], source[7])  # held to 0.28 s, not on
    samples, rate, _ = decode_audio(out)
    assert samples.shape[1] / rate == pytest.approx(0.16, abs=0.03)


@pytest.mark.parametrize("extra, expected", [
    (["--start", "5"], "--start 5 s is past the last frame of the input (it lasts about 0.40 s)"),
    (["--duration", "0"], "--duration must be positive"),
    (["--dedup", "-1"], "--dedup must be at least 0"),
    (["--quality", "0"], "--quality must be in 1-100"),
    (["--image_format", "jpg"], "--image_format applies to a folder output"),
])
def test_bad_feature_flags_are_refused_before_the_model_loads(tmp_path, inputs, capsys, extra, expected):
    assert_refused(cli(inputs["bikes_tone"], tmp_path / "out.mp4", MISSING, capsys, *extra), expected)
