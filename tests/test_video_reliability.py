"""interpolate_video.py on awkward real inputs and bad values: files that do not start
with a key frame, AVI stamps, non-finite network output, extreme aspect ratios, static clips.

Most cases run :func:`video.convert.convert` with a stand-in for the network (the mean of the two
frames), so they check the video tool's own logic in a fraction of a second each.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import pytest
from PIL import Image, ImageSequence

from tests.video_builders import cut_packets, psnr, read_video, sample_frames, write_clip
from video.convert import ConversionJob, convert

ORIGINAL_DB = 35.0  # an original frame after one more H.264 generation at crf 18


def blend(frame0, frame1, timesteps):
    """A stand-in for the network: the frames' weighted mean at each t."""
    a, b = frame0.astype(np.float32), frame1.astype(np.float32)
    return [np.round(a * (1 - t) + b * t).astype(np.uint8) for t in timesteps]


def job(input_path, output_path, **options) -> ConversionJob:
    return ConversionJob(input=Path(input_path), output=Path(output_path), progress=False, **options)


@pytest.fixture(scope="module")
def bikes():
    return sample_frames("bikes", 12)


@pytest.fixture(scope="module")
def mid_gop(tmp_path_factory, bikes):
    """A key frame every 5 frames, cut after 2 packets: frames 0-4 cannot be decoded, the first
    frame that decodes is frame 5 (at 0.2 s of a stream whose header starts at 0.04 s)."""
    folder = tmp_path_factory.mktemp("mid_gop")
    return cut_packets(write_clip(folder / "gop5.mp4", bikes, gop=5), folder / "cut.mkv", skip=2)


@pytest.mark.parametrize("output", ["out.mp4", "frames"])
def test_a_file_cut_mid_gop_is_numbered_from_its_first_decoded_frame(tmp_path, mid_gop, bikes, output, caplog):
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    stats = convert(job(mid_gop, tmp_path / output), blend)
    assert stats.frames_in == 7 and stats.frames_out == 14 and stats.interpolated == 6
    if output == "frames":
        names = sorted(p.name for p in (tmp_path / output).iterdir())
        assert names == [f"{k:08d}.png" for k in range(14)]
        first = np.asarray(Image.open(tmp_path / output / names[0]))
    else:
        video = read_video(tmp_path / output)
        assert len(video.frames) == 14 and video.times[0] == 0
        first = video.frames[0]
    assert psnr(first, bikes[5]) > ORIGINAL_DB
    assert "cut mid-GOP" in caplog.text


def test_our_own_avi_output_reads_back_with_every_frame(tmp_path, bikes):
    """AVI keeps decode-order stamps (B-frames come out as 1, 4, 3, 5, 2 ...) and one unit per
    frame: re-read, every frame counts (none dropped as out of order), numbering starts at 0, and
    the middle frames of 2x are interpolated (not snapped to the originals half a unit away)."""
    clip = write_clip(tmp_path / "clip.mp4", bikes[:8])
    first = convert(job(clip, tmp_path / "own.avi"), blend)
    assert first.frames_out == 16
    again = convert(job(tmp_path / "own.avi", tmp_path / "again.mp4"), blend)
    assert (again.frames_in, again.frames_out, again.interpolated) == (16, 32, 15)
    video = read_video(tmp_path / "again.mp4")
    assert len(video.frames) == 32 and video.times[0] == 0
    assert psnr(video.frames[0], bikes[0]) > 30  # two more H.264 generations


def test_weights_that_give_nan_stop_the_video_tool_in_one_line(tmp_path, bikes, capsys):
    """Finite weights whose output is NaN: exit 2 with one line, no (black) output written."""
    from tests.seeded import overflowing_model
    from tests.video_cli import cli

    checkpoint = tmp_path / "diverged.pth"
    torch.save(overflowing_model().state_dict(), checkpoint)
    clip = write_clip(tmp_path / "clip.mp4", bikes[:3])
    code, err = cli(clip, tmp_path / "out.mp4", checkpoint, capsys)
    assert code == 2 and "not finite" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out.mp4").exists()


@pytest.fixture(scope="module")
def frame_folder(tmp_path_factory, bikes):
    folder = tmp_path_factory.mktemp("frames")
    for number, image in enumerate(bikes[:3]):
        Image.fromarray(image).save(folder / f"{number}.png")
    return folder


@pytest.mark.parametrize("which, extra, expected", [
    ("clip", ("--start", "1e30"), "--start 1e+30 s is past the last frame"),  # one line, not an OverflowError
    ("clip", ("--start", "0.1", "--duration", "1e30"), None),  # runs: to the end
    ("clip", ("--start", "0.1", "--duration", "1e400"), None),  # past the float range too
    ("clip", ("--start", "1e400"), "--start 1e+400 s is past the last frame"),
    ("clip", ("--fps", "1e400"), "an output rate of 1e+400 fps (--fps) is over the limit of 1000 fps"),
    ("folder", ("--input_fps", "1e-9"), "below the lowest accepted, 0.01 fps"),  # one line, not PyAV's ArgumentError
    ("folder", ("--input_fps", "1e400"), "--input_fps must be in 0.01-1000 fps, got 1e+400"),
    ("folder", ("--fps", "0.001"), "below the lowest accepted, 0.01 fps"),
])
def test_extreme_times_and_rates_are_refused_in_one_line(tmp_path, bikes, frame_folder, capsys, which, extra, expected):
    from tests.video_cli import MISSING, assert_refused, cli

    source = write_clip(tmp_path / "clip.mp4", bikes[:5]) if which == "clip" else frame_folder
    if expected is None:
        stats = convert(job(source, tmp_path / "out.mp4", start=Fraction(1, 10), duration=Fraction(extra[-1])), blend)
        assert stats.frames_in == 2  # 0.12 s and 0.16 s
        return
    assert_refused(cli(source, tmp_path / "out.mp4", tmp_path / MISSING, capsys, *extra), expected)
    assert not (tmp_path / "out.mp4").exists()


def test_a_pipe_as_input_is_refused_in_one_line(tmp_path, bikes, capsys):
    """``cat clip.mkv | interpolate_video.py --input /dev/stdin``: the frames and the audio are read
    by two openings of the input, and a pipe gives its bytes once. (A pipe whose writer is done, so
    that a second opening reads its end instead of waiting.)"""
    import os

    from tests.video_cli import MISSING, assert_refused, cli

    data = write_clip(tmp_path / "clip.mkv", bikes[:3]).read_bytes()
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)  # (smaller than a pipe's buffer)
        os.close(write_end)
        piped = f"/dev/fd/{read_end}"
        assert_refused(cli(piped, tmp_path / "out.mp4", tmp_path / MISSING, capsys),
                       f"{piped} is a pipe or device, not a file: give a video file or a folder of frames")
    finally:
        os.close(read_end)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("output", ["a" * 240 + ".mp4", "a" * 250, "existing/" + "a" * 250],
                         ids=["file", "folder", "existing-folder"])
def test_an_output_name_near_the_file_systems_limit_is_written(tmp_path, frame_folder, output):
    """The temporary output (beside the output, or inside an existing output folder) adds 38
    characters to the name: it is shortened so that any name the file system takes works."""
    final = tmp_path / output
    if output.startswith("existing"):
        final.mkdir(parents=True)
    convert(job(frame_folder, final, overwrite=True), blend)
    written = sorted(p.name for p in final.iterdir()) if final.is_dir() else [final.name]
    assert written == ([final.name] if final.suffix else [f"{k:08d}.png" for k in range(6)])
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]  # no temporary left


@pytest.mark.parametrize("output, expected", [
    ("a" * 300 + ".mp4", "is 304 bytes long; the file system takes at most 255"),
    ("b" * 300, "is 300 bytes long; the file system takes at most 255"),
    ("loop.mp4", "loop.mp4: a symlink loop"),
], ids=["long-file", "long-folder", "symlink-loop"])
@pytest.mark.parametrize("overwrite", [(), ("--overwrite",)], ids=["", "overwrite"])
def test_an_output_the_file_system_cannot_create_is_refused_in_one_line(tmp_path, frame_folder, capsys, output,
                                                                       expected, overwrite):
    from tests.video_cli import MISSING, assert_refused, cli

    (tmp_path / "loop.mp4").symlink_to(tmp_path / "loop.mp4")
    assert_refused(cli(frame_folder, tmp_path / output, tmp_path / MISSING, capsys, *overwrite), expected)


def test_a_long_decimal_rate_is_read_as_the_simple_fraction_it_means(tmp_path, frame_folder):
    """29.970029970029973 (30000/1001 printed as a float) would need a time base no container holds."""
    from video.convert import parse_rate

    assert parse_rate("29.970029970029973") == Fraction(30000, 1001)
    stats = convert(job(frame_folder, tmp_path / "out.mp4", input_fps=parse_rate("29.970029970029973")), blend)
    assert stats.frames_out == 6 and read_video(tmp_path / "out.mp4").rate == Fraction(60000, 1001)


@pytest.mark.parametrize("size", [(1024, 8), (8, 1024), (700, 1), (1, 1)])  # width, height
def test_scene_measure_is_defined_for_any_aspect_ratio(size):
    """A strip shorter than 1/64 of its length still gives a thumbnail with pixels: an empty one would
    make the measure NaN and turn cuts and --dedup silently off."""
    from utils.scene import scene_difference

    rng = np.random.default_rng(0)
    dark, bright = (rng.integers(lo, lo + 40, (size[1], size[0], 3), dtype=np.uint8) for lo in (0, 200))
    with np.errstate(all="raise"):
        assert scene_difference(dark, dark) == 0
        assert scene_difference(dark, bright) > 150


def test_cuts_and_dedup_work_on_strip_frames(tmp_path, bikes):
    strip = [np.ascontiguousarray(np.resize(frame, (8, 1024, 3))) for frame in bikes[:3]]
    folder = tmp_path / "strips"
    folder.mkdir()
    for number, image in enumerate([strip[0], strip[0], strip[1], strip[1], np.full_like(strip[2], 255)]):
        Image.fromarray(image).save(folder / f"{number}.png")
    stats = convert(job(folder, tmp_path / "out", dedup=1.0), blend)
    assert stats.duplicates_dropped == 2 and stats.scene_cuts == 1


@pytest.fixture(scope="module")
def one_second(tmp_path_factory, bikes):
    """1 s at 25 fps: a static clip (one picture 25 times) and a moving one."""
    folder = tmp_path_factory.mktemp("one_second")
    moving = sample_frames("bikes", 25)
    return {"static": write_clip(folder / "static.mp4", [moving[0]] * 25), "moving": write_clip(folder / "moving.mp4", moving)}


@pytest.mark.parametrize("loop", [False, True])
def test_a_static_clip_with_dedup_is_held_not_refused(tmp_path, one_second, bikes, caplog, loop):
    stats = convert(job(one_second["static"], tmp_path / "out.mp4", dedup=1.0, loop=loop), blend)
    assert (stats.frames_in, stats.duplicates_dropped, stats.frames_out, stats.interpolated) == (1, 24, 50, 0)
    video = read_video(tmp_path / "out.mp4")
    assert len(video.frames) == 50 and video.duration == pytest.approx(1.0)
    assert min(psnr(frame, video.frames[0]) for frame in video.frames) > ORIGINAL_DB
    assert "dropped all 24 frames after the first" in caplog.text


@pytest.mark.parametrize("options, expected", [
    ({"duration": Fraction(1, 1000)}, "the part of {input} from 0 s to 0.001 s (--start/--duration) has only one frame"),
    ({"start": Fraction(96, 100)}, "the part of {input} from 0.96 s to its end (--start/--duration) has only one frame"),
])
def test_a_part_with_one_frame_is_named(tmp_path, one_second, options, expected):
    from utils.errors import InputError

    with pytest.raises(InputError) as info:
        convert(job(one_second["moving"], tmp_path / "out.mp4", **options), blend)
    assert expected.format(input=one_second["moving"]) in str(info.value)
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("extra, expected", [
    (("--dedup", "nan"), "--dedup must be at least 0 and at most 255"),
    (("--dedup", "1000"), "--dedup must be at least 0 and at most 255"),
    (("--scene_threshold", "nan"), "--scene_threshold must be at least 0 and at most 255"),
    (("--scene_threshold", "-5"), "--scene_threshold must be at least 0 and at most 255"),
])
def test_thresholds_outside_the_grey_scale_are_refused(tmp_path, one_second, capsys, extra, expected):
    from tests.video_cli import MISSING, assert_refused, cli

    assert_refused(cli(one_second["moving"], tmp_path / "out.mp4", tmp_path / MISSING, capsys, *extra), expected)


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_killed_runs_temporaries_are_swept_at_the_next_start(tmp_path, frame_folder, kind):
    """SIGKILL leaves the hidden temporary output; the next run for the same output removes it once
    it is stale, and leaves alone a young one (maybe another run's) and other outputs' files."""
    import os
    import time

    from video.output import STALE_AFTER_SECONDS

    output = tmp_path / ("out.mp4" if kind == "file" else "frames")
    if kind == "folder":
        output.mkdir()
        (output / "notes.txt").write_text("mine")
    home = output if kind == "folder" else tmp_path
    suffix = ".mp4" if kind == "file" else ""
    stale, young = (home / f".{output.stem}.{digit * 32}.tmp{suffix}" for digit in "ab")
    other = tmp_path / f".other.{'c' * 32}.tmp.mp4"
    for path in (stale, young, other):
        if kind == "folder" and path is not other:
            path.mkdir()
            (path / "00000000.png").write_bytes(b"partial")
        else:
            path.write_bytes(b"partial")
    old = time.time() - STALE_AFTER_SECONDS - 60
    for path in (stale, *stale.glob("*"), other):
        os.utime(path, (old, old))
    convert(job(frame_folder, output, overwrite=True), blend)
    assert not stale.exists() and young.exists() and other.exists()
    if kind == "folder":
        assert (output / "notes.txt").read_text() == "mine" and len(list(output.glob("0*.png"))) == 6


def write_hlg_clip(path, frames):
    """10-bit H.264 tagged as HDR: bt2020 primaries and matrix, HLG transfer, limited range."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p10le"
        stream.options = {"crf": "10"}
        context = stream.codec_context
        context.color_primaries, context.color_trc, context.colorspace, context.color_range = 9, 18, 9, 1
        for number, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(
                format="yuv420p10le", dst_colorspace=9, dst_color_range=1)
            frame.pts = number
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def test_hdr_input_keeps_its_colour_tags_and_says_the_output_is_8_bit(tmp_path, bikes, caplog):
    import av

    clip = write_hlg_clip(tmp_path / "hlg.mp4", bikes[:4])
    convert(job(clip, tmp_path / "out.mp4"), blend)
    colours = []
    for path in (clip, tmp_path / "out.mp4"):
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            colours.append((context.color_primaries, context.color_trc, context.colorspace, context.color_range))
    assert colours[1] == colours[0] == (9, 18, 9, 1)
    source, output = read_video(clip), read_video(tmp_path / "out.mp4")
    # The same YUV values under the same tags: the originals look as they did (the wrong matrix
    # shifts the colours by ~16 levels).
    assert psnr(output.frames[0], source.frames[0]) > ORIGINAL_DB and psnr(output.frames[6], source.frames[3]) > ORIGINAL_DB
    assert "is 10-bit; the output is 8-bit" in caplog.text and "bt2020, HLG" in caplog.text


def test_alpha_in_a_video_is_dropped_with_one_warning(tmp_path, bikes, caplog):
    import av

    clip = tmp_path / "alpha.mov"
    with av.open(str(clip), "w") as out:
        stream = out.add_stream("png", rate=25)
        stream.height, stream.width = bikes[0].shape[:2]
        stream.pix_fmt = "rgba"
        for number, image in enumerate(bikes[:3]):
            rgba = np.dstack([image, np.full(image.shape[:2], 128, np.uint8)])
            frame = av.VideoFrame.from_ndarray(rgba, format="rgba")
            frame.pts = number
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    stats = convert(job(clip, tmp_path / "out.mp4"), blend)
    assert stats.frames_out == 6
    warnings = [r.getMessage() for r in caplog.records if "alpha channel" in r.getMessage()]
    assert len(warnings) == 1 and "rgba" in warnings[0] and "transparency is dropped" in warnings[0]


def test_an_opaque_gif_input_says_nothing_of_transparency(tmp_path, bikes, caplog):
    """A GIF is decoded with an alpha channel whether or not it uses it: only transparent pixels are
    worth a warning (the transparent case: test_alpha_in_a_video_is_dropped_with_one_warning)."""
    from utils.image_io import save_gif

    save_gif(tmp_path / "opaque.gif", bikes[:3], duration_ms=40)
    stats = convert(job(tmp_path / "opaque.gif", tmp_path / "out.mp4"), blend)
    assert stats.frames_in == 3 and "alpha" not in caplog.text and "transparen" not in caplog.text


def test_a_truncated_mkv_is_short_of_its_headers_duration(tmp_path, bikes, caplog):
    """Matroska and WebM store no frame count: a file cut short (a copy that stopped) is measured
    against the duration its header gives; with --strict nothing is written."""
    from utils.errors import InputError

    data = write_clip(tmp_path / "whole.mkv", bikes).read_bytes()  # 12 frames, 0.48 s
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:len(data) * 3 // 4])
    stats = convert(job(cut, tmp_path / "out.mp4"), blend)
    assert 0 < stats.frames_in < 10
    warnings = [r.getMessage() for r in caplog.records if "ends early" in r.getMessage()]
    assert len(warnings) == 1 and f"decoded {stats.frames_in} frames" in warnings[0], warnings
    assert "of the 0.48 s its header gives" in warnings[0]
    with pytest.raises(InputError, match="ends early.*--strict refuses a partial conversion"):
        convert(job(cut, tmp_path / "strict.mp4", strict=True), blend)
    assert not (tmp_path / "strict.mp4").exists()


def test_a_whole_mkv_whose_audio_runs_on_is_not_short(tmp_path, bikes, caplog):
    """The container's duration is the longest track's: audio 1.5 s past the last frame is no
    truncation of the video (its own DURATION tag is what counts)."""
    clip = write_clip(tmp_path / "clip.mkv", bikes, tone=(440, 48000), tone_seconds=Fraction(2))
    stats = convert(job(clip, tmp_path / "out.mp4", strict=True), blend)
    assert stats.frames_in == 12 and "ends early" not in caplog.text


def test_a_stream_that_changes_its_frame_size_is_scaled_to_the_first_size(tmp_path, bikes, caplog):
    """A TS recording that switches resolution part-way: every frame is scaled to the first one's
    size, with one warning (the scene measure, the network and the encoder take one size)."""
    from tests.video_builders import write_size_change_clip

    wide = sample_frames("bikes", 4, size=(240, 90), skip=4)
    clip = write_size_change_clip(tmp_path / "switch.ts", [bikes[:4], wide])
    stats = convert(job(clip, tmp_path / "out.mp4"), blend)
    assert stats.frames_in == 8 and stats.frames_out == 16
    video = read_video(tmp_path / "out.mp4")
    assert len(video.frames) == 16 and {frame.shape for frame in video.frames} == {(90, 160, 3)}
    squeezed = np.asarray(Image.fromarray(wide[2]).resize((160, 90), Image.BICUBIC))
    assert psnr(video.frames[12], squeezed) > 25  # the later frames are the wide ones, scaled
    warnings = [r.getMessage() for r in caplog.records if "frame size" in r.getMessage()]
    assert warnings == [f"warning: {clip} changes its frame size at 0.16 s, from 160x90 to 240x90: "
                        "frames of another size are scaled to 160x90"]


@pytest.mark.parametrize("codec, layout, output", [("pcm_s16le", "stereo", "out.mp4"), ("libopus", "5.1", "out.mov")],
                         ids=["pcm-into-mp4", "opus-5.1-into-mov"])
def test_audio_the_output_takes_only_re_encoded_is_re_encoded_before_any_frame(tmp_path, bikes, caplog, codec, layout,
                                                                             output):
    """Codecs the container lists, but its muxer refuses as they are: PCM whose channel order
    Matroska did not keep (MP4 fails on closing the file), Opus 5.1 (MOV fails at the header).
    Re-encoded to AAC, said before the first frame is interpolated, in the layout the input has."""
    import av

    from tests.video_builders import Track, dominant_pitches, write_tracks_clip

    clip = write_tracks_clip(tmp_path / "clip.mkv", bikes[:4],
                             [Track("eng", hz=440, sample_rate=48000, codec=codec, layout=layout)])
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    said_before = []

    def network(frame0, frame1, timesteps):
        said_before.append("re-encoding audio track 1" in caplog.text)
        return blend(frame0, frame1, timesteps)

    convert(job(clip, tmp_path / output), network)
    assert said_before and all(said_before)
    with av.open(str(tmp_path / output)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.metadata.get("language") == "eng"
        assert audio.codec_context.layout.name == layout
    assert dominant_pitches(tmp_path / output) == [pytest.approx(440, abs=15)]


def test_a_second_video_track_is_left_out_with_a_note(tmp_path, bikes, caplog):
    import av

    from tests.video_builders import write_tracks_clip

    clip = write_tracks_clip(tmp_path / "angles.mkv", bikes[:3], [], second_video=True)
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    convert(job(clip, tmp_path / "out.mkv"), blend)
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert [stream.type for stream in container.streams] == ["video"]
    assert "video track 1 (h264) is left out: the output holds the interpolated video" in caplog.text


def test_gif_log_and_stats_give_the_frames_the_file_holds(tmp_path, bikes, caplog):
    """Pillow merges identical consecutive frames: a, a, a | a-b | b, b are 3 frames in the file."""
    from PIL import Image as PILImage

    folder = tmp_path / "frames"
    folder.mkdir()
    for number, image in enumerate([bikes[0], bikes[0], bikes[1]]):
        PILImage.fromarray(image).save(folder / f"{number}.png")
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    stats = convert(job(folder, tmp_path / "out.gif", scene_threshold=0.0), blend)
    with PILImage.open(tmp_path / "out.gif") as gif:
        assert stats.frames_out == gif.n_frames == 3  # a, a, a | a-b | b, b
    assert "the GIF holds 3 frames" in caplog.text and "of the 6 written were merged" in caplog.text


def test_a_loop_seam_that_is_a_cut_is_said(tmp_path, bikes, caplog):
    folder = tmp_path / "frames"
    folder.mkdir()
    for number, image in enumerate([bikes[0], bikes[1], np.full_like(bikes[1], 255)]):
        Image.fromarray(image).save(folder / f"{number}.png")
    caplog.set_level(logging.INFO, logger="ifrnet.video")
    stats = convert(job(folder, tmp_path / "out.mp4", loop=True), blend)
    assert stats.scene_cuts == 2 and stats.loop_seam_cut
    assert "--loop: the last and the first frame differ like a scene cut" in caplog.text


@pytest.mark.parametrize("output, image_format, expected", [
    ("out.mp4", None, "not to {output} (see --crf for videos)"),
    ("frames", None, "not to png frames (lossless)"),
    ("frames", "png", "not to png frames (lossless)"),
])
def test_quality_where_it_does_not_apply_is_refused(tmp_path, frame_folder, capsys, output, image_format, expected):
    from tests.video_cli import MISSING, assert_refused, cli

    extra = ("--quality", "80") + (("--image_format", image_format) if image_format else ())
    result = cli(frame_folder, tmp_path / output, tmp_path / MISSING, capsys, *extra)
    assert_refused(result, expected.format(output=tmp_path / output))


@pytest.mark.parametrize("rotation, hflip", [(90, False), (-90, False), (90, True)], ids=["ccw", "cw", "ccw-mirrored"])
def test_montage_of_a_rotated_video_is_side_by_side_as_seen(tmp_path, bikes, rotation, hflip):
    """A phone video stored sideways (or mirrored) with a display matrix: the montage turns and
    mirrors both halves as a player shows them and drops the matrix, instead of letting the player
    stack them top and bottom (or swap them)."""
    import av

    from tests.video_builders import write_tracks_clip

    clip = write_tracks_clip(tmp_path / "rotated.mp4", bikes[:3], [], rotation=rotation, hflip=hflip)
    convert(job(clip, tmp_path / "montage.mp4", montage=True), blend)
    with av.open(str(tmp_path / "montage.mp4")) as container:
        first = next(container.decode(video=0))
        assert first.rotation == 0
    video = read_video(tmp_path / "montage.mp4")
    height, width = bikes[0].shape[:2]
    assert video.frames[0].shape == (width, 2 * height, 3)
    upright = np.rot90(bikes[0], rotation // 90)
    upright = upright[:, ::-1] if hflip else upright
    assert psnr(video.frames[0][:, :height], upright) > 30 and psnr(video.frames[0][:, height:], upright) > 30


def test_montage_of_a_tilted_video_keeps_the_matrix(tmp_path, bikes, caplog):
    """A 30 degree display matrix is not a quarter turn: the montage is written as stored and keeps
    the matrix, so a player tilts both halves together; a warning says so."""
    import av

    from tests.video_builders import write_tracks_clip

    clip = write_tracks_clip(tmp_path / "tilted.mp4", bikes[:2], [], rotation=30)
    with caplog.at_level("WARNING", logger="ifrnet.video"):
        convert(job(clip, tmp_path / "montage.mp4", montage=True), blend)
    assert "the montage keeps it" in caplog.text
    with av.open(str(tmp_path / "montage.mp4")) as container:
        assert abs(next(container.decode(video=0)).rotation - 30) <= 1  # (16.16 fixed point: 29.9...)
    height, width = bikes[0].shape[:2]
    assert read_video(tmp_path / "montage.mp4").frames[0].shape == (height, 2 * width, 3)


@pytest.mark.parametrize("hflip", [False, True], ids=["turned", "mirrored"])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_frames_of_every_exif_orientation_look_as_a_player_shows_them(tmp_path, bikes, rotation, hflip):
    """The eight orientations a display matrix can give (a quarter turn, then a mirror, as phones
    and PyAV write them): frames written as images are turned and mirrored to match."""
    from tests.video_builders import write_tracks_clip

    two = bikes[:2]
    clip = write_tracks_clip(tmp_path / "oriented.mp4", two, [], rotation=rotation, hflip=hflip)
    convert(job(clip, tmp_path / "frames"), blend)
    shown = np.rot90(two[0], rotation // 90)
    shown = shown[:, ::-1] if hflip else shown
    first = np.asarray(Image.open(sorted((tmp_path / "frames").iterdir())[0]).convert("RGB"))
    assert first.shape == shown.shape
    assert psnr(first, shown) > 28


def test_a_tilted_display_matrix_keeps_the_frames_as_stored_and_says_so(tmp_path, bikes, caplog):
    """A 30 degree display matrix cannot be applied to images by quarter turns: the frames are
    written as stored, with a warning instead of a silent sideways result."""
    from tests.video_builders import write_tracks_clip

    two = bikes[:2]
    clip = write_tracks_clip(tmp_path / "tilted.mp4", two, [], rotation=30)
    with caplog.at_level("WARNING", logger="ifrnet.video"):
        convert(job(clip, tmp_path / "frames"), blend)
    assert "not a quarter turn or a mirror" in caplog.text
    first = np.asarray(Image.open(sorted((tmp_path / "frames").iterdir())[0]).convert("RGB"))
    assert psnr(first, two[0]) > 28


@pytest.mark.parametrize("output", ["frames", "out.gif"])
def test_images_and_gifs_of_a_rotated_video_are_upright(tmp_path, bikes, output):
    """Images and GIFs have no display matrix: a phone video's frames are turned upright before they
    are written, instead of being saved as stored (sideways)."""
    from tests.video_builders import write_tracks_clip

    clip = write_tracks_clip(tmp_path / "rotated.mp4", bikes[:3], [], rotation=90)
    convert(job(clip, tmp_path / output), blend)
    if output == "frames":
        frames = [np.asarray(Image.open(path).convert("RGB")) for path in sorted((tmp_path / output).iterdir())]
    else:
        with Image.open(tmp_path / output) as gif:
            frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(gif)]
    height, width = bikes[0].shape[:2]
    assert frames[0].shape == (width, height, 3)
    assert psnr(frames[0], np.rot90(bikes[0], 1)) > 28 and psnr(frames[-1], np.rot90(bikes[2], 1)) > 28
