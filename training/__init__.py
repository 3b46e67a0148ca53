"""The training engine of IFRNet, shared by train_vimeo90k.py and train_gopro.py.

- :mod:`training.engine` - the loop: DDP, AdamW, cosine lr, evaluation, checkpoints, resumption;
- :mod:`training.recipes` - what differs between Vimeo90K and GoPro (datasets, defaults, flags);
- :mod:`training.command_line` - the scripts' flags; :mod:`training.flags` - their rules;
- :mod:`training.run_checkpoints` - a run's checkpoint files (resume exactly);
- :mod:`training.schedule`, :mod:`training.sampler`, :mod:`training.batches`,
  :mod:`training.evaluate`, :mod:`training.reporting` - one job each.
"""
from training.recipes import GOPRO, VIMEO90K, Recipe
from training.schedule import cosine_lr

__all__ = ["Recipe", "VIMEO90K", "GOPRO", "cosine_lr"]
