"""Train IFRNet for 8x interpolation on GoPro with the paper's recipe.

    python train_gopro.py --data_root data/GOPRO                            # one process
    torchrun --nproc_per_node=4 train_gopro.py --data_root data/GOPRO       # one machine, 4 GPUs

<data_root>/train and <data_root>/test hold one folder of frames per video. See --help.
"""
from training.command_line import main
from training.recipes import GOPRO
from utils.cli import run_cli

if __name__ == "__main__":
    run_cli(lambda argv: main(GOPRO, argv))
