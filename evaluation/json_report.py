"""The benchmarks' ``--json`` reports: strict JSON, written atomically.

JSON has no NaN or Infinity (Python's ``json`` would write bare ``NaN``, which other parsers
reject), and a score can be either (a frame predicted exactly has an infinite PSNR), so
non-finite numbers are written as ``null`` and a note says which.
"""
from __future__ import annotations

import json
import math
import os
import sys
from typing import List, Optional, TextIO

from utils.atomic import PathLike, atomic_writer
from utils.output_checks import unwritable

__all__ = ["write_json_report"]


def _finite_or_null(value: object, where: str, replaced: List[str]) -> object:
    """``value`` with every non-finite float (NaN, +-Infinity) replaced by None; their places are noted."""
    if isinstance(value, float) and not math.isfinite(value):
        replaced.append(f"{where}={value}")
        return None
    if isinstance(value, dict):
        return {key: _finite_or_null(item, f"{where}.{key}" if where else str(key), replaced) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item, f"{where}[{index}]", replaced) for index, item in enumerate(value)]
    return value


def write_json_report(path: PathLike, report: object, *, notes: Optional[TextIO] = None) -> List[str]:
    """Write a report as strict, indented JSON, atomically; an unwritable path is an InputError.

    Non-finite numbers are written as ``null`` and a note on stderr (or ``notes``) says which.
    Returns the places replaced, e.g. ``["per_sample[0].psnr=inf"]``.
    """
    replaced: List[str] = []
    text = json.dumps(_finite_or_null(report, "", replaced), indent=2, allow_nan=False) + "\n"
    try:
        with atomic_writer(path) as handle:
            handle.write(text.encode())
    except OSError as error:
        raise unwritable(path, error, "--json") from None
    if replaced:
        shown = ", ".join(replaced[:3]) + (f" and {len(replaced) - 3} more" if len(replaced) > 3 else "")
        print(f"note: {os.fspath(path)}: {len(replaced)} non-finite value(s) written as null ({shown})", file=notes or sys.stderr)
    return replaced
