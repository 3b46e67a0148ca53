"""Scene-cut detection for the video tool; the rule itself lives in :mod:`utils.scene` (the starter set uses it too)."""
from utils.scene import DEFAULT_SCENE_THRESHOLD, is_scene_cut, scene_difference, thumbnail_grey  # noqa: F401

__all__ = ["DEFAULT_SCENE_THRESHOLD", "scene_difference", "is_scene_cut", "thumbnail_grey"]
