"""The video modules one at a time, without a network or an encoder where they need none: the
output clock, de-duplication, the pair step of the pipeline (normal and --loop), the part of an
input, the checks of a job's flags, and how often a conversion opens its input.

``blend`` stands in for the network (the weighted mean of the two frames), so each test checks the
video code's own decisions in milliseconds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from PIL import Image

import video.job
from utils.errors import InputError
from video.convert import ConversionJob, SourcePart, check_job, convert
from video.orientation import Orientation, orientation_from_matrix
from video.pipeline import HeldFrameFilter, PipelineStats, StreamOptions, interpolate_stream, pair_step
from video.sources import FrameFolderSource
from video.timing import OutputClock, OutputSlot

SIZE = (24, 32)  # height, width: small, and more than one scene-measure block


def blend(frame0: np.ndarray, frame1: np.ndarray, timesteps: List[float]) -> List[np.ndarray]:
    """A stand-in for the network: the frames' weighted mean at each t."""
    a, b = frame0.astype(np.float32), frame1.astype(np.float32)
    return [np.round(a * (1 - t) + b * t).astype(np.uint8) for t in timesteps]


def grey(level: int) -> np.ndarray:
    return np.full((*SIZE, 3), level, np.uint8)


def frame_folder(folder: Path, levels: List[int]) -> Path:
    """A folder of flat grey frames, one per level (a level step > 30 is a scene cut)."""
    folder.mkdir()
    for number, level in enumerate(levels):
        Image.fromarray(grey(level)).save(folder / f"{number:03d}.png")
    return folder


def counting_opens(monkeypatch) -> List[Path]:
    """Every input convert opens, as a list that grows."""
    opened: List[Path] = []
    real = video.job.open_source

    def open_source(path, *args, **kwargs):
        opened.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(video.job, "open_source", open_source)
    return opened


# -- how often the input is opened (each opening decodes up to --start) --------------------------

def test_convert_opens_its_input_once(tmp_path, monkeypatch):
    folder = frame_folder(tmp_path / "in", [10, 20, 30])
    opened = counting_opens(monkeypatch)
    convert(ConversionJob(input=folder, output=tmp_path / "out", progress=False, start=Fraction(1, 25)), blend)
    assert opened == [folder]
    assert len(list((tmp_path / "out").iterdir())) == 4  # frames 2 and 3 at 2x


def test_a_checked_job_is_converted_without_opening_the_input_again(tmp_path, monkeypatch):
    folder = frame_folder(tmp_path / "in", [10, 20, 30])
    opened = counting_opens(monkeypatch)
    with check_job(ConversionJob(input=folder, output=tmp_path / "out", progress=False)) as checked:
        assert checked.rate == 50 and checked.source.info.frame_count == 3
        stats = convert(checked, blend)
    assert opened == [folder] and stats.frames_out == 6
    with pytest.raises(ValueError, match="converts once"):  # its input was read to the end and closed
        convert(checked, blend)


def test_the_video_tool_opens_its_input_once(tmp_path, monkeypatch):
    """interpolate_video.py checks the job before loading the model and converts it after: the
    input it checked is the one it converts (it was opened three times, each decoding to --start)."""
    import interpolate_video
    from models.interpolator import Interpolator

    @dataclass
    class LoadedInterpolator:  # what main uses of an Interpolator
        device: object = None
        weights_note: str = ""
        checkpoint: str = "weights.pth"
        timestep_note: str = ""
        timestep_mode: str = "direct"

        def note_approximations(self, timesteps):
            pass

        def frame_settings(self):
            return {}

        def interpolate(self, frame0, frame1, timesteps):
            return blend(frame0, frame1, timesteps)

    folder = frame_folder(tmp_path / "in", [10, 20, 30, 40])
    opened = counting_opens(monkeypatch)
    monkeypatch.setattr(Interpolator, "load", lambda *args, **kwargs: LoadedInterpolator(torch.device("cpu")))
    interpolate_video.main(["--input", str(folder), "--output", str(tmp_path / "out"), "--input_fps", "10",
                            "--start", "0.1", "--quiet"])
    assert opened == [folder]
    assert len(list((tmp_path / "out").iterdir())) == 6  # frames 2, 3 and 4 at 2x


def test_a_checked_job_closes_its_input_when_the_model_never_comes(tmp_path, monkeypatch):
    folder = frame_folder(tmp_path / "in", [10, 20, 30])
    closed = []
    with pytest.raises(RuntimeError, match="no model"):
        with check_job(ConversionJob(input=folder, output=tmp_path / "out", progress=False)) as checked:
            monkeypatch.setattr(checked.source._source, "close", lambda: closed.append(True))
            raise RuntimeError("no model")
    assert closed == [True]


# -- the pipeline: every pair takes one step, the --loop seam too --------------------------------

@dataclass(frozen=True)
class Frame:
    """SourceFrame-like: what the pipeline reads of a frame."""

    time: Fraction
    image: np.ndarray


INTERVAL = Fraction(1, 10)  # input frames 0.1 s apart; the streams below are 2x (20 fps)


def run_stream(levels: List[int], options: StreamOptions = StreamOptions()):
    """(stats, written images in order) of a 2x stream over flat grey frames, 0.1 s apart."""
    frames = [Frame(number * INTERVAL, grey(level)) for number, level in enumerate(levels)]
    written = {}
    stats = interpolate_stream(frames, written.__setitem__, blend, OutputClock(2 / INTERVAL),
                               lambda: len(levels) * INTERVAL, options)
    assert sorted(written) == list(range(len(written)))
    return stats, [written[index] for index in sorted(written)]


@pytest.mark.parametrize("levels", [
    [100, 110, 120, 140],  # only the seam (140 -> 100) is a cut
    [100, 140, 130, 120],  # only an inner pair (100 -> 140) is a cut
    [100, 140, 150, 200],  # both
    [100, 110, 120, 110],  # neither
])
def test_a_looped_video_is_the_video_with_its_first_frame_after_the_last(levels):
    """--loop makes the last frame's slots lead into the first frame: every pair, the seam
    included, is treated as that pair inside a video is (cuts counted, listed and repeated)."""
    looped, looped_images = run_stream(levels, StreamOptions(loop=True))
    unrolled, unrolled_images = run_stream(levels + levels[:1])
    assert looped.cut_pairs == unrolled.cut_pairs
    assert looped.scene_cuts == unrolled.scene_cuts == len(unrolled.cut_pairs)
    assert looped.interpolated == unrolled.interpolated
    assert looped.loop_seam_cut == (len(levels) in unrolled.cut_pairs)
    assert len(looped_images) == 2 * len(levels)
    for index, (ours, theirs) in enumerate(zip(looped_images, unrolled_images)):
        assert np.array_equal(ours, theirs), index


class Network:
    """``blend``, keeping each call's timesteps."""

    def __init__(self) -> None:
        self.calls: List[List[float]] = []

    def __call__(self, frame0, frame1, timesteps):
        self.calls.append(list(timesteps))
        return blend(frame0, frame1, timesteps)


def slots(*timesteps: Fraction) -> List[OutputSlot]:
    return [OutputSlot(index, Fraction(index), Fraction(t)) for index, t in enumerate(timesteps)]


def test_pair_step_copies_originals_and_asks_for_all_in_betweens_at_once():
    network, stats = Network(), PipelineStats()
    images, cut = pair_step(grey(0), grey(20), 1, slots(0, Fraction(1, 4), Fraction(3, 4)), network, 30.0, stats)
    assert not cut and network.calls == [[0.25, 0.75]]
    assert [int(image[0, 0, 0]) for image in images] == [0, 5, 15]
    assert stats.interpolated == 2 and stats.scene_cuts == 0 and stats.cut_pairs == []


def test_pair_step_repeats_the_nearer_original_across_a_cut_and_lists_it():
    network, stats = Network(), PipelineStats()
    images, cut = pair_step(grey(0), grey(200), 7, slots(0, Fraction(1, 2), Fraction(3, 4)), network, 30.0, stats)
    assert cut and network.calls == []
    assert [int(image[0, 0, 0]) for image in images] == [0, 0, 200]  # t = 1/2 still shows the first
    assert stats.scene_cuts == 1 and stats.cut_pairs == [7] and stats.interpolated == 0


@pytest.mark.parametrize("frame1, timesteps, threshold", [
    (grey(200), (0,), 30.0),  # only an original on screen: nothing would be blended, no cut to count
    (grey(200), (0, Fraction(1, 2)), 0.0),  # threshold 0: detection off
])
def test_pair_step_counts_no_cut_where_none_matters(frame1, timesteps, threshold):
    network, stats = Network(), PipelineStats()
    _, cut = pair_step(grey(0), frame1, 1, slots(*timesteps), network, threshold, stats)
    assert not cut and stats.scene_cuts == 0 and stats.cut_pairs == []
    assert network.calls == ([[0.5]] if len(timesteps) > 1 else [])


def test_pair_step_holds_the_last_frame_when_nothing_follows():
    network, stats = Network(), PipelineStats()
    images, cut = pair_step(grey(40), None, 3, slots(0, Fraction(1, 2)), network, 30.0, stats)
    assert not cut and network.calls == [] and stats.interpolated == 0
    assert [int(image[0, 0, 0]) for image in images] == [40, 40]


def test_a_stream_without_loop_holds_its_last_frame_and_lists_inner_cuts():
    stats, images = run_stream([100, 110, 200, 210])
    assert stats.cut_pairs == [2] and stats.scene_cuts == 1 and not stats.loop_seam_cut
    assert [int(image[0, 0, 0]) for image in images] == [100, 105, 110, 110, 200, 205, 210, 210]
    assert stats.frames_in == 4 and stats.frames_out == 8 and stats.interpolated == 2


# -- de-duplication -----------------------------------------------------------------------------

def test_dedup_compares_with_the_last_frame_kept_not_the_previous_one():
    """A slow drift of held frames (a level a frame) ends the hold once it adds up to the threshold."""
    levels = [100, 100, 101, 102, 102, 110]
    held = HeldFrameFilter(threshold=2.0)
    kept = list(held(Frame(Fraction(number), grey(level)) for number, level in enumerate(levels)))
    assert [int(frame.image[0, 0, 0]) for frame in kept] == [100, 102, 110]
    assert held.dropped == 3


def test_dedup_threshold_below_zero_is_refused():
    with pytest.raises(ValueError, match="at least 0"):
        HeldFrameFilter(threshold=-1.0)


def test_dedup_turns_a_held_picture_into_motion_and_keeps_the_count():
    """Pictures held for two frames: the held positions become in-betweens of the pictures around."""
    stats, images = run_stream([0, 0, 20, 20, 40], StreamOptions(dedup=1.0))
    assert stats.duplicates_dropped == 2 and stats.frames_in == 3 and stats.frames_out == 10
    assert [int(image[0, 0, 0]) for image in images] == [0, 5, 10, 15, 20, 25, 30, 35, 40, 40]
    _, without = run_stream([0, 0, 20, 20, 40])
    assert [int(image[0, 0, 0]) for image in without] == [0, 0, 0, 10, 20, 20, 20, 30, 40, 40]  # jerks


# -- the output clock ---------------------------------------------------------------------------

def test_clock_gives_each_pair_its_slots_and_timesteps():
    clock = OutputClock(Fraction(50), origin=Fraction(1, 10))
    pair = clock.slots_between(Fraction(1, 10), Fraction(1, 10) + Fraction(1, 25))
    assert [(slot.index, slot.time, slot.t) for slot in pair] == [
        (0, Fraction(1, 10), Fraction(0)), (1, Fraction(1, 10) + Fraction(1, 50), Fraction(1, 2))]


def test_clock_follows_a_variable_rate_by_timestamps():
    """A frame shown twice as long as the others gets twice the output frames, at quarter steps."""
    clock = OutputClock(Fraction(20))
    times = [Fraction(0), Fraction(1, 10), Fraction(3, 10), Fraction(4, 10)]
    pairs = [clock.slots_between(a, b) for a, b in zip(times, times[1:])]
    assert [[slot.t for slot in pair] for pair in pairs] == [
        [0, Fraction(1, 2)], [0, Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)], [0, Fraction(1, 2)]]
    assert [slot.index for pair in pairs for slot in pair] == list(range(8))  # no gap, no repeat
    assert clock.count_until(Fraction(1, 2)) == 10


def test_clock_slots_of_a_slower_output_skip_some_input_frames():
    clock = OutputClock(Fraction(10))  # 10 fps out of 25 fps in
    pairs = [clock.slots_between(Fraction(i, 25), Fraction(i + 1, 25)) for i in range(5)]
    assert [len(pair) for pair in pairs] == [1, 0, 1, 0, 0]  # frames 0 and 2 (0.08 s) are on screen at 0 s and 0.1 s
    assert pairs[2][0].t == Fraction(1, 2)  # 0.1 s is halfway from 0.08 s to 0.12 s


@pytest.mark.parametrize("make", [
    lambda: OutputClock(Fraction(0)),
    lambda: OutputClock(Fraction(25)).slots_between(Fraction(1), Fraction(1)),
    lambda: OutputClock(Fraction(25)).slots_between(Fraction(2), Fraction(1)),
])
def test_clock_refuses_a_rate_or_pair_it_cannot_time(make):
    with pytest.raises(ValueError):
        make()


# -- the part of an input (--start, --duration) -------------------------------------------------

def test_a_part_starts_at_the_first_frame_at_or_after_start_and_ends_at_its_duration(tmp_path):
    source = FrameFolderSource(frame_folder(tmp_path / "in", [0, 10, 20, 30, 40, 50]), Fraction(10))
    part = SourcePart(source, Fraction(15, 100), Fraction(3, 10))  # 0.15 s: frame 3 (0.2 s) is the first
    assert part.info.start == Fraction(2, 10) and part.lead == Fraction(2, 10) and part.starts_late
    assert part.info.end == Fraction(45, 100) and part.info.frame_count == 2  # 0.2-0.45 s at 10 fps, rounded
    assert [int(frame.image[0, 0, 0]) for frame in part.frames()] == [20, 30, 40]  # 0.4 s < 0.45 s
    assert part.end_time == Fraction(45, 100)
    closed = []
    source.close = lambda: closed.append(True)
    part.close()
    part.close()  # a CheckedJob and convert both close it: the input once
    assert part.closed and closed == [True]


def test_a_part_cut_short_by_the_end_of_the_input_says_so_in_one_line(tmp_path, caplog):
    source = FrameFolderSource(frame_folder(tmp_path / "in", [0, 10, 20, 30, 40, 50]), Fraction(10))  # 0.6 s
    with caplog.at_level("INFO", logger="ifrnet.video"):
        part = SourcePart(source, Fraction(2, 10), Fraction(1))  # 0.2-1.2 s asked
        assert len(list(part.frames())) == 4
        fitting = SourcePart(FrameFolderSource(tmp_path / "in", Fraction(10)), Fraction(2, 10), Fraction(4, 10))
        assert len(list(fitting.frames())) == 4  # 0.2-0.6 s: up to the end, not past it
    assert part.end_time == Fraction(6, 10)
    assert caplog.messages == ["--duration 1 s goes past the end of the input: the part is 0.40 s long"]


def test_a_part_past_the_last_frame_is_refused_with_the_inputs_length(tmp_path):
    source = FrameFolderSource(frame_folder(tmp_path / "in", [0, 10, 20]), Fraction(10))
    with pytest.raises(InputError, match=r"--start 5 s is past the last frame of the input \(it lasts about 0.30 s\)"):
        SourcePart(source, Fraction(5))


# -- flags that need no input are refused before it is opened -----------------------------------

@pytest.mark.parametrize("options, expected", [
    ({"start": Fraction(-1)}, "--start must be at least 0 seconds, got -1"),
    ({"duration": Fraction(0)}, "--duration must be positive, got 0 seconds"),
    ({"factor": 1}, "--factor must be an integer of at least 2, got 1"),
    ({"factor": None}, "--factor must be an integer of at least 2, got None"),
])
def test_time_and_factor_flags_are_refused_before_the_input_is_opened(tmp_path, monkeypatch, options, expected):
    folder = frame_folder(tmp_path / "in", [10, 20, 30])
    opened = counting_opens(monkeypatch)
    with pytest.raises(InputError, match=re.escape(expected)):
        check_job(ConversionJob(input=folder, output=tmp_path / "out", progress=False, **options))
    assert opened == []


def test_a_target_fps_needs_no_factor(tmp_path):
    folder = frame_folder(tmp_path / "in", [10, 20, 30])
    with check_job(ConversionJob(input=folder, output=tmp_path / "out", factor=None, fps=Fraction(60))) as checked:
        assert checked.rate == 60


def _display_matrix(a: float, b: float, c: float, d: float) -> List[int]:
    """FFmpeg's display matrix (16.16 fixed point for the 2x2 part, 2.30 for the last column)."""
    return [round(a * 65536), round(b * 65536), 0, round(c * 65536), round(d * 65536), 0, 0, 0, 1 << 30]


@pytest.mark.parametrize("scale_x, scale_y", [(1, 1), (2, 2), (0.5, 0.5), (1.5, 1)])
def test_a_scaled_quarter_turn_or_mirror_is_still_that_turn_or_mirror(scale_x, scale_y):
    """A player may also scale (or stretch) what a display matrix turns; the written frames keep their
    pixel size and still need the turn and the mirror, not the tilt treatment (frames left as stored)."""
    turn = orientation_from_matrix(_display_matrix(0, -scale_y, scale_x, 0))  # x' = s y, y' = -s x
    assert turn == Orientation(transpose=True, flip_rows=True, flip_columns=False)
    mirror = orientation_from_matrix(_display_matrix(-scale_x, 0, 0, scale_y))
    assert mirror == Orientation(transpose=False, flip_rows=False, flip_columns=True)
    assert orientation_from_matrix(_display_matrix(scale_x, 0, 0, scale_y)).is_identity


def test_a_tilted_or_empty_display_matrix_is_left_to_the_player():
    cos, sin = np.cos(np.radians(30)), np.sin(np.radians(30))
    assert orientation_from_matrix(_display_matrix(cos, sin, -sin, cos)) is None
    assert orientation_from_matrix(_display_matrix(2 * cos, 2 * sin, -2 * sin, 2 * cos)) is None
    assert orientation_from_matrix(_display_matrix(0, 0, 0, 0)) is None
    assert orientation_from_matrix(None) == Orientation()


# -- the encoder's pixel format -----------------------------------------------------------------

@pytest.mark.parametrize("codec, size, expected, note", [
    ("libx264", (64, 48), "yuv420p", False),
    ("libx264", (63, 48), "yuv444p", True),  # 4:2:0 cannot hold an odd size: said
    ("libx264rgb", (64, 48), "rgb24", False),  # no 4:2:0 to fall back from: nothing to say
    ("libx264rgb", (63, 47), "rgb24", False),
])
def test_the_odd_size_note_is_only_for_encoders_that_would_have_taken_4_2_0(caplog, codec, size, expected, note):
    import av

    from video.sinks import pick_pixel_format

    caplog.set_level("INFO", logger="ifrnet.video")
    assert pick_pixel_format(av.Codec(codec, "w"), *size) == expected
    assert ("is odd" in caplog.text) == note
