"""A local web app for IFRNet: frames between two images, and video frame-rate conversion.

  pip install -r requirements-app.txt
  python app.py                      # then open http://127.0.0.1:7860
The API endpoints /frames and /video can be scripted with gradio_client. See docs/app.md.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP: see utils.device.add_threads_argument

import argparse
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from utils.output_checks import check_output_folder
from utils.cli import interrupt_on_sigterm, positive_number, run_cli, whole_number_at_least
from utils.device import DEVICE_CHOICES, add_threads_argument, use_threads
from utils.heap import keep_freed_memory
from utils.errors import InputError
from webapp.address import check_serving_address


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=whole_number_at_least(1, at_most=65535), default=7860, help="port to serve on (default: 7860)")
    parser.add_argument("--share", action="store_true", help="also publish a temporary public gradio.live link (off by default)")
    parser.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto takes CUDA when available")
    add_threads_argument(parser)
    parser.add_argument("--checkpoint", default=None,
                        help="weights file for every job (default: the published checkpoint of the model and weights chosen on the page)")
    parser.add_argument("--offline", action="store_true",
                        help="never download checkpoints: without the published ones use the starter weights")
    parser.add_argument("--work_dir", type=Path, default=None,
                        help="folder for the jobs' outputs, written into its subfolder ifrnet-app-outputs, the only part "
                        "served (default: a temporary folder removed when the app stops)")
    parser.add_argument("--max_image_pixels", type=whole_number_at_least(1), default=3840 * 2160,
                        help="largest image accepted, in pixels (default: 4K)")
    parser.add_argument("--max_video_mb", type=positive_number, default=200.0, help="largest video upload accepted, in MB (default: 200)")
    parser.add_argument("--max_video_seconds", type=positive_number, default=60.0, help="longest video accepted, in seconds (default: 60)")
    parser.add_argument("--max_video_pixels", type=whole_number_at_least(1), default=1920 * 1080,
                        help="largest video frame accepted, in pixels (default: 1080p)")
    parser.add_argument("--max_output_frames", type=whole_number_at_least(1), default=14_400,
                        help="most frames a video job may write (default: 14400, a minute of 30 fps video at 8x)")
    parser.add_argument("--queue_size", type=whole_number_at_least(1), default=16, help="most jobs waiting in the queue (default: 16)")
    return parser


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    """The flags, with what argparse cannot see checked before anything starts: that a server can
    listen on --host:--port now, and that --work_dir is a folder this process can write into."""
    args = build_parser().parse_args(argv)
    check_serving_address(args.host, args.port)
    if args.work_dir is not None:
        check_output_folder(args.work_dir, "--work_dir")
    return args


def main(argv: Optional[list] = None) -> None:
    """Serve until Ctrl-C or SIGTERM; either way the running job is stopped and the temporary folder,
    which holds the users' uploads (Gradio's temporary folder is put inside it) and results, is removed."""
    args = parse_args(argv)
    use_threads(args.threads)
    keep_freed_memory()  # a job's frames reuse the blocks of the first one
    interrupt_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="ifrnet-app-") as temporary, _uploads_in(Path(temporary) / "uploads"):
        try:
            from webapp.ui import Handlers, serve
        except ModuleNotFoundError as error:
            if error.name != "gradio":
                raise
            raise InputError("the web app needs Gradio: pip install -r requirements-app.txt") from None
        from webapp.jobs import ModelCache
        from webapp.limits import AppLimits

        limits = AppLimits(args.max_image_pixels, args.max_video_mb, args.max_video_seconds, args.max_video_pixels,
                           args.max_output_frames)
        work_dir = args.work_dir if args.work_dir is not None else Path(temporary)
        handlers = Handlers(ModelCache(args.device, offline=args.offline, checkpoint=args.checkpoint), work_dir, limits)
        try:
            serve(handlers, host=args.host, port=args.port, share=args.share, queue_size=args.queue_size,
                  max_file_megabytes=args.max_video_mb)
        finally:
            handlers.stop_jobs()  # before the folder goes: a job may be writing into it


@contextmanager
def _uploads_in(folder: Path) -> Iterator[None]:
    """Gradio keeps uploads in ``GRADIO_TEMP_DIR`` (default: <tmp>/gradio, never emptied): point it
    into the app's temporary folder unless the operator chose one. Set before Gradio is imported."""
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ.setdefault("GRADIO_TEMP_DIR", str(folder))
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)


if __name__ == "__main__":
    run_cli(main)
