"""Download the authors' published IFRNet checkpoints to where every tool looks for them.

    python tools/download_checkpoints.py                          # all six files into checkpoints/
    python tools/download_checkpoints.py --variant IFRNet_S --task Vimeo90K

Each file comes from the first source that gives a valid one (the authors' Dropbox folder, then
public mirrors; IFRNET_CHECKPOINT_URLS replaces them, see models/published.py), is verified
(loads with weights_only=True, fits its variant strictly, right parameter count, finite values)
and moved into place atomically; its SHA-256 goes to SHA256SUMS in the output folder. Files
already present and valid are skipped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: make the repository's packages importable
    sys.path.insert(0, str(ROOT))

from models.checkpoint import CHECKPOINT_DIR, download_published, published_problem  # noqa: E402
from models.downloads import Downloader, FetchError, read_sums  # noqa: E402
from models.network import MODEL_NAMES  # noqa: E402
from models.published import PUBLISHED_CHECKPOINTS, TASKS, PublishedCheckpoint  # noqa: E402
from utils.cli import run_cli  # noqa: E402
from utils.errors import InputError  # noqa: E402

ALL = "all"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=(*MODEL_NAMES, ALL), default=ALL, help="network width (default: all)")
    parser.add_argument("--task", choices=(*TASKS, ALL), default=ALL,
                        help="training set: Vimeo90K (2x, the demos and the video tool) or GoPro (8x) (default: all)")
    parser.add_argument("--output", type=Path, default=CHECKPOINT_DIR,
                        help="checkpoints folder; files go to <output>/IFRNet_small/IFRNet_S_Vimeo90K.pth and so on "
                        "(default: the repository's checkpoints/)")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bars")
    return parser


def selected(variant: str, task: str) -> List[PublishedCheckpoint]:
    return [entry for entry in PUBLISHED_CHECKPOINTS
            if variant in (ALL, entry.variant) and task in (ALL, entry.task)]


def main(argv: Optional[list] = None) -> None:
    args = build_parser().parse_args(argv)
    if args.output.exists() and not args.output.is_dir():
        raise InputError(f"--output {args.output} is a file; give a folder")
    failures = []
    with Downloader(args.output, progress=not args.no_progress) as downloader:
        for entry in selected(args.variant, args.task):
            path = args.output / entry.path
            problem = published_problem(entry, args.output)
            if problem is None:
                print(f"{path}: present and valid, skipped")
                continue
            if path.exists():
                print(f"{problem}: downloading it again", file=sys.stderr)
            try:
                download_published(entry, downloader=downloader)
            except FetchError as error:
                failures.append(str(error))
                continue
            digest = read_sums(args.output)[entry.path]
            print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {digest})")
    if len(failures) == 1:
        raise InputError(failures[0])
    if failures:
        prog = Path(sys.argv[0]).name
        for failure in failures:
            print(f"{prog}: error: {failure}", file=sys.stderr)
        raise InputError(f"{len(failures)} of {len(selected(args.variant, args.task))} checkpoints could not be downloaded")


if __name__ == "__main__":
    run_cli(main)
