"""Imports point down the layers (utils < scale < video, evaluation; utils < models < datasets, video <
evaluation, training < scripts; models < apps < webapp),
lazy imports inside functions included: a lower package importing a higher one fails here."""
import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BANNED = {
    "utils": {"models", "datasets", "video", "evaluation", "training", "apps", "webapp", "tools", "benchmarks", "scale"},
    # worker processes and Ray actors: no models, no videos (the layers above pass factories in)
    "scale": {"models", "datasets", "video", "evaluation", "training", "apps", "webapp", "tools", "benchmarks"},
    "models": {"datasets", "video", "evaluation", "training", "apps", "webapp", "tools", "benchmarks"},
    "datasets": {"video", "evaluation", "training", "apps", "webapp", "tools", "benchmarks"},
    "video": {"datasets", "evaluation", "training", "apps", "webapp", "tools", "benchmarks"},
    "evaluation": {"training", "apps", "webapp", "tools", "benchmarks"},
    "training": {"apps", "webapp", "tools", "benchmarks"},
    "apps": {"datasets", "video", "evaluation", "training", "webapp", "tools", "benchmarks"},  # models, utils
    "webapp": {"datasets", "evaluation", "training", "tools", "benchmarks"},  # the app's jobs: apps, models, video, utils
}


def _imported_packages(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            yield node.lineno, name.split(".")[0]


def test_no_package_imports_a_higher_layer():
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {package}"
        for layer, banned in BANNED.items()
        for path in sorted((ROOT / layer).rglob("*.py"))
        for line, package in _imported_packages(path)
        if package in banned
    ]
    assert not upward, "\n".join(upward)


def test_no_two_tracked_paths_differ_only_by_case():
    """macOS's and Windows' default file systems ignore case: two tracked paths equal up to case
    (once ``models/IFRNet.py`` beside ``models/ifrnet.py``) overwrite each other on checkout."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False
    )
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    paths = [p for p in listing.stdout.decode("utf-8").split("\0") if p]
    # Every prefix directory too: "Docs/a.md" and "docs/b.md" collide as folders.
    names = {part for path in paths for part in _prefixes(path)}
    by_folded: dict = {}
    for name in sorted(names):
        by_folded.setdefault(name.casefold(), []).append(name)
    collisions = [group for group in by_folded.values() if len(group) > 1]
    assert not collisions, collisions


def _prefixes(path: str):
    parts = path.split("/")
    for end in range(1, len(parts) + 1):
        yield "/".join(parts[:end])


def test_no_test_module_imports_another_test_module():
    """Shared test helpers live in conftest.py or a helper module under tests/ (not named test_*):
    importing a test module drags its fixtures and module-level setup into another file."""
    offending = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            if any(module.split(".")[:2][-1].startswith("test_") and module.startswith("tests.") for module in modules):
                offending.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offending, offending
