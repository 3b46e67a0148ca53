"""A long conversion in segments: each one committed on its own, so a killed run resumes.

The input's timeline is cut at the first key frame after every ``segment_seconds`` (a seek there
decodes nothing it throws away). A segment covers the source frames from its first frame ``a`` up to
and including the next segment's first frame ``b``, and writes exactly the output frames whose
timestamps fall in ``[t(a), t(b))``: the pair across a boundary is interpolated once, by the
segment before it, and every output frame is made from the same two source frames as in one
unsegmented run, so the frames, their count and their timestamps are the same bit for bit.

Each finished segment is moved into a work folder beside the output (``.<output name>.segments``)
under its final name, so a segment file there is always complete. The folder's ``manifest.json``
holds the input's identity, every setting that changes the frames, the model's (with the weights
file's hash) and the segment boundaries; a rerun writes only the segments not committed yet when
they all match, and says which one changed otherwise. At the end the segments are joined without
re-encoding (a video's packets copied, a folder's frames moved), the input's other tracks and tags
are muxed in, and the work folder is removed.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import av

from utils.errors import InputError
from video.passthrough import StreamCarrier, copy_metadata
from video.sources import SourceFrame, VideoFileSource, list_frames, open_source

__all__ = ["MANIFEST_NAME", "FRAME_SETTINGS_LEFT_OUT", "work_folder", "plan_boundaries", "Manifest", "SegmentFrames",
           "join_video_segments", "join_folder_segments", "uncommitted_segments", "commit_segment", "segment_name",
           "check_resumable", "remove_work_folder", "SegmentProgress"]

log = logging.getLogger("ifrnet.video")

MANIFEST_NAME = "manifest.json"
_MANIFEST_VERSION = 1
# The job's fields that do not change the output's frames (where it goes, how it is shown).
FRAME_SETTINGS_LEFT_OUT = ("input", "output", "overwrite", "progress", "queue_size", "strict")
_AUDIO_LEAD = Fraction(1, 2)  # mux the other tracks this far ahead of the video (as video.sinks does)


def work_folder(output: Path) -> Path:
    """The folder beside ``output`` that holds its committed segments and their manifest."""
    output = Path(output)
    return output.parent / f".{output.name}.segments"


def _key_frame_times(path: Path) -> List[Tuple[Fraction, bool]]:
    """Every video packet's time (seconds) in presentation order and which are key frames, read
    without decoding: [(time, is_key)]."""
    source = VideoFileSource(path)
    try:
        time_base = source.time_base
        return sorted((Fraction(packet.pts) * time_base, bool(packet.is_keyframe))
                      for packet in source.packets() if packet.pts is not None)
    finally:
        source.close()


def plan_boundaries(input_path: Path, first: Fraction, stop: Optional[Fraction], rate: Fraction,
                    segment_seconds: Fraction, snap: Fraction) -> List[Fraction]:
    """The first frame's time of each segment of the part that starts at the frame at ``first`` and
    ends before ``stop`` (None: the input's end). A boundary is the first key frame at least
    ``segment_seconds`` after the previous boundary that has a frame after it inside the part; a
    folder of images has a key frame at every frame."""
    if Path(input_path).is_dir():
        times = [(Fraction(number) / rate, True) for number in range(len(list_frames(input_path)))]
    else:
        times = _key_frame_times(Path(input_path))
    times = [(at, key) for at, key in times if at >= first - snap and (stop is None or at < stop - snap)]
    boundaries = [first]
    for at, key in times[:-1]:  # a boundary needs a frame after it
        if not key or at < boundaries[-1] + segment_seconds - snap:
            continue
        boundaries.append(at)
    return boundaries


@dataclass
class Manifest:
    """What a work folder's segments were made from; two runs that agree on all of it make the
    same frames. Written once, before the first segment."""

    input: Dict[str, Any]  # path, size, modification time (ns)
    settings: Dict[str, Any]  # the job's fields that change frames, as strings
    model: Dict[str, Any]  # the model's settings and the weights file's sha256
    boundaries: List[str]  # each segment's first frame time, exact fractions as strings
    version: int = _MANIFEST_VERSION

    @classmethod
    def of(cls, job: Any, model: Mapping[str, Any], boundaries: List[Fraction]) -> "Manifest":
        status = Path(job.input).stat()
        identity = {"path": str(Path(job.input).resolve()), "size": status.st_size, "modified_ns": status.st_mtime_ns}
        settings = {item.name: None if getattr(job, item.name) is None else str(getattr(job, item.name))
                    for item in fields(job) if item.name not in FRAME_SETTINGS_LEFT_OUT}
        return cls(identity, settings, {name: str(value) for name, value in model.items()},
                   [str(boundary) for boundary in boundaries])

    def write(self, folder: Path) -> None:
        temp = folder / f"{MANIFEST_NAME}.tmp"
        temp.write_text(json.dumps(self.__dict__, indent=1, sort_keys=True))
        os.replace(temp, folder / MANIFEST_NAME)

    @classmethod
    def read(cls, folder: Path) -> Optional["Manifest"]:
        try:
            return cls(**json.loads((folder / MANIFEST_NAME).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def difference(self, other: "Manifest") -> Optional[str]:
        """What differs between the work folder's manifest (self) and this run's (``other``), in
        words, or None when they agree."""
        if self.version != other.version:
            return "it was made by another version of this tool"
        if self.input != other.input:
            changed = [name for name in ("path", "size", "modified_ns") if self.input.get(name) != other.input.get(name)]
            return f"the input changed ({', '.join(name.replace('_ns', ' time') for name in changed)})"
        for name in sorted(set(self.settings) | set(other.settings)):
            if self.settings.get(name) != other.settings.get(name):
                return f"--{name} changed from {self.settings.get(name)} to {other.settings.get(name)}"
        for name in sorted(set(self.model) | set(other.model)):
            if self.model.get(name) != other.model.get(name):
                what = "the weights file changed (sha256)" if name == "weights_sha256" else f"--{name} changed"
                return f"{what}: {self.model.get(name)} then, {other.model.get(name)} now"
        if self.boundaries != other.boundaries:
            return "the segment boundaries differ (--segment_seconds or the input's key frames)"
        return None


def segment_name(number: int, suffix: str) -> str:
    """A committed segment's name in the work folder: a folder of frames for an empty ``suffix``."""
    return f"segment_{number:05d}{suffix}"


def uncommitted_segments(folder: Path, count: int, suffix: str) -> List[int]:
    """The numbers of the segments not committed yet (no segment file under its final name): all of
    them in a new work folder; after a kill, those the killed run had not finished (several workers
    commit out of order, so they need not be the last ones)."""
    return [number for number in range(count) if not (folder / segment_name(number, suffix)).exists()]


def commit_segment(temp: Path, folder: Path, number: int, suffix: str) -> Path:
    """Move a finished segment into place: a rename, so the final name always holds a whole segment."""
    final = folder / segment_name(number, suffix)
    if temp.is_file():
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
    os.replace(temp, final)
    return final


class SegmentFrames:
    """The source frames of one segment: from the frame at ``begin`` through the frame at ``until``
    (the next segment's first, included: its pair is this segment's last), or for the last segment
    (``until`` None) to the end of the part (frames before ``stop``), after which ``end_time`` says
    when the last frame stops being shown, as :class:`video.job.SourcePart` does. The input is
    opened for the segment and sought to its key frame."""

    def __init__(self, input_path: Path, folder_rate: Fraction, begin: Fraction, until: Optional[Fraction],
                 stop: Optional[Fraction], snap: Fraction, *, strict: bool = False) -> None:
        self._open = lambda: open_source(input_path, folder_rate, strict=strict)
        self.begin, self.until, self.stop, self.snap = begin, until, stop, snap
        self.end_time: Optional[Fraction] = None

    def frames(self) -> Iterator[SourceFrame]:
        source = self._open()
        try:
            source.seek(self.begin)
            for frame in source.frames():
                if frame.time < self.begin - self.snap:
                    continue
                if self.until is None and self.stop is not None and frame.time >= self.stop - self.snap:
                    self.end_time = self.stop
                    return
                yield frame
                if self.until is not None and frame.time >= self.until - self.snap:
                    return
            end = source.end_time
            self.end_time = end if self.stop is None or (end is not None and end < self.stop) else self.stop
        finally:
            source.close()


def join_folder_segments(folders: List[Path], target: Path) -> None:
    """Move the frames of each segment folder into ``target`` (their names are the output's frame
    numbers already)."""
    target.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        for frame in sorted(folder.iterdir()):
            os.replace(frame, target / frame.name)


def join_video_segments(segments: List[Path], target: Path, format_name: str, *, tracks_from: Optional[Path],
                        tracks_shift: Fraction, trim_start: bool, tracks_end: Optional[Fraction],
                        keep_display_matrix: bool) -> None:
    """Copy the video packets of ``segments`` (in order, already stamped with the output's times)
    into ``target`` without re-encoding, with the tracks and tags of ``tracks_from`` muxed in as
    :class:`video.sinks.VideoFileSink` carries them."""
    output = av.open(str(target), mode="w", format=format_name)
    tracks = None
    try:
        with av.open(str(segments[0])) as first:
            template = first.streams.video[0]
            stream = output.add_stream_from_template(template)
            stream.time_base = template.time_base
            if template.average_rate:  # the muxers write the rate players show (Matroska's frame duration) from it
                stream.codec_context.framerate = template.average_rate
        if tracks_from is not None:
            tracks = StreamCarrier(output, Path(tracks_from), tracks_shift, trim_start=trim_start, end=tracks_end)
            copy_metadata(tracks.video_tags, stream.metadata)
            if tracks.display_matrix is not None and keep_display_matrix:
                stream.set_display_matrix(list(tracks.display_matrix))
        output.start_encoding()
        for path in segments:
            with av.open(str(path)) as segment:
                for packet in segment.demux(segment.streams.video[0]):
                    if packet.dts is None and packet.size == 0:
                        continue
                    if tracks is not None and packet.pts is not None:
                        tracks.mux_until(output, Fraction(packet.pts) * Fraction(packet.time_base) + _AUDIO_LEAD)
                    packet.stream = stream
                    output.mux(packet)
        if tracks is not None:
            tracks.mux_until(output, None)
    finally:
        if tracks is not None:
            tracks.close()
        output.close()


def remove_work_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


class SegmentProgress:
    """One log line per committed segment: segments done of all, and the time left at this run's pace."""

    def __init__(self, total: int, done: int) -> None:
        self.total, self.done, self._first_done = total, done, done
        self._started = time.perf_counter()

    def segment_done(self) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self._started
        made = self.done - self._first_done
        left = elapsed / made * (self.total - self.done)
        log.info("segment %d of %d done; about %s left", self.done, self.total, _duration(left))


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def check_resumable(folder: Path, manifest: Manifest, overwrite: bool) -> None:
    """Refuse a work folder made for other frames (unless ``overwrite``: it is removed to start over)."""
    if not folder.exists():
        return
    if overwrite:
        remove_work_folder(folder)
        return
    kept = Manifest.read(folder)
    if kept is None:
        remove_work_folder(folder)  # killed before its manifest was written: nothing to resume
        return
    difference = kept.difference(manifest)
    if difference is not None:
        raise InputError(f"cannot resume from {folder}: {difference}; rerun with --overwrite to start over")
