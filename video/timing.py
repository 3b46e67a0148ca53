"""Output timestamps of a resampled video, and which input pair and timestep each one needs.

The output is a constant-rate video at ``rate`` frames per second starting at the first input
frame: output frame k is shown at ``origin + k / rate``. Each input frame i is shown from its
timestamp ``ts_i`` until ``ts_{i+1}``, so output frame k falls in the pair (i, i+1) around it and
needs the timestep ``t = (ts_k - ts_i) / (ts_{i+1} - ts_i)``; ``t == 0`` is the input frame itself.
Working from timestamps (exact fractions) rather than frame indices is what makes variable-rate
input come out at the right pace, and keeps the duration: the last input frame is held until the
input's end time.

Timestamps in files are rounded to the container's time base (e.g. 29.97 fps stored in
milliseconds), so an output time within ``snap`` of an input frame counts as that frame; without
this an original would be replaced by an interpolation at t = 0.001.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import List, Optional

__all__ = ["OutputSlot", "OutputClock", "resampled_timesteps"]


@dataclass(frozen=True)
class OutputSlot:
    """Output frame ``index`` at ``time`` seconds needs timestep ``t`` between its input pair."""

    index: int
    time: Fraction
    t: Fraction

    @property
    def is_original(self) -> bool:
        return self.t == 0


class OutputClock:
    """Maps input frame intervals to the output frames that fall in them.

    ``rate``: output frames per second; ``origin``: the first input frame's timestamp (output
    frame 0); ``snap``: timestamps this close to an input frame are that frame (half the input
    time base is right: it is the rounding error of a stored timestamp).
    """

    def __init__(self, rate: Fraction, origin: Fraction = Fraction(0), snap: Fraction = Fraction(0)) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = Fraction(rate)
        self.origin = Fraction(origin)
        self.snap = Fraction(snap)

    def time_of(self, index: int) -> Fraction:
        """When output frame ``index`` is shown, in seconds."""
        return self.origin + Fraction(index) / self.rate

    def first_index_at(self, time: Fraction) -> int:
        """The first output frame shown at or after ``time`` (within ``snap``)."""
        return max(0, math.ceil((Fraction(time) - self.snap - self.origin) * self.rate))

    def slots_between(self, start: Fraction, end: Fraction) -> List[OutputSlot]:
        """Output frames shown while the input frame at ``start`` is on screen, i.e. in [start, end).

        ``end`` is the next input frame's timestamp (or the input's end time after the last frame).
        """
        start, end = Fraction(start), Fraction(end)
        if end <= start:
            raise ValueError(f"input timestamps must increase, got {start} then {end}")
        slots = []
        for index in range(self.first_index_at(start), self.first_index_at(end)):
            time = self.time_of(index)
            t = (time - start) / (end - start)
            if time - start <= self.snap:
                t = Fraction(0)
            slots.append(OutputSlot(index, time, t))
        return slots

    def count_until(self, end: Fraction) -> int:
        """How many output frames a video ending at ``end`` seconds has."""
        return self.first_index_at(end)


def resampled_timesteps(ratio: Fraction, most: int = 1024) -> Optional[List[Fraction]]:
    """The timesteps of the output frames between two input frames when a constant-rate input is
    resampled by ``ratio`` (output rate / input rate), or None when there are over ``most`` of them.

    With ``ratio = p/q`` in lowest terms output frame k sits at input position ``k q / p``, and as
    ``q`` and ``p`` share no factor every ``t = j/p`` (j = 1 .. p-1) occurs and no other: --factor
    4 gives 1/4, 1/2, 3/4; 24 -> 60 fps (5/2) gives 1/5 .. 4/5; halving the rate gives none.
    """
    steps = Fraction(ratio).numerator
    if steps > most:
        return None
    return [Fraction(j, steps) for j in range(1, steps)]
