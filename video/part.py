"""A part of the input (--start, --duration): a quick look before a long run.

:class:`SourcePart` wraps any :class:`~video.sources.FrameSource` and meets the same protocol, so
the rest of the conversion does not know it sees a part: the output starts at the first frame at
or after ``start`` and the last frame is held until ``start + duration`` (or the input's end).

A whole input is a part too (``start`` 0): its first *decoded* frame is the output's time 0. That
is not always the header's start: a file cut mid-GOP cannot decode the frames before its first
key frame, and an AVI's first stamp is often one frame late.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Optional

from utils.errors import InputError
from video.sources import FrameSource, SourceFrame

__all__ = ["SourcePart"]


class SourcePart:
    """The frames of ``source`` from ``start`` seconds (counted from its first frame) for
    ``duration`` seconds (None: to the end).

    The first frame is decoded on opening, so ``info.start`` is its exact timestamp (the output's
    time 0) and a ``start`` past the last frame fails here, before the model loads.
    """

    def __init__(self, source: FrameSource, start: Fraction = Fraction(0), duration: Optional[Fraction] = None) -> None:
        if start < 0:
            raise InputError(f"--start must be at least 0 seconds, got {float(start):g}")
        if duration is not None and duration <= 0:
            raise InputError(f"--duration must be positive, got {float(duration):g} seconds")
        self._source = source
        self.media_path: Optional[Path] = source.media_path
        inner = source.info
        begin = inner.start + Fraction(start)
        self._stop = begin + Fraction(duration) if duration is not None else None
        if start > 0:
            source.seek(begin)
        self._frames = iter(source.frames())
        if start > 0:
            self._first = next((f for f in self._frames if f.time >= begin - inner.snap), None)
        else:  # the whole input: whatever frame decodes first
            self._first = next(self._frames, None)
        if self._first is None and start == 0:
            raise InputError(f"no frame could be decoded from {getattr(source, 'path', 'the input')}")
        if self._first is None:
            length = f" (it lasts about {float(inner.end - inner.start):.2f} s)" if inner.end is not None else ""
            raise InputError(f"--start {float(start):g} s is past the last frame of the input{length}")
        end = inner.end if self._stop is None or (inner.end is not None and inner.end < self._stop) else self._stop
        count = round((end - self._first.time) * inner.rate) if end is not None else None
        self.info = dataclasses.replace(inner, start=self._first.time, end=end, frame_count=count)
        # The first frame comes after the input's header start (--start, or frames that cannot be
        # decoded): the other tracks are cut to the part too.
        self.lead = self._first.time - inner.start  # seconds skipped before the first frame
        self.starts_late = self.lead > inner.snap
        self.end_time: Optional[Fraction] = None

    def frames(self) -> Iterator[SourceFrame]:
        """The part's frames; sets ``end_time`` after the last one."""
        yield self._first
        for frame in self._frames:
            if self._stop is not None and frame.time >= self._stop - self.info.snap:
                self.end_time = self._stop
                return
            yield frame
        inner_end = self._source.end_time
        self.end_time = inner_end if self._stop is None or (inner_end is not None and inner_end < self._stop) else self._stop

    def seek(self, time: Fraction) -> None:
        raise NotImplementedError("a part of an input is read from its start only")

    def close(self) -> None:
        self._source.close()
