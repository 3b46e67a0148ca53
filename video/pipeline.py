"""Streaming interpolation: decode, interpolate and encode overlap, with bounded memory.

Three stages joined by bounded queues: a reader thread decodes input frames, the calling thread
runs the model on each pair, and a writer thread encodes (or saves) the output frames. Each
queue holds at most ``queue_size`` frames, so memory is a constant number of frames whatever the
video's length, and a slow stage makes the others wait instead of piling frames up. The model
runs in the calling thread so Ctrl-C reaches it; any failure in any stage stops all three.

De-duplication (--dedup) is part of the reader stage: animation and screen recordings hold each
picture for two or three frames, and interpolating between two identical frames gives identical
frames, so held pictures would stay held and the motion come in jerks. Dropping the repeats before
interpolation leaves the distinct pictures at their own timestamps; the output clock then fills the
dropped positions with in-between frames of the pictures around them, so a picture held for two
frames becomes motion and the output keeps the input's timing and frame count.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from utils.errors import InputError
from utils.scene import DEFAULT_SCENE_THRESHOLD, is_scene_cut, thumbnail_difference, thumbnail_grey
from video.orientation import Orientation
from video.timing import OutputClock, OutputSlot

__all__ = ["StreamOptions", "PipelineStats", "HeldFrameFilter", "interpolate_stream", "pair_step", "frames_for_pair"]

_POLL_SECONDS = 0.1
_END = object()


@dataclass(frozen=True)
class StreamOptions:
    """What the stream does with the frames besides interpolating them. The fields named as
    :class:`video.job.ConversionJob`'s are the job's flags that reach the pipeline (that class
    documents them) and are copied from it by name."""

    scene_threshold: float = DEFAULT_SCENE_THRESHOLD  # a pair differing more is a cut (utils.scene); 0: off
    dedup: float = 0.0  # > 0: drop held frames first (HeldFrameFilter)
    loop: bool = False  # the slots after the last frame lead back into the first one
    montage: bool = False  # each output frame beside the input frame on screen at its time (left)
    orientation: Orientation = Orientation()  # turn/mirror given to every written frame (a video shown rotated)
    queue_size: int = 8  # frames each queue holds: the memory bound
    source_name: str = "the input"  # which input or part, for messages
    # A segment that the next one continues (video.segments): its last frame is the next one's
    # first, so no slot is shown after it here.
    ends_at_last_frame: bool = False


@dataclass
class PipelineStats:
    """What a run did, and where the time went (``model_seconds`` is the network alone)."""

    frames_in: int = 0
    frames_out: int = 0
    interpolated: int = 0
    scene_cuts: int = 0
    model_seconds: float = 0.0
    total_seconds: float = 0.0
    # Numbers (from 1, of the frames the pipeline got: after --dedup) of the frames that start a cut;
    # with --loop the last one when the seam back to the first frame is a cut.
    cut_pairs: List[int] = field(default_factory=list)
    duplicates_dropped: int = 0  # frames dropped by --dedup before interpolation
    loop_seam_cut: bool = False  # --loop: the last and first frames differ like a scene cut (counted in scene_cuts)


class HeldFrameFilter:
    """Passes on frames (SourceFrame-like: ``.image``) that differ from the last one passed on by
    at least ``threshold``; the first frame always passes. ``dropped`` counts the others.

    The measure is scene-cut detection's (:mod:`utils.scene`: mean absolute grey difference, 0-255,
    of frames shrunk to ~64 pixels), here against the last frame kept, so that a slow drift over
    held frames still ends the hold once it adds up.
    """

    def __init__(self, threshold: float) -> None:
        if threshold < 0:
            raise ValueError(f"the de-duplication threshold must be at least 0, got {threshold}")
        self.threshold = threshold
        self.dropped = 0

    def __call__(self, frames: Iterable) -> Iterator:
        kept = None
        for frame in frames:
            thumbnail = thumbnail_grey(frame.image)
            if kept is not None and thumbnail_difference(thumbnail, kept) < self.threshold:
                self.dropped += 1
                continue
            kept = thumbnail
            yield frame


class _Stopped(Exception):
    """Raised inside a stage when another stage failed and the run is being torn down."""


class _Stage(threading.Thread):
    """A daemon thread whose exception is kept for the caller and stops the whole run."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn, self._stop_event = target, stop
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self._target_fn()
        except _Stopped:
            pass
        except BaseException as error:  # handed to the caller, which re-raises it
            self.error = error
            self._stop_event.set()


def _put(q: "queue.Queue", item: object, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            q.put(item, timeout=_POLL_SECONDS)
            return
        except queue.Full:
            continue


def _get(q: "queue.Queue", stop: threading.Event) -> object:
    while True:
        if stop.is_set():
            raise _Stopped
        try:
            return q.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            continue


def frames_for_pair(
    frame0: np.ndarray,
    frame1: Optional[np.ndarray],
    slots: List[OutputSlot],
    interpolate: Callable[[np.ndarray, np.ndarray, List[float]], List[np.ndarray]],
    scene_cut: bool,
) -> List[np.ndarray]:
    """The output frames of ``slots`` between two input frames, in order.

    Originals (t = 0) are copied; across a scene cut (or after the last frame, ``frame1`` None)
    each slot repeats the nearer original; all other timesteps go to ``interpolate`` in one call.
    """
    needed = [slot for slot in slots if not slot.is_original]
    if frame1 is None or scene_cut or not needed:
        return [frame0 if frame1 is None or slot.t <= Fraction(1, 2) else frame1 for slot in slots]
    made = iter(interpolate(frame0, frame1, [float(slot.t) for slot in needed]))
    return [frame0 if slot.is_original else next(made) for slot in slots]


def pair_step(
    frame0: np.ndarray,
    frame1: Optional[np.ndarray],
    number: int,
    slots: List[OutputSlot],
    interpolate: Callable[[np.ndarray, np.ndarray, List[float]], List[np.ndarray]],
    scene_threshold: float,
    stats: PipelineStats,
) -> Tuple[List[np.ndarray], bool]:
    """(the output frames of ``slots``, whether the pair is a cut) while frame ``number`` is on
    screen; ``frame1`` is what follows it: the next frame, the first one after the last (--loop),
    or None (the last frame is held). A cut is counted and listed in ``stats``.

    The one step of every pair, so that the pairs inside a video and the --loop seam are judged
    alike. A pair is measured only when a slot needs an in-between frame: one whose slots are all
    originals is no cut (nothing would be blended).
    """
    interpolating = frame1 is not None and any(not slot.is_original for slot in slots)
    cut = interpolating and is_scene_cut(frame0, frame1, scene_threshold)
    if cut:
        stats.scene_cuts += 1
        stats.cut_pairs.append(number)
    tick = time.perf_counter()
    images = frames_for_pair(frame0, frame1, slots, interpolate, cut)
    stats.model_seconds += time.perf_counter() - tick
    if interpolating and not cut:
        stats.interpolated += sum(not slot.is_original for slot in slots)
    return images, cut


class _Stream:
    """One run of the three stages: the reader and writer threads, the queues between them and the
    model step in the calling thread (:meth:`run`)."""

    def __init__(self, frames: Iterable, write: Callable[[int, np.ndarray], None],
                 on_written: Optional[Callable[[int], None]], options: StreamOptions) -> None:
        self.options = options
        self.stats = PipelineStats()
        self.stop = threading.Event()
        self.decoded: "queue.Queue" = queue.Queue(maxsize=options.queue_size)
        self.to_write: "queue.Queue" = queue.Queue(maxsize=options.queue_size)
        self.held_frames = HeldFrameFilter(options.dedup) if options.dedup > 0 else None
        self._frames, self._write, self._on_written = frames, write, on_written
        self.reader = _Stage("decode", self._read_all, self.stop)
        self.writer = _Stage("encode", self._write_all, self.stop)

    def _read_all(self) -> None:
        """The reader stage: decoded (and, with --dedup, filtered) frames into the first queue."""
        frames = self.held_frames(self._frames) if self.held_frames is not None else self._frames
        for frame in frames:
            _put(self.decoded, frame, self.stop)
        _put(self.decoded, _END, self.stop)

    def _write_all(self) -> None:
        """The writer stage: output frames from the second queue to ``write``, in order."""
        while True:
            item = _get(self.to_write, self.stop)
            if item is _END:
                return
            index, image = item
            self._write(index, image)
            if self._on_written is not None:
                self._on_written(1)

    def next_frame(self):
        """The next decoded frame, or None after the last."""
        item = _get(self.decoded, self.stop)
        return None if item is _END else item

    def emit(self, slots: List[OutputSlot], images: List[np.ndarray], shown: np.ndarray) -> None:
        """Queue the output frames of ``slots`` for the writer, turned upright (and beside the input
        frame ``shown`` for a montage)."""
        orientation = self.options.orientation
        for slot, image in zip(slots, images):
            if self.options.montage:
                image = np.concatenate([orientation.apply(shown), orientation.apply(image)], axis=1)
            else:  # (no copy for the identity: the frame is already contiguous)
                image = np.ascontiguousarray(orientation.apply(image))
            _put(self.to_write, (slot.index, image), self.stop)
        self.stats.frames_out += len(slots)

    def interpolate_all(self, interpolate: Callable, clock: OutputClock, end_time: Callable[[], Optional[Fraction]]) -> None:
        """The model stage: every pair of decoded frames, then the last frame's tail (held, or with
        --loop blended back into the first frame); ends the writer's queue."""
        options, stats = self.options, self.stats
        previous = self.next_frame()
        if previous is None:
            raise InputError(f"no frame could be decoded from {options.source_name}")
        stats.frames_in = 1
        first = previous
        while True:
            current = self.next_frame()
            if current is None:
                break
            stats.frames_in += 1
            slots = clock.slots_between(previous.time, current.time)
            images, _ = pair_step(previous.image, current.image, stats.frames_in - 1, slots, interpolate,
                                  options.scene_threshold, stats)
            self.emit(slots, images, previous.image)
            previous = current
        static = self.held_frames is not None and self.held_frames.dropped > 0
        if stats.frames_in < 2 and not static:
            raise InputError(f"{options.source_name} has only one frame; at least two are needed to interpolate")
        if options.ends_at_last_frame:
            _put(self.to_write, _END, self.stop)
            return
        end = end_time()
        if end is None or end <= previous.time:
            end = previous.time + 1 / clock.rate
        tail = clock.slots_between(previous.time, end)
        after = first.image if options.loop and stats.frames_in > 1 else None  # --loop: back into the first frame
        images, stats.loop_seam_cut = pair_step(previous.image, after, stats.frames_in, tail, interpolate,
                                                options.scene_threshold, stats)
        self.emit(tail, images, previous.image)
        _put(self.to_write, _END, self.stop)

    def run(self, interpolate: Callable, clock: OutputClock, end_time: Callable[[], Optional[Fraction]]) -> PipelineStats:
        """Start the threads, run the model stage, stop everything on any failure and re-raise it."""
        started = time.perf_counter()
        stages = (self.reader, self.writer)
        for stage in stages:
            stage.start()
        try:
            self.interpolate_all(interpolate, clock, end_time)
            self.writer.join()
        except _Stopped:
            pass
        except BaseException:
            self.stop.set()
            raise
        finally:
            self.stop.set()  # a no-op for finished stages; tells running ones to quit
            for stage in stages:
                stage.join(timeout=30)
        for stage in stages:
            if stage.error is not None:
                raise stage.error
        self.stats.total_seconds = time.perf_counter() - started
        if self.held_frames is not None:
            self.stats.duplicates_dropped = self.held_frames.dropped
        return self.stats


def interpolate_stream(
    frames: Iterable,
    write: Callable[[int, np.ndarray], None],
    interpolate: Callable[[np.ndarray, np.ndarray, List[float]], List[np.ndarray]],
    clock: OutputClock,
    end_time: Callable[[], Optional[Fraction]],
    options: StreamOptions = StreamOptions(),
    *,
    on_written: Optional[Callable[[int], None]] = None,
) -> PipelineStats:
    """Run the three stages over ``frames`` (SourceFrame-like: ``.time``, ``.image``).

    ``write(index, image)`` is called in order from the writer thread, then ``on_written(1)`` (a
    progress bar); ``end_time()`` is asked after the last frame for when it stops being shown (the
    input's end). Raises InputError for an input with fewer than two frames; when --dedup left one
    frame of several (a static clip), that frame is held to the end instead. Any error of a stage
    is re-raised here.

    With ``options.loop`` the slots after the last frame are filled with in-between frames of the
    last and the first, so the output loops without a jump; with ``options.montage`` each frame is
    written as the input frame on screen at its time (left) beside the output frame (right).
    """
    return _Stream(frames, write, on_written, options).run(interpolate, clock, end_time)
