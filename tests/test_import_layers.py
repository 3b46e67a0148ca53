"""Imports point down the layers (utils < models < datasets, video < evaluation, training < scripts),
lazy imports inside functions included: a lower package importing a higher one fails here."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BANNED = {
    "utils": {"models", "datasets", "video", "evaluation", "training", "webapp", "tools", "benchmarks"},
    "models": {"datasets", "video", "evaluation", "training", "webapp", "tools", "benchmarks"},
    "datasets": {"video", "evaluation", "training", "webapp", "tools", "benchmarks"},
    "video": {"datasets", "evaluation", "training", "webapp", "tools", "benchmarks"},
    "evaluation": {"training", "webapp", "tools", "benchmarks"},
    "training": {"webapp", "tools", "benchmarks"},
    "webapp": {"datasets", "evaluation", "training", "tools", "benchmarks"},  # the app's jobs: models, video, utils
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
