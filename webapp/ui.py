"""The Gradio page: a Frames tab and a Video tab over :mod:`webapp.jobs`, API names ``/frames`` and ``/video``.

:class:`Handlers` holds the functions the page's buttons call (tests call them directly): they turn
page values into job arguments, taking files only from Gradio's upload folder, and every
:class:`~utils.errors.InputError` into ``gr.Error``, a message on the page instead of a stack
trace. Both events share one queue slot (concurrency id ``model``), so jobs run one at a time on
the model; the video job runs in a worker thread that the Cancel button stops at the next batch
of frames, after which its folder is gone.

Gradio is an optional dependency (``requirements-app.txt``): import this module only from the app.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

# Before gradio is imported: no usage reports or version checks leave the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import gradio.utils  # noqa: E402
import torch  # noqa: E402

from models import MODEL_NAMES  # noqa: E402
from models.published import TASKS  # noqa: E402
from models.timestep_policy import TIMESTEP_MODES  # noqa: E402
from utils.errors import InputError  # noqa: E402
from utils.precision_choice import cpu_has_native_bfloat16  # noqa: E402
from utils.scene import DEFAULT_SCENE_THRESHOLD  # noqa: E402
from webapp.jobs import (  # noqa: E402
    JobCancelled,
    ModelCache,
    ModelChoice,
    VideoOptions,
    outputs_folder,
    run_frames_job,
    run_video_job,
    timesteps_for,
)
from webapp.limits import CRF_RANGE, MAX_FACTOR, MAX_IN_BETWEEN, MAX_SCENE_THRESHOLD, AppLimits, uploaded_file  # noqa: E402
from webapp.messages import public_message  # noqa: E402

__all__ = ["Handlers", "build_app", "serve", "PRECISIONS", "SCALES"]

SCALES = ("auto", "1", "0.5", "0.25")
# What the page offers: float32 everywhere, bfloat16 on a CPU that computes it natively (it would be
# slower emulated), float16 on CUDA; labels the page shows -> the core's precision names.
PRECISION_NAMES = {"float32": "fp32", "bfloat16 (CPU)": "bf16", "float16 (CUDA)": "fp16"}
PRECISIONS = ("float32",) + (("bfloat16 (CPU)",) if cpu_has_native_bfloat16() else ()) + (
    ("float16 (CUDA)",) if torch.cuda.is_available() else ())
MODEL_QUEUE = "model"  # the concurrency id both jobs share: one job at a time on the model
SHARE_HINT = "* To also publish a temporary public link, start the app with --share."

log = logging.getLogger("ifrnet.app")

INTRO = """# IFRNet frame interpolation
**Frames**: two images in, the frames between them out. **Video**: a higher frame rate, as
`interpolate_video.py` makes it. Weights: the published checkpoint of the chosen width and training
set (auto: Vimeo90K when every new frame is at a multiple of 1/2^k, made by bisection since those
weights ignore t; GoPro for other timesteps), downloaded on first use unless the app runs
`--offline`, else this project's starter weights (IFRNet_S); the line under the results says which ran."""


WEIGHTS = ("auto",) + TASKS  # auto: Vimeo90K for 2x/4x/8x, GoPro for other timesteps


def _choice(model_name: str, weights: str, scale: str, precision: str, timesteps: str) -> ModelChoice:
    if model_name not in MODEL_NAMES:
        raise InputError(f"unknown model {model_name!r}; choose one of {', '.join(MODEL_NAMES)}")
    if weights not in WEIGHTS:
        raise InputError(f"unknown weights {weights!r}; choose one of {', '.join(WEIGHTS)}")
    if timesteps not in TIMESTEP_MODES:
        raise InputError(f"unknown timesteps {timesteps!r}; choose one of {', '.join(TIMESTEP_MODES)}")
    if str(scale) not in SCALES:
        raise InputError(f"unknown flow scale {scale!r}; choose one of {', '.join(SCALES)}")
    if precision not in PRECISIONS:
        raise InputError(f"precision {precision!r} is not available here; choose one of {', '.join(PRECISIONS)}")
    return ModelChoice(model_name, weights, str(scale), PRECISION_NAMES[precision], timesteps)


def _upload(value: Any) -> Tuple[Optional[str], Dict[str, str]]:
    """The file path of an upload as the page sends it unprocessed (``{"path": ..., "orig_name": ...}``,
    for a video ``{"video": {...}}``), or as tests pass it (a path); and {path: the name the user
    gave the file}, for messages (see :meth:`Handlers.page_error`).

    The events run with ``preprocess=False``: Gradio's own image and video preprocessing would
    decode an upload before the handler could check its size, or refuse a bad one with its
    internal error before the handler could say what is wrong."""
    if value is None or value == "":
        return None, {}
    if isinstance(value, dict):
        if "video" in value:
            return _upload(value["video"])
        path, name = value.get("path"), value.get("orig_name")
    else:
        path, name = getattr(value, "path", value), getattr(value, "orig_name", None)  # a FileData model, or a path
    if path is None or path == "":
        return None, {}
    return str(path), {str(path): str(name or Path(str(path)).name)}


class Handlers:
    """What the page's buttons call; public so tests can call them with real files.

    Files are taken from ``upload_folder`` only (default: Gradio's upload folder, ``GRADIO_TEMP_DIR``
    when set, read at each call as Gradio does): see :func:`webapp.limits.uploaded_file`."""

    def __init__(self, models: ModelCache, work_dir: Path, limits: AppLimits = AppLimits(),
                 upload_folder: Optional[Path] = None) -> None:
        self.models, self.work_dir, self.limits = models, Path(work_dir), limits
        self._upload_folder = upload_folder
        self._cancels: Set[threading.Event] = set()  # of the video jobs running

    @property
    def upload_folder(self) -> Path:
        return Path(self._upload_folder or gradio.utils.get_upload_folder())

    def page_error(self, error: Exception, uploads: Dict[str, str]) -> gr.Error:
        """The message the page shows for ``error``: an InputError's own words, anything else (a bug)
        as one line with its traceback in the server's log; without the server's folders either way."""
        if isinstance(error, (InputError, JobCancelled)):
            text = str(error)
        else:
            log.error("a job failed", exc_info=error)
            text = f"the job failed ({type(error).__name__}: {error})"
        folders = [self.work_dir, tempfile.gettempdir(), self.upload_folder, *self.models.server_folders]
        return gr.Error(public_message(text, uploads, folders), print_exception=False)

    def stop_jobs(self, timeout: float = 120.0) -> bool:
        """Cancel the running video job and wait until no job holds the model (a frames job takes
        seconds), so that the work folder can be removed; False if one is still running at ``timeout``."""
        for cancel in list(self._cancels):
            cancel.set()
        if not self.models.lock.acquire(timeout=timeout):
            return False
        self.models.lock.release()
        return True

    def frames(
        self,
        image0: Any,
        image1: Any,
        count: Any = 1,
        timestep: Any = None,
        model_name: str = "IFRNet",
        weights: str = "auto",
        scale: str = "auto",
        precision: str = "float32",
        timesteps: str = "auto",
        visualize: Any = True,
    ) -> Tuple[List[Tuple[str, str]], str, str, List[Tuple[str, str]], str]:
        """Frames tab: (frames with captions, GIF preview, zip of PNGs, field pictures, weights line).

        ``timestep`` in (0, 1) asks for that one frame; 0 or None asks for ``count`` evenly spaced ones."""
        (path0, names0), (path1, names1) = _upload(image0), _upload(image1)
        try:
            path0 = uploaded_file(path0, "the first image", self.upload_folder)
            path1 = uploaded_file(path1, "the second image", self.upload_folder)
            if not isinstance(visualize, (bool, int)) or visualize not in (0, 1):
                raise InputError(f"visualize must be true or false, got {visualize!r}")
            times = timesteps_for(count, timestep)
            result = run_frames_job(path0, path1, times, _choice(model_name, weights, scale, precision, timesteps),
                                    self.models, self.work_dir, limits=self.limits, visualize=bool(visualize))
        except Exception as error:
            raise self.page_error(error, {**names0, **names1}) from None
        frames = [(str(path), f"t={t:.3f}") for path, t in zip(result.frames, times)]
        fields = [(str(path), caption) for path, caption in result.fields]
        return frames, str(result.preview), str(result.archive), fields, f"Ran {result.weights}"

    async def video(
        self,
        video: Any,
        factor: Any = 2,
        fps: Any = None,
        scene_threshold: Any = DEFAULT_SCENE_THRESHOLD,
        crf: Any = 18,
        model_name: str = "IFRNet",
        weights: str = "auto",
        scale: str = "auto",
        precision: str = "float32",
        timesteps: str = "auto",
        progress: Any = gr.Progress(),
    ) -> Tuple[str, str]:
        """Video tab: (the output MP4, weights line). Async so that a cancel reaches it: the
        conversion runs in a worker thread, told to stop and awaited before the cancel completes."""
        cancel = threading.Event()
        path, names = _upload(video)
        try:
            path = uploaded_file(path, "the video", self.upload_folder)
            options = VideoOptions(factor=factor, fps=fps, scene_threshold=scene_threshold, crf=crf)
            choice = _choice(model_name, weights, scale, precision, timesteps)
        except Exception as error:
            raise self.page_error(error, names) from None
        progress(0.0, desc="interpolating")
        self._cancels.add(cancel)
        worker = asyncio.ensure_future(asyncio.to_thread(
            run_video_job, path, options, choice, self.models, self.work_dir, limits=self.limits,
            on_progress=lambda fraction: progress(fraction, desc="interpolating"), cancel=cancel))
        try:
            output, described = await asyncio.shield(worker)
        except asyncio.CancelledError:
            cancel.set()
            with contextlib.suppress(BaseException):
                await worker  # the job removes its folder on the way out
            raise
        except Exception as error:
            raise self.page_error(error, names) from None
        finally:
            self._cancels.discard(cancel)
        return str(output), f"Ran {described}"


def _model_controls() -> List[gr.components.Component]:
    with gr.Row():
        model_name = gr.Dropdown(list(MODEL_NAMES), value="IFRNet", label="Model")
        weights = gr.Dropdown(list(WEIGHTS), value="auto",
                              label="Weights (published, trained on; auto: Vimeo90K for 2x/4x/8x, GoPro for other timesteps)")
        scale = gr.Dropdown(list(SCALES), value="auto", label="Flow scale (auto: 1 up to 1080p, 0.5 at 4K)")
        precision = gr.Radio(list(PRECISIONS), value="float32", label="Precision")
        timesteps = gr.Dropdown(list(TIMESTEP_MODES), value="auto",
                                label="Timesteps (auto: bisect weights that ignore t, such as Vimeo90K's)")
    return [model_name, weights, scale, precision, timesteps]


def build_app(handlers: Handlers) -> gr.Blocks:
    """The page's layout and events (not yet queued nor served: see :func:`serve`)."""
    with gr.Blocks(title="IFRNet frame interpolation", delete_cache=(900, 3600)) as app:
        gr.Markdown(INTRO)
        models = _model_controls()
        with gr.Tab("Frames"):
            with gr.Row():
                image0 = gr.Image(type="filepath", label="Image 0 (t = 0)", sources=["upload", "clipboard"])
                image1 = gr.Image(type="filepath", label="Image 1 (t = 1)", sources=["upload", "clipboard"])
            with gr.Row():
                count = gr.Slider(1, MAX_IN_BETWEEN, value=1, step=1, label="In-between frames")
                timestep = gr.Number(value=0, minimum=0, maximum=1, label="Or one timestep in (0, 1) (0: use the count)")
                visualize = gr.Checkbox(value=True, label="Show flows, merge mask and residual")
            run_frames = gr.Button("Interpolate frames", variant="primary")
            frames_weights = gr.Markdown()
            with gr.Row():
                preview = gr.Image(label="Animated preview (image 0, frames, image 1)", type="filepath", height=360, scale=2)
                archive = gr.File(label="Download the PNG frames (zip)", scale=1)
            frames_out = gr.Gallery(label="Interpolated frames", columns=4, object_fit="contain", height="auto")
            fields = gr.Gallery(label="What the network predicted (flows: colour = direction, saturation = length)",
                                columns=4, object_fit="contain", height="auto")
            run_frames.click(handlers.frames, inputs=[image0, image1, count, timestep, *models, visualize],
                             outputs=[frames_out, preview, archive, fields, frames_weights],
                             api_name="frames", concurrency_id=MODEL_QUEUE, concurrency_limit=1, preprocess=False)
        with gr.Tab("Video"):
            video_in = gr.Video(label="Video", sources=["upload"])
            with gr.Row():
                factor = gr.Slider(2, MAX_FACTOR, value=2, step=1, label="Factor (output rate = input rate x N)")
                fps = gr.Textbox(label=f"Or a target frame rate, up to {MAX_FACTOR}x the video's (e.g. 60, 59.94, 60000/1001)",
                                 value="")
                scene = gr.Number(value=DEFAULT_SCENE_THRESHOLD, minimum=0, maximum=MAX_SCENE_THRESHOLD,
                                  label="Scene-cut threshold (0 disables)")
                crf = gr.Slider(*CRF_RANGE, value=18, step=1, label="Quality (CRF, lower is better)")
            with gr.Row():
                run_video = gr.Button("Interpolate video", variant="primary")
                cancel = gr.Button("Cancel", variant="stop")
            video_weights = gr.Markdown()
            video_out = gr.Video(label="Result")
            job = run_video.click(handlers.video, inputs=[video_in, factor, fps, scene, crf, *models],
                                  outputs=[video_out, video_weights], api_name="video",
                                  concurrency_id=MODEL_QUEUE, concurrency_limit=1, preprocess=False)
            cancel.click(None, cancels=[job])
    return app


def serve(
    handlers: Handlers,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    queue_size: int = 16,
    max_file_megabytes: float = 200.0,
    block: bool = True,
) -> gr.Blocks:
    """Queue the page (one job at a time on the model, at most ``queue_size`` waiting) and serve it.

    ``block=False`` returns once the server is up (tests); stop it with ``.close()``. With ``block``
    it prints the address and serves until interrupted (Ctrl-C, or SIGTERM made an interrupt by
    ``app.py``), then closes the server and lets the interrupt go on, so that the caller cleans up.
    Gradio's own start-up lines are not printed: their "set share=True in launch()" is not how this
    app is asked for a public link. Uploads over ``max_file_megabytes`` are refused by the page
    before they reach a handler. Of the work folder only the jobs' outputs are served
    (:func:`webapp.jobs.outputs_folder`).
    """
    # System fonts only: the default theme would have the browser fetch Google Fonts.
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    app = build_app(handlers).queue(max_size=queue_size, default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=share, theme=theme, show_error=True,
               max_file_size=f"{max_file_megabytes:g}mb", allowed_paths=[str(outputs_folder(handlers.work_dir))],
               prevent_thread_lock=True, quiet=True)
    if not block:
        return app
    print(f"* Running on local URL:  {app.local_url}", flush=True)
    if not share:  # (with --share Gradio has printed the public URL, or why it could not make one)
        print(SHARE_HINT, flush=True)
    try:
        while app.is_running:
            time.sleep(0.1)
    finally:
        app.close(verbose=False)
    return app
