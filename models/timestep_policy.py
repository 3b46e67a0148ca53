"""Which timesteps a set of weights honours, and how to run the others: recursive bisection.

The authors' Vimeo90K checkpoints are trained on triplets, t = 1/2 only, and the weights of the
input channel that carries the timestep (the last input channel of ``decoder4``'s first
convolution) are zero, so every t gives the middle frame: the authors say so in their tracker
(ltkong218/IFRNet, issues 34 and 38), and ifrnet-ncnn-vulkan users met the same. Their GoPro
checkpoints, trained on 8x windows, and this project's starter weights honour t.

So a tool asks :func:`honours_timestep` once, when the weights are loaded, and runs weights that
ignore t by bisection, as RIFE users run 2x-only models: 1/2 from (0, 1), 1/4 from (0, 1/2), 3/4
from (1/2, 1), 3/8 from (0, 3/4) and so on, every call at t = 1/2 (:func:`plan_bisection`). A t that is a multiple
of 1/2^k is reached exactly in k levels; any other t runs at the nearest multiple of 1/16
(:data:`NEAREST_GRID`), a time error of at most 1/32 of the frame interval, which is why a job
whose timesteps are not all such multiples prefers the GoPro weights (:func:`datasets_for`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple, Union

import torch
from torch import nn

from utils.errors import InputError

__all__ = [
    "TIMESTEP_MODES",
    "TIMESTEP_INPUT_KEY",
    "BLIND_TOLERANCE",
    "NEAREST_GRID",
    "MAX_EXACT_DEPTH",
    "honours_timestep",
    "choose_mode",
    "exact_dyadic",
    "datasets_for",
    "BisectionPlan",
    "plan_bisection",
    "approximation_note",
]

TIMESTEP_MODES = ("auto", "direct", "bisect")
# The convolution whose last input channel is the timestep (IFRNet.decode concatenates it last).
TIMESTEP_INPUT_KEY = "decoder4.convblock.0.0.weight"
# The timestep channel counts as switched off when its largest weight is at most this fraction of
# the layer's largest: it then moves the layer's output by under 1/10,000 of what the other inputs do.
BLIND_TOLERANCE = 1e-4
# A t that is no multiple of 1/2^MAX_EXACT_DEPTH is bisected to the nearest multiple of 1/NEAREST_GRID.
NEAREST_GRID = 16
MAX_EXACT_DEPTH = 8  # exact up to 1/256: --factor 256 is bisected without error

TimestepMode = str  # one of TIMESTEP_MODES


def honours_timestep(weights: Union[nn.Module, Mapping[str, torch.Tensor]]) -> bool:
    """False when the timestep's input channel of ``weights`` (a model or a state_dict) is switched
    off, i.e. every t would give the same frame; True otherwise, and for weights without IFRNet's
    layout (another model given to the interpolator), which run every t as asked."""
    state = weights.state_dict() if isinstance(weights, nn.Module) else weights
    if TIMESTEP_INPUT_KEY not in state:
        return True
    kernel = state[TIMESTEP_INPUT_KEY].detach().float()
    largest = float(kernel.abs().max())
    return float(kernel[:, -1].abs().max()) > BLIND_TOLERANCE * largest


def choose_mode(mode: TimestepMode, honours: bool) -> str:
    """"direct" (one network call per batch of timesteps) or "bisect" for a ``mode`` of
    :data:`TIMESTEP_MODES`: "auto" bisects exactly the weights that ignore t."""
    if mode not in TIMESTEP_MODES:
        raise InputError(f"timesteps must be one of {', '.join(TIMESTEP_MODES)}, got {mode!r}")
    if mode == "auto":
        return "direct" if honours else "bisect"
    return mode


def _as_fraction(t: Union[float, Fraction]) -> Fraction:
    return Fraction(t).limit_denominator(1 << 20)


def exact_dyadic(t: Union[float, Fraction]) -> bool:
    """True when bisection reaches ``t`` exactly: a multiple of 1/2^k for k <= MAX_EXACT_DEPTH."""
    return (_as_fraction(t) * (1 << MAX_EXACT_DEPTH)).denominator == 1


def datasets_for(timesteps: Optional[Sequence[Union[float, Fraction]]]) -> Tuple[str, ...]:
    """The published weights a job with these timesteps (None: not known in advance) prefers, in order.

    Timesteps that bisection reaches exactly (2x, 4x, 8x) keep the Vimeo90K weights, trained on
    natural video like the user's; any other t takes the GoPro weights, which run it directly, and
    falls back to the Vimeo90K ones (bisected to the nearest 1/16) when those cannot be had.
    """
    if timesteps is not None and all(exact_dyadic(t) for t in timesteps):
        return ("Vimeo90K",)
    return ("GoPro", "Vimeo90K")


class Step(NamedTuple):
    """One network call of a bisection: the frame at ``time``, made at t = 1/2 between the frames
    at ``before`` and ``after`` (``time`` is their midpoint)."""

    time: Fraction
    before: Fraction
    after: Fraction


@dataclass(frozen=True)
class BisectionPlan:
    """How to reach a list of timesteps by bisection.

    ``targets[i]`` is the time that ``requested[i]`` runs at (itself when exact); ``levels[k]``
    lists the steps whose neighbours are 0, 1 or frames of earlier levels.
    """

    requested: Tuple[float, ...]
    targets: Tuple[Fraction, ...]
    levels: Tuple[Tuple[Step, ...], ...]

    @property
    def approximated(self) -> List[float]:
        """The requested timesteps that do not run at themselves."""
        return [t for t in self.requested if not exact_dyadic(t)]

    @property
    def largest_error(self) -> float:
        """The largest distance between a requested timestep and the time it runs at."""
        return max((abs(float(target) - t) for target, t in zip(self.targets, self.requested)), default=0.0)

    def needed_after(self, depth: int) -> Set[Fraction]:
        """The frames that the levels after ``depth`` (1-based) use as neighbours."""
        return {time for level in self.levels[depth:] for step in level for time in (step.before, step.after)}


def _step(time: Fraction) -> Step:
    """The call that makes ``time``: from an input frame and the frame at 2t (or 2t - 1) rather than
    from its two nearest made frames (which differs from 3/8 on), so that every call sees one real
    frame and the errors of made frames add up along one chain only; on held-out real windows it
    scored higher at the times where the two ways differ."""
    if time < Fraction(1, 2):
        return Step(time, Fraction(0), 2 * time)
    return Step(time, 2 * time - 1, Fraction(1))


def plan_bisection(timesteps: Sequence[float]) -> BisectionPlan:
    """The steps, level by level, that reach every one of ``timesteps`` (in [0, 1]); only the
    frames a target needs are made. 0 and 1 are the inputs themselves."""
    targets = []
    for t in timesteps:
        exact = _as_fraction(t)
        targets.append(exact if exact_dyadic(exact) else Fraction(round(exact * NEAREST_GRID), NEAREST_GRID))
    steps: Dict[Fraction, Step] = {}
    pending = [target for target in targets if target not in (0, 1)]
    while pending:
        time = pending.pop()
        if time in steps or time in (0, 1):
            continue
        steps[time] = _step(time)
        pending.extend((steps[time].before, steps[time].after))
    depth = {time: time.denominator.bit_length() - 1 for time in steps}  # denominator 2^k -> level k
    levels = [tuple(sorted(step for time, step in steps.items() if depth[time] == level))
              for level in range(1, max(depth.values(), default=0) + 1)]
    return BisectionPlan(tuple(float(t) for t in timesteps), tuple(targets), tuple(levels))


def approximation_note(timesteps: Sequence[float]) -> Optional[str]:
    """The line that says which of ``timesteps`` bisection cannot reach exactly, the time they run
    at instead and the largest error; None when every one is exact."""
    plan = plan_bisection(timesteps)
    if not plan.approximated:
        return None
    shown = ", ".join(f"{t:.4g}" for t in plan.approximated[:3]) + (", ..." if len(plan.approximated) > 3 else "")
    return (f"timesteps {shown} are no multiple of 1/2^k: they run at the nearest multiple of 1/{NEAREST_GRID} "
            f"(largest time error {plan.largest_error:.4f} of the frame interval)")
