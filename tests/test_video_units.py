"""The video modules one at a time, without a network or an encoder where they need none: the
output clock, de-duplication, the pair step of the pipeline (normal and --loop), the part of an
input, and how often a conversion opens its input.

``blend`` stands in for the network (the weighted mean of the two frames), so each test checks the
video code's own decisions in milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import List

import numpy as np
import pytest
import torch
from PIL import Image

import video.convert
from video.convert import ConversionJob, check_job, convert
from video.pipeline import StreamOptions, interpolate_stream
from video.timing import OutputClock

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
    real = video.convert.open_source

    def open_source(path, *args, **kwargs):
        opened.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(video.convert, "open_source", open_source)
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

    @dataclass
    class Network:  # what main uses of an Interpolator
        device: object = None
        weights_note: str = ""

        def interpolate(self, frame0, frame1, timesteps):
            return blend(frame0, frame1, timesteps)

    folder = frame_folder(tmp_path / "in", [10, 20, 30, 40])
    opened = counting_opens(monkeypatch)
    monkeypatch.setattr(interpolate_video.Interpolator, "load", lambda *args, **kwargs: Network(torch.device("cpu")))
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
