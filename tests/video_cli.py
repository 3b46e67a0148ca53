"""Running interpolate_video in-process for the video tests, and checking its one-line refusals."""
from __future__ import annotations

import pytest

import interpolate_video
from utils.cli import run_cli

MISSING = "no_such_checkpoint.pth"  # a --checkpoint that does not exist: a refusal must come before it is loaded


def run(input_path, output_path, checkpoint, *extra):
    """interpolate_video with IFRNet_S on the CPU, quiet; extra flags as values (str() is applied)."""
    interpolate_video.main(["--input", str(input_path), "--output", str(output_path), "--model_name", "IFRNet_S",
                            "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet", *map(str, extra)])


def cli(input_path, output_path, checkpoint, capsys, *extra):
    """As :func:`run`, through ``run_cli`` as the script's ``__main__``: (exit code, stderr)."""
    argv = ["--input", str(input_path), "--output", str(output_path), "--model_name", "IFRNet_S",
            "--checkpoint", str(checkpoint), "--device", "cpu", "--quiet", *map(str, extra)]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(interpolate_video.main, argv)
    return exit_info.value.code, capsys.readouterr().err


def assert_refused(result, expected):
    """``result``: a CompletedProcess, or (exit code, stderr) from ``cli``."""
    code, err = (result.returncode, result.stderr) if hasattr(result, "returncode") else result
    lines = err.strip().splitlines()
    assert code == 2 and "Traceback" not in err, err
    assert expected in lines[-1] and sum("error:" in line for line in lines) == 1, err
