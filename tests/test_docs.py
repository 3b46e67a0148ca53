"""The documentation keeps up with the tools: every flag a tool's --help lists is on its page, links
resolve, and every Python example runs.

Each tool's ``--help`` runs in this process (the script executed as ``__main__`` with ``--help`` on
its command line, as a user would run it); the parser that prints the help is kept, so the options
checked are exactly those the help lists (hidden ones, ``help=argparse.SUPPRESS``, are internal).
"""
import argparse
import re
import runpy
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each tool and the page that documents its flags: (page, section heading) with None for the whole
# page. The video tool is documented by the README's section until docs/video.md exists; then its
# entry becomes ("docs/video.md", None).
TOOL_PAGES: Dict[str, Tuple[str, Optional[str]]] = {
    "demo_2x.py": ("docs/demos.md", None),
    "demo_8x.py": ("docs/demos.md", None),
    "tools/make_sample_frames.py": ("docs/demos.md", None),
    "interpolate_video.py": ("docs/video.md", None),
    "benchmarks/video_tta.py": ("docs/video.md", None),
    "train_vimeo90k.py": ("docs/training.md", None),
    "train_gopro.py": ("docs/training.md", None),
    "generate_flow.py": ("docs/training.md", None),
    "benchmarks/train_speed.py": ("docs/training.md", None),
    "tools/download_checkpoints.py": ("docs/checkpoints.md", None),
    "tools/build_starter_dataset.py": ("docs/checkpoints.md", None),
    "tools/build_starter_windows.py": ("docs/checkpoints.md", None),
    "tools/make_starter_checkpoint.py": ("docs/checkpoints.md", None),
    "export_onnx.py": ("docs/export.md", None),
    "benchmarks/Vimeo90K.py": ("docs/benchmarks.md", None),
    "benchmarks/UCF101.py": ("docs/benchmarks.md", None),
    "benchmarks/SNU_FILM.py": ("docs/benchmarks.md", None),
    "benchmarks/Middlebury_Other.py": ("docs/benchmarks.md", None),
    "benchmarks/GoPro.py": ("docs/benchmarks.md", None),
    "benchmarks/Adobe240.py": ("docs/benchmarks.md", None),
    "benchmarks/speed_parameters.py": ("docs/benchmarks.md", None),
    "benchmarks/peers.py": ("docs/benchmarks.md", "CPU speed against other inference engines"),
    "benchmarks/starter_eval.py": ("docs/benchmarks.md", None),
    "benchmarks/video_memory.py": ("docs/benchmarks.md", None),
    "benchmarks/long_jobs.py": ("docs/benchmarks.md", None),
    "benchmarks/scale_out.py": ("docs/benchmarks.md", None),
    "benchmarks/precision.py": ("docs/benchmarks.md", None),
    "app.py": ("docs/app.md", None),
    "benchmarks/app_overhead.py": ("docs/app.md", None),
}

MARKDOWN_FILES = [ROOT / "README.md", ROOT / "GPU.md", ROOT / "checkpoints/starter/README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def help_of(script: str, monkeypatch, capsys) -> Tuple[str, List[str]]:
    """What ``python <script> --help`` prints, and the long options of the parser that printed it."""
    printed: List[argparse.ArgumentParser] = []
    print_help = argparse.ArgumentParser.print_help

    def recording_print_help(parser, file=None):
        printed.append(parser)
        print_help(parser, file)

    monkeypatch.setattr(argparse.ArgumentParser, "print_help", recording_print_help)
    monkeypatch.setattr(sys, "argv", [str(ROOT / script), "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / script), run_name="__main__")
    assert exit_info.value.code in (0, None), f"{script} --help exited with {exit_info.value.code}"
    assert len(printed) == 1, f"{script} --help printed {len(printed)} parsers' help"
    options = [option for action in printed[0]._actions if action.help is not argparse.SUPPRESS
               for option in action.option_strings if option.startswith("--") and option != "--help"]
    return capsys.readouterr().out, options


def without_code_blocks(text: str) -> str:
    """Markdown text with fenced code blocks blanked (a ``# comment`` in bash is not a heading)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            lines.append("")
        else:
            lines.append("" if fenced else line)
    return "\n".join(lines)


def section(text: str, heading: str) -> str:
    """The ``## heading`` section of a page, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, f"no section '## {heading}'"
    return match.group(1)


def page_text(page: str, heading: Optional[str]) -> str:
    text = (ROOT / page).read_text(encoding="utf-8")
    return text if heading is None else section(text, heading)


def mentions(text: str, option: str) -> bool:
    """``--foo`` appears as a whole option (``--foo_bar`` does not mention ``--foo``)."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def undocumented(options: List[str], documented: str) -> List[str]:
    return [option for option in options if not mentions(documented, option)]


def anchors(path: Path) -> set:
    """GitHub's anchors for the headings of a markdown file."""
    slugs = set()
    for line in without_code_blocks(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            slugs.add(slug.replace(" ", "-"))
    return slugs


def test_every_script_with_a_command_line_has_a_docs_page():
    scripts = [path for pattern in ("*.py", "tools/*.py", "benchmarks/*.py") for path in ROOT.glob(pattern)]
    with_cli = {str(path.relative_to(ROOT)) for path in scripts if "run_cli(" in path.read_text(encoding="utf-8")}
    assert with_cli - set(TOOL_PAGES) == set(), "tools without a docs page in TOOL_PAGES"
    assert set(TOOL_PAGES) - with_cli == set(), "TOOL_PAGES names scripts that are gone or have no command line"


@pytest.mark.parametrize("script", sorted(TOOL_PAGES))
def test_every_long_option_of_a_tool_is_documented_on_its_page(script, monkeypatch, capsys):
    help_text, options = help_of(script, monkeypatch, capsys)
    assert options, f"{script} --help lists no options"
    assert all(mentions(help_text, option) for option in options), help_text
    page, heading = TOOL_PAGES[script]
    documented = page_text(page, heading)
    missing = undocumented(options, documented)
    assert not missing, f"{script}: {', '.join(missing)} not documented in {page}" + (f" ## {heading}" if heading else "")


def test_a_flag_missing_from_its_page_is_reported(monkeypatch, capsys):
    """The check above is not vacuous: the export page without its --opset mentions fails it, and only for that."""
    _, options = help_of("export_onnx.py", monkeypatch, capsys)
    page = page_text("docs/export.md", None)
    assert undocumented(options, page) == []
    assert undocumented(options, re.sub(r"(?<![\w-])--opset(?![\w-])", "", page)) == ["--opset"]
    assert not mentions("`--output_dir`", "--output")


@pytest.mark.parametrize("markdown", MARKDOWN_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_existing_files_and_headings(markdown):
    broken = []
    for target in LINK.findall(without_code_blocks(markdown.read_text(encoding="utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (markdown.parent / file_part).resolve() if file_part else markdown
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading in {linked.relative_to(ROOT)})")
    assert not broken, f"{markdown.relative_to(ROOT)}: broken links: {broken}"


def test_the_readme_links_every_docs_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    pages = {str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md")}
    assert pages and pages <= linked, f"docs pages not linked from README.md: {sorted(pages - linked)}"
    assert "GPU.md" in linked


# -- the Python examples ------------------------------------------------------------------------

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", flags=re.M | re.S)
NEEDS = re.compile(r"# needs: (\w+)")
REASONS = {"data": "files the checkout does not hold", "gpu": "a CUDA device", "app": "a running app.py"}
CHECKOUT = "path/to/IFRNet"  # how the examples name the user's checkout
EXAMPLE_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_examples():
    """Every ```python block of README.md and docs/*.md: its code, and where it is (page:first line)."""
    for page in EXAMPLE_PAGES:
        text = page.read_text(encoding="utf-8")
        for match in PYTHON_BLOCK.finditer(text):
            where = f"{page.relative_to(ROOT)}:{text.count(chr(10), 0, match.start(1)) + 1}"
            yield pytest.param(match.group(1), where, id=where)


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A user's script in another folder: the current folder is an empty one, and the checkout is
    neither on sys.path nor imported until the example puts it there or torch.hub loads it. The
    modules it imports are dropped afterwards and the suite's own put back."""
    own = {path.stem for path in ROOT.glob("*.py")} | {path.parent.name for path in ROOT.glob("*/__init__.py")}
    own.discard("tests")

    def imported():
        return [name for name in sys.modules if name.partition(".")[0] in own]

    saved = {name: sys.modules.pop(name) for name in imported()}
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if Path(entry or ".").resolve() != ROOT])
    yield
    for name in imported():
        del sys.modules[name]
    sys.modules.update(saved)


@pytest.mark.filterwarnings("ignore:.*running the starter weights instead:UserWarning")  # offline, as said
@pytest.mark.parametrize("code, where", python_examples())
def test_every_python_example_runs_from_another_folder(code, where, elsewhere):
    """Run in this process on the starter weights (IFRNET_OFFLINE=1, tests/conftest.py), each block
    on its own; a block whose first line is ``# needs: data|gpu|app`` is skipped
    (docs/python_api.md, "The examples in these pages")."""
    needs = NEEDS.match(code)
    if needs:
        assert needs.group(1) in REASONS, f"unknown marker {needs.group(0)!r}; use one of {sorted(REASONS)}"
        pytest.skip(f"needs {REASONS[needs.group(1)]}")
    exec(compile(textwrap.dedent(code).replace(CHECKOUT, str(ROOT)), where, "exec"), {"__name__": "__main__"})


def test_an_example_that_forgets_the_checkout_fails(elsewhere):
    """The fixture is no formality: without the sys.path line the project cannot be imported."""
    with pytest.raises(ModuleNotFoundError, match="models"):
        exec("from models import create_model", {"__name__": "__main__"})
