"""A dataclass field made with ``utils.cli.option`` is the flag of the same name: default, help,
parsing and exclusions come from the field, and the parsed flags make the dataclass back."""
import argparse
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Optional

import pytest

import interpolate_video
from utils.cli import add_option_arguments, option, options_from
from video.convert import ConversionJob, parse_rate


@dataclass
class Options:
    source: Path = option(type=Path, help="where from")
    rate: Optional[Fraction] = option(None, type=parse_rate, exclusive_group="speed", help="a rate")
    factor: int = option(2, type=int, exclusive_group="speed", help="a factor")
    loud: bool = option(False, help="a switch")
    internal: int = field(default=8)


ROOT = Path(__file__).resolve().parents[1]


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="tool")
    add_option_arguments(made, Options)
    return made


def test_fields_become_flags_and_the_parsed_flags_the_dataclass():
    args = parser().parse_args(["--source", "a.mp4", "--rate", "59.94", "--loud"])
    assert options_from(Options, args, internal=3) == Options(Path("a.mp4"), Fraction(2997, 50), 2, True, 3)
    assert options_from(Options, parser().parse_args(["--source", "b"])) == Options(Path("b"))
    assert "--internal" not in parser().format_help()


def test_a_field_left_out_is_no_flag_and_is_given_by_the_script():
    made = argparse.ArgumentParser(prog="tool")
    add_option_arguments(made, Options, leave_out=("source",))
    made.add_argument("--source", nargs="+", type=Path)  # the script's own shape of the flag
    args = made.parse_args(["--source", "a", "b", "--factor", "3"])
    assert options_from(Options, args, source=args.source[1]) == Options(Path("b"), None, 3)


@pytest.mark.parametrize("argv, message", [
    ([], "the following arguments are required: --source"),
    (["--source", "a", "--rate", "-1"], "argument --rate: a frame rate must be positive, got -1"),
    (["--source", "a", "--rate", "60", "--factor", "3"], "argument --factor: not allowed with argument --rate"),
])
def test_a_bad_flag_is_argparses_one_line_error(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parser().parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_the_video_tool_has_a_flag_for_each_job_option_with_its_default():
    actions = {action.dest: action for action in interpolate_video.build_parser()._actions}
    options = [item for item in fields(ConversionJob) if "flag" in item.metadata]
    assert len(options) > 15
    for item in options:
        assert actions[item.name].help == item.metadata["flag"]["help"]
        if not actions[item.name].required:
            assert actions[item.name].default == item.default, item.name


def test_threads_flag_sets_the_networks_threads_and_refuses_zero(capsys):
    import torch

    from apps.demo import build_demo_parser
    from utils.device import use_threads
    for parser, required in ((interpolate_video.build_parser(), ["--input", "a", "--output", "b"]),
                             (build_demo_parser("demo", dataset="Vimeo90K", default_output="out"), [])):
        assert parser.parse_args([*required, "--threads", "1"]).threads == 1
        with pytest.raises(SystemExit):
            parser.parse_args(["--threads", "0"])
        assert "--threads: must be a whole number of at least 1" in capsys.readouterr().err
    before = torch.get_num_threads()
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_without_threads_the_tool_leaves_torchs_thread_count():
    import torch

    from utils.device import use_threads
    assert interpolate_video.build_parser().parse_args(["--input", "a", "--output", "b"]).threads is None
    before = torch.get_num_threads()
    use_threads(None)
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("script", ["interpolate_video.py", "demo_2x.py", "demo_8x.py", "app.py"])
def test_each_tool_lets_waiting_threads_sleep_before_anything_loads_openmp(script):
    """OpenMP reads OMP_WAIT_POLICY once, when torch loads it: the script sets it before any other import
    (a user's own setting wins)."""
    import ast

    body = ast.parse((ROOT / script).read_text()).body
    statements = [node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert ast.unparse(statements[1]) == "import os"
    assert ast.unparse(statements[2]) == "os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')"
