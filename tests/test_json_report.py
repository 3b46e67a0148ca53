"""evaluation.json_report: the benchmarks' reports are strict JSON, and an unwritable path is one line.

A read-only file system is simulated in-process (tests run as root, for whom chmod does not make a
folder read-only): os.replace and os.unlink are patched to fail as they do on one (EROFS).
"""
import errno
import io
import json
import math

import pytest

import utils.atomic as atomic
from evaluation.json_report import write_json_report
from utils.errors import InputError


def read_only(*_args, **_kwargs):
    raise OSError(errno.EROFS, "Read-only file system")


def strict_loads(text):
    """json.loads that refuses NaN and Infinity, as JavaScript's JSON.parse and jq do."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"not JSON: {name}"))


def test_json_report_writes_non_finite_numbers_as_null_and_says_so(tmp_path):
    notes = io.StringIO()
    report = {"psnr": 31.5, "per_sample": [{"name": "a", "psnr": math.inf}, {"name": "b", "psnr": math.nan}]}
    replaced = write_json_report(tmp_path / "r.json", report, notes=notes)
    written = strict_loads((tmp_path / "r.json").read_text())
    assert written == {"psnr": 31.5, "per_sample": [{"name": "a", "psnr": None}, {"name": "b", "psnr": None}]}
    assert replaced == ["per_sample[0].psnr=inf", "per_sample[1].psnr=nan"]
    assert notes.getvalue().count("\n") == 1 and "2 non-finite value(s) written as null" in notes.getvalue()
    assert report["per_sample"][0]["psnr"] == math.inf  # the caller's report is not changed


def test_json_report_on_a_read_only_file_system_is_one_input_error(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic.os, "replace", read_only)
    monkeypatch.setattr(atomic.os, "unlink", read_only)
    with pytest.raises(InputError, match=r"cannot write --json .*r\.json: Read-only file system"):
        write_json_report(tmp_path / "r.json", {"psnr": 1.0})
