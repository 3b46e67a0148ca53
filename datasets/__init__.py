"""Training and test data of IFRNet: Vimeo90K triplets, GoPro 8x windows and their augmentations.

Every dataset yields ``(img0, imgt, img1, flow, embt)``; see :mod:`datasets.vimeo90k` and
:mod:`datasets.gopro` for the layouts on disk and :mod:`datasets.augment` for the augmentations;
:mod:`datasets.flow_labels` writes the pseudo-label flows and :mod:`datasets.starter_data` builds
the small starter set.
"""
from datasets.augment import AugmentProbabilities, Clip, random_augment
from datasets.gopro import GoProWindows
from datasets.vimeo90k import Vimeo90KTriplets

__all__ = ["AugmentProbabilities", "Clip", "random_augment", "GoProWindows", "Vimeo90KTriplets"]
