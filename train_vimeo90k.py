"""Train IFRNet on Vimeo90K triplets with the paper's recipe.

    python train_vimeo90k.py --data_root data/vimeo_triplet                 # one process
    torchrun --nproc_per_node=4 train_vimeo90k.py --data_root ...           # one machine, 4 GPUs
    torchrun --nnodes=2 --node_rank=R --nproc_per_node=4 --rdzv_endpoint=HOST:PORT train_vimeo90k.py ...

Pseudo-label flows for the distillation loss come from generate_flow.py (or pass --flow_loss off).
See --help for every flag.
"""
from training.command_line import main
from training.recipes import VIMEO90K
from utils.cli import run_cli

if __name__ == "__main__":
    run_cli(lambda argv: main(VIMEO90K, argv))
