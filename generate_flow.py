"""Write the pseudo-label flows IFRNet's distillation loss needs, for every Vimeo90K triplet.

For each <seq>/<id> of tri_trainlist.txt and tri_testlist.txt it writes
<data_root>/flow/<seq>/<id>/flow_t0.flo (middle frame -> im1) and flow_t1.flo (middle frame -> im3).

    python generate_flow.py --data_root data/vimeo_triplet                             # RAFT large, downloads weights
    python generate_flow.py --data_root ... --weights raft_large_C_T_SKHT_V2-ff5fadd5.pth   # offline
    python generate_flow.py --data_root ... --estimator dis                            # OpenCV DIS, no weights

Resumable: complete files are skipped and every file is written atomically, so rerun after an
interruption.
"""
from __future__ import annotations

import argparse
from typing import List, Optional

from utils.cli import run_cli
from utils.device import DEVICE_CHOICES, resolve_device
from utils.errors import InputError
from models.flow_estimators import DIS_PRESETS, ESTIMATORS, build_estimator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", default="data/vimeo_triplet", help="the vimeo_triplet folder (default: data/vimeo_triplet)")
    parser.add_argument("--estimator", choices=ESTIMATORS, default="raft_large",
                        help="raft_large/raft_small: torchvision RAFT; dis: OpenCV DIS, no weights (default: raft_large)")
    parser.add_argument("--weights", default=None, metavar="PATH",
                        help="local RAFT weights file (torchvision's published .pth) for offline machines; "
                        "default: torchvision downloads them")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="for RAFT; auto takes CUDA when available")
    parser.add_argument("--batch_size", type=int, default=4, help="triplets per estimator call (default: 4)")
    parser.add_argument("--splits", nargs="+", choices=("train", "test"), default=["train", "test"],
                        help="which lists to label (default: train test)")
    parser.add_argument("--num_workers", type=int, default=2, help="image-reading processes (default: 2)")
    parser.add_argument("--num_flow_updates", type=int, default=12, help="RAFT refinement iterations (default: 12)")
    parser.add_argument("--dis_preset", choices=DIS_PRESETS, default="medium", help="DIS quality preset (default: medium)")
    return parser


def main(argv: Optional[List[str]] = None) -> None:
    from datasets.flow_labels import pending_flow_labels, write_flow_labels

    args = build_parser().parse_args(argv)
    if args.batch_size <= 0 or args.num_workers < 0 or args.num_flow_updates <= 0:
        raise InputError("--batch_size and --num_flow_updates must be positive and --num_workers not negative")
    if args.weights is not None and args.estimator == "dis":
        raise InputError("--weights is for the RAFT estimators; dis needs none")
    jobs, complete = pending_flow_labels(args.data_root, args.splits)
    print(f"{len(jobs)} triplets to label, {complete} already complete")
    if not jobs:
        return
    device = resolve_device(args.device)
    estimator = build_estimator(
        args.estimator, weights=args.weights, device=device, dis_preset=args.dis_preset, num_flow_updates=args.num_flow_updates
    )
    done = write_flow_labels(jobs, estimator, batch_size=args.batch_size, num_workers=args.num_workers)
    print(f"wrote flow_t0.flo and flow_t1.flo for {done} triplets under {args.data_root}/flow")


if __name__ == "__main__":
    run_cli(main)
