"""The web app: its handlers called directly on real frames and a real clip, and a live server on
a loopback port driven through gradio_client's /frames and /video endpoints.

Skipped when Gradio is not installed (it is an optional dependency, requirements-app.txt).
Nothing here reaches the internet: analytics are off, the server binds 127.0.0.1, share is off.
"""
import asyncio
import io
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from concurrent.futures import TimeoutError as FutureTimeout
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from models.checkpoint import CHECKPOINT_DIR  # noqa: E402
from models.interpolator import Interpolator  # noqa: E402
from models.network import IFRNet  # noqa: E402
from models.published import find_published  # noqa: E402
from tests.http_server import free_loopback_port  # noqa: E402
from tests.seeded import seeded_model  # noqa: E402
from tests.video_builders import read_video, sample_frames, write_clip  # noqa: E402
from utils.image_io import read_image  # noqa: E402
from video.convert import ConversionJob, convert  # noqa: E402
from utils.precision_choice import cpu_has_native_bfloat16  # noqa: E402
from webapp.jobs import ModelCache, outputs_folder  # noqa: E402
from webapp.limits import AppLimits, VideoProbe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Set by the fixture below when this file's tests run.
gr = gradio_client = PRECISIONS = SHARE_HINT = Handlers = serve = None
HEIGHT, WIDTH = 45, 74  # not multiples of 16: the app pads and crops back like the CLIs
MODEL = ("IFRNet_S", "Vimeo90K", "auto", "float32", "auto")  # model, weights, scale, precision, timesteps
SERVER_TIMEOUT = 180  # seconds any one request may take before the test fails instead of hanging


@pytest.fixture(scope="module", autouse=True)
def gradio_and_the_page():
    """Gradio and the page's module, imported when this file's tests run rather than when the suite is
    collected: every xdist worker collects every file, the import takes 5 s, one worker runs these."""
    global gr, gradio_client, PRECISIONS, SHARE_HINT, Handlers, serve
    gr = pytest.importorskip("gradio")
    gradio_client = pytest.importorskip("gradio_client")
    from webapp.ui import PRECISIONS, SHARE_HINT, Handlers, serve


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    """The upload folder the handlers take files from (Gradio's, on a server): what the tests send is in it."""
    return tmp_path_factory.mktemp("uploads")


@pytest.fixture
def upload_dir(uploads, tmp_path):
    """One test's folder in the upload folder, as Gradio makes a folder for each upload."""
    folder = uploads / tmp_path.name
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def pair(uploads):
    """A crop of the real sample pair (Big Buck Bunny) as two uploaded PNG files."""
    folder = uploads / "pair"
    folder.mkdir()
    paths = []
    for name in ("img0.png", "img1.png"):
        crop = read_image(ROOT / "figures" / name)[150 : 150 + HEIGHT, 250 : 250 + WIDTH]
        Image.fromarray(crop).save(folder / name)
        paths.append(str(folder / name))
    return paths


@pytest.fixture(scope="module")
def clip(uploads):
    """Eight real frames of Big Buck Bunny at 64x36, 25 fps, as uploaded H.264."""
    (uploads / "clip").mkdir()
    return write_clip(uploads / "clip" / "bunny.mp4", sample_frames("bigbuckbunny", 8, size=(64, 36)))


@pytest.fixture(scope="module")
def models(seeded_checkpoints):
    return ModelCache("cpu", checkpoint=str(seeded_checkpoints["IFRNet_S"]))


@pytest.fixture
def handlers(models, tmp_path, uploads):
    return Handlers(models, tmp_path / "work", upload_folder=uploads)


def reference_interpolator():
    return Interpolator(seeded_model("IFRNet_S", lean=True), "cpu", scale_factor="auto")  # the app's model


def test_frames_handler_returns_frames_preview_archive_and_fields(handlers, pair, seeded_checkpoints):
    frames, preview, archive, fields, weights = handlers.frames(*pair, 3, 0, *MODEL, True)
    expected = reference_interpolator().interpolate(read_image(pair[0]), read_image(pair[1]), [0.25, 0.5, 0.75])
    assert [caption for _, caption in frames] == ["t=0.250", "t=0.500", "t=0.750"]
    for (path, _), frame in zip(frames, expected):
        assert np.array_equal(read_image(path), frame)
    with Image.open(preview) as gif:
        assert gif.n_frames == 5 and gif.size == (WIDTH, HEIGHT)  # image 0, three frames, image 1
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == ["interp_t0.250.png", "interp_t0.500.png", "interp_t0.750.png"]
        assert bundle.read("interp_t0.500.png") == Path(frames[1][0]).read_bytes()
    assert len(fields) == 3 * 4  # flow t->0, flow t->1, mask, residual for each frame
    assert [caption for _, caption in fields[:4]] == ["t=0.250: flow t->0", "t=0.250: flow t->1",
                                                      "t=0.250: merge mask (white: from image 0)", "t=0.250: residual"]
    assert all(read_image(path).shape == (HEIGHT, WIDTH, 3) for path, _ in fields)
    assert Path(seeded_checkpoints["IFRNet_S"]).name in weights


def test_only_the_apps_own_old_job_folders_are_removed(handlers, pair):
    """A job clears finished jobs' folders over an hour old from the app's own folder, and leaves
    alone whatever else the work folder holds, whatever its name."""
    outputs = outputs_folder(handlers.work_dir)
    stale, recent = outputs / "frames-stale", outputs / "video-recent"
    others = [handlers.work_dir / "frames-of-someone", handlers.work_dir / "video-of-someone", handlers.work_dir / "keep-me"]
    for folder in (stale, recent, *others):
        folder.mkdir(parents=True)
        if folder != recent:
            os.utime(folder, (time.time() - 7200, time.time() - 7200))
    frames, _, _, _, _ = handlers.frames(*pair, 1, 0, *MODEL, False)
    assert not stale.exists() and recent.exists() and all(folder.exists() for folder in others)
    assert Path(frames[0][0]).is_relative_to(outputs)


def test_frames_job_runs_the_network_in_batches_of_the_tools_size(handlers, pair, monkeypatch):
    """The frames of a pair go through the network 8 at a time, as interpolate_video.py runs them
    (31 frames of a 960x540 pair peak at 3.2 GB all at once, at 1.5 GB 8 at a time)."""
    batches = network_batches(monkeypatch)
    frames, _, _, _, _ = handlers.frames(*pair, 9, 0, *MODEL, False)
    assert len(frames) == 9 and batches == [8, 1]


def network_batches(monkeypatch) -> list:
    """The number of timesteps of each network call from now on (a list that grows)."""
    batches = []
    inference = IFRNet.inference

    def counted(model, img0, img1, embt, *args, **kwargs):
        batches.append(len(embt))
        return inference(model, img0, img1, embt, *args, **kwargs)

    monkeypatch.setattr(IFRNet, "inference", counted)
    return batches


def test_frames_handler_single_timestep_without_fields(handlers, pair):
    frames, _, _, fields, _ = handlers.frames(*pair, 5, 0.3, *MODEL, False)
    assert [caption for _, caption in frames] == ["t=0.300"] and fields == []
    expected = reference_interpolator().interpolate(read_image(pair[0]), read_image(pair[1]), [0.3])[0]
    assert np.array_equal(read_image(frames[0][0]), expected)


def page_error(call, *args):
    with pytest.raises(gr.Error) as error:
        result = call(*args)
        if asyncio.iscoroutine(result):
            asyncio.run(result)
    return error.value.message  # what the page shows


def test_bad_frames_input_is_a_message_on_the_page(models, pair, tmp_path, uploads, upload_dir):
    handlers = Handlers(models, tmp_path / "work", AppLimits(max_image_pixels=HEIGHT * WIDTH), uploads)
    smaller = upload_dir / "small.png"
    Image.open(pair[1]).crop((0, 0, 50, 40)).save(smaller)
    text = upload_dir / "notes.png"
    text.write_text("not an image")
    assert "differ in size: 74x45 and 50x40" in page_error(handlers.frames, pair[0], str(smaller))
    assert "cannot read image" in page_error(handlers.frames, pair[0], str(text))
    assert "missing" in page_error(handlers.frames, pair[0], None)
    full = [shutil.copy(ROOT / "figures" / name, upload_dir) for name in ("img0.png", "img1.png")]
    assert "is 640x360, over this app's limit of 3,330 pixels" in page_error(handlers.frames, *full)
    assert "from 1 to 31" in page_error(handlers.frames, str(smaller), str(smaller), 40)
    assert "not available here" in page_error(handlers.frames, *pair, 1, 0, "IFRNet_S", "Vimeo90K", "auto", "float64")
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())  # nothing written


def test_images_of_two_sizes_are_refused_from_their_headers_before_the_model_loads(pair, tmp_path, uploads, upload_dir):
    """The interpolator's own size rule, asked before any weights are read: here there are none."""
    never_loaded = ModelCache("cpu", checkpoint=str(tmp_path / "absent.pth"))
    smaller = upload_dir / "small.png"
    Image.open(pair[1]).crop((0, 0, 50, 40)).save(smaller)
    handlers = Handlers(never_loaded, tmp_path / "work", upload_folder=uploads)
    assert "the two frames differ in size: 74x45 and 50x40 (width x height)" in page_error(handlers.frames, pair[0], str(smaller))
    assert "absent.pth" in page_error(handlers.frames, pair[0], pair[1])  # the same pair sizes reach the loader


def test_bad_video_input_is_a_message_on_the_page(models, clip, pair, tmp_path, uploads, upload_dir):
    handlers = Handlers(models, tmp_path / "work", AppLimits(max_video_seconds=0.2), uploads)
    text = upload_dir / "notes.mp4"
    text.write_text("not a video")
    assert "notes.mp4 is not a video this app can read" in page_error(handlers.video, str(text))
    assert "img0.png is an image, not a video" in page_error(handlers.video, pair[0])
    assert "no video was given" in page_error(handlers.video, None)
    assert "lasts 0.3 s, over this app's limit of 0.2 s" in page_error(handlers.video, str(clip))
    small = Handlers(models, tmp_path / "work", AppLimits(max_video_megabytes=0.001), uploads)
    assert "MB, over this app's limit" in page_error(small.video, str(clip))
    assert "not a frame rate" in page_error(Handlers(models, tmp_path / "work", upload_folder=uploads).video, str(clip), 2, "fast")
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def large_sparse_png(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit greyscale PNG of ``width`` x ``height`` black pixels, a few KB on disk, written
    chunk by chunk (PIL would build the whole image in memory first)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte "none", then the row's bits
    squeeze = zlib.compressobj(9)
    pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # PIL's own note on reading the header
def test_huge_image_is_refused_from_its_header_without_decoding(handlers, pair, upload_dir, monkeypatch):
    """A 12000x12000 PNG is small on disk but 432 MB decoded as RGB: refused before any decoding."""
    huge = large_sparse_png(upload_dir / "huge.png", 12000, 12000)
    assert huge.stat().st_size < 1_000_000
    with Image.open(huge) as opened:
        assert opened.size == (12000, 12000)  # a real PNG of that size, as PIL reads it
    decoded = []
    original_load = ImageFile.ImageFile.load

    def spy_load(image):
        decoded.append(image.size)
        return original_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    for images in ((str(huge), pair[1]), (pair[0], str(huge))):
        assert "is 12000x12000, over this app's limit of 8,294,400 pixels" in page_error(handlers.frames, *images)
    assert (12000, 12000) not in decoded
    handlers.frames(*pair, 1, 0, *MODEL, False)  # the spy sees a decode when one happens
    assert (WIDTH, HEIGHT) in decoded


def webm_without_duration(path: Path, frames: int, rate: int = 25) -> Path:
    """A VP9 WebM whose header holds no duration, as a muxer writing to a pipe leaves it (it cannot
    seek back to fill the duration in): frames of a moving bar, 64x48."""
    class Pipe:  # write() only: the muxer sees an output it cannot seek
        def __init__(self):
            self.buffer = io.BytesIO()

        def write(self, data):
            return self.buffer.write(data)

    pipe = Pipe()
    with av.open(pipe, "w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for number in range(frames):
            image = np.zeros((48, 64, 3), np.uint8)
            image[:, number % 64] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    path.write_bytes(pipe.buffer.getvalue())
    with av.open(str(path)) as check:  # the property the tests rely on
        assert check.duration is None and check.streams.video[0].duration is None
    return path


def test_video_without_duration_is_counted_and_held_to_the_time_limit(tmp_path, uploads, upload_dir):
    """A WebM without a duration in its header lasts 0 s as far as the header goes: its frames are
    counted (not decoded) and the upload refused before the model runs."""
    webm = webm_without_duration(upload_dir / "endless.webm", 30)  # 1.2 s at 25 fps
    handlers = Handlers(ModelCache("cpu", checkpoint=str(tmp_path / "never-loaded.pth")), tmp_path / "work",
                        AppLimits(max_video_seconds=0.5), uploads)
    assert page_error(handlers.video, str(webm)) == "the video lasts more than this app's limit of 0.5 s"
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


def test_video_without_duration_reports_progress_frame_by_frame(handlers, upload_dir):
    webm = webm_without_duration(upload_dir / "short.webm", 12)
    reported = []
    output, _ = asyncio.run(handlers.video(str(webm), 2, "", 0, 18, *MODEL,
                                           progress=lambda fraction, desc=None: reported.append(fraction)))
    assert len(read_video(Path(output)).frames) == 24
    assert reported[0] == 0.0 and reported[-1] == 1.0
    steps = reported[1:-1]  # one per pair of frames, out of the 11 pairs counted: never 100% early
    assert steps == pytest.approx([k / 11 for k in range(1, 11)] + [0.99])


def test_video_job_counts_frames_while_decoding_and_stops_at_the_limit(handlers, upload_dir, monkeypatch):
    """Should the count before decoding miss frames, the job stops once it has decoded the limit's worth."""
    webm = webm_without_duration(upload_dir / "long.webm", 30)
    monkeypatch.setattr("webapp.jobs.probe_video", lambda path, limits: VideoProbe(64, 48, 0.1, 3, 25))
    limited = Handlers(handlers.models, handlers.work_dir, AppLimits(max_video_seconds=0.5), handlers.upload_folder)
    assert page_error(limited.video, str(webm), 2, "", 0, 18, *MODEL) == "the video runs past this app's limit of 0.5 s: stopped there"
    assert list(outputs_folder(handlers.work_dir).iterdir()) == []  # the partial output is gone


def burst_then_gap(path: Path) -> Path:
    """An H.264 MKV within every limit whose header says 125 fps: ten frames 8 ms apart, then one
    128 ms later. At 8x (1000 fps) the last pair alone needs 127 in-between frames (32x32: the
    network's work is most of the job's)."""
    frames = [np.full((32, 32, 3), 20 * number, np.uint8) for number in range(11)]
    times = [Fraction(number, 125) for number in range(10)] + [Fraction(1, 5)]
    return write_clip(path, frames, rate=Fraction(125), timestamps=times)


def test_video_job_is_batched_and_held_to_the_frames_it_writes(handlers, upload_dir, monkeypatch):
    """The work of a video job is the frames it writes, whatever the number of frames decoded:
    the gap's 127 frames go through the network 8 at a time, and the output's frames are held to
    the limit, from the header's duration and the timestamps before the model loads, and counted
    while decoding should the probe miss them."""
    mkv = str(burst_then_gap(upload_dir / "burst.mkv"))
    batches = network_batches(monkeypatch)
    output, _ = asyncio.run(handlers.video(mkv, 8, "", 0, 18, *MODEL))
    assert len(read_video(Path(output)).frames) == 208  # 0.208 s at 1000 fps
    assert max(batches) == 8 and sum(batches) == 9 * 7 + 127  # 7 between each of the first ten, 127 in the gap

    limited = Handlers(handlers.models, handlers.work_dir, AppLimits(max_output_frames=100), handlers.upload_folder)
    batches.clear()
    assert page_error(limited.video, mkv, 8, "", 0, 18, *MODEL) == \
        "the result would have 208 frames (0.2 s at 1000 fps), over this app's limit of 100"
    monkeypatch.setattr("webapp.jobs.probe_video", lambda path, limits: VideoProbe(32, 32, 0.05, 11, Fraction(125)))
    assert page_error(limited.video, mkv, 8, "", 0, 18, *MODEL) == \
        "the result runs past this app's limit of 100 frames: stopped there"
    assert sum(batches) == 9 * 7  # the gap's frames were refused before the network ran them
    assert [folder.name for folder in outputs_folder(handlers.work_dir).iterdir()] == [Path(output).parent.name]


def test_every_parameter_is_checked_against_the_pages_bounds(handlers, pair, clip):
    """The API takes any value; each is held to what the page's controls allow."""
    video = handlers.video
    assert "factor must be a whole number from 2 to 8, got 100" in page_error(video, str(clip), 100)
    assert "factor must be a whole number from 2 to 8, got 2.5" in page_error(video, str(clip), 2.5)
    assert "factor must be a whole number from 2 to 8, got 'two'" in page_error(video, str(clip), "two")
    assert "a target of 1000 fps is over 8x the video's 25 fps" in page_error(video, str(clip), 2, "1000")
    assert "scene-cut threshold must be a number from 0 to 255, got -5" in page_error(video, str(clip), 2, "", -5)
    assert "scene-cut threshold must be a number from 0 to 255, got nan" in page_error(video, str(clip), 2, "", float("nan"))
    assert "CRF) must be a whole number from 0 to 51, got 60" in page_error(video, str(clip), 2, "", 10, 60)
    frames = handlers.frames
    assert "in-between frames must be a whole number from 1 to 31, got 2.5" in page_error(frames, *pair, 2.5)
    assert "timestep must be a number from 0 to 1, got 1.5" in page_error(frames, *pair, 1, 1.5)
    assert "timestep must lie strictly between 0 and 1" in page_error(frames, *pair, 1, 1)
    assert "visualize must be true or false, got 'yes'" in page_error(frames, *pair, 1, 0, *MODEL, "yes")
    # The flow scale is one the page offers: 1/256 on a 64x48 pair took 2.9 GB, 1e-300 failed deep in the model.
    for scale in ("0.00390625", "1e-300", "2", ""):
        expected = f"unknown flow scale {scale!r}; choose one of auto, 1, 0.5, 0.25"
        assert page_error(frames, *pair, 1, 0, "IFRNet_S", "Vimeo90K", scale, "float32", "auto", False) == expected
        assert page_error(video, str(clip), 2, "", 10, 18, "IFRNet_S", "Vimeo90K", scale, "float32") == expected
    assert not handlers.work_dir.exists() or list(handlers.work_dir.iterdir()) == []


def test_messages_name_the_upload_not_the_servers_folders(handlers, pair, upload_dir, monkeypatch):
    """The page sees "holiday.png", not /tmp/gradio/<hash>/holiday.png nor the app's work folder."""
    upload = upload_dir / "0a1b2c3d" / "holiday.png"
    upload.parent.mkdir(parents=True)
    upload.write_text("not an image")
    sent = {"path": str(upload), "orig_name": "holiday.png", "meta": {"_type": "gradio.FileData"}}
    message = page_error(handlers.frames, pair[0], sent)
    assert message.startswith("cannot read image holiday.png: ") and str(upload_dir) not in message

    def disk_full(*args, **kwargs):  # an error that is not the user's: named, without the server's paths
        raise OSError(f"[Errno 28] No space left on device: '{handlers.work_dir / 'frames-x1' / 'interp_t0.500.png'}'")

    monkeypatch.setattr("webapp.ui.run_frames_job", disk_full)
    assert page_error(handlers.frames, *pair) == \
        "the job failed (OSError: [Errno 28] No space left on device: 'interp_t0.500.png')"


def test_only_files_uploaded_to_this_app_are_read(handlers, pair, tmp_path, upload_dir):
    """The API passes on any path a client writes (Gradio checks only files marked as its own):
    a file outside the upload folder is refused, however it is reached, in the same words whether
    it exists or not, for every input."""
    elsewhere = tmp_path / "server" / "private.png"
    elsewhere.parent.mkdir()
    shutil.copy(pair[0], elsewhere)  # an image the job would read
    (upload_dir / "link.png").symlink_to(elsewhere)
    climbing = os.path.join(upload_dir, os.path.relpath(elsewhere, upload_dir))  # starts with the upload folder
    for path in (elsewhere, tmp_path / "server" / "absent.png", climbing, upload_dir / "link.png",
                 upload_dir, upload_dir / "absent.png", "relative.png"):
        sent = {"path": str(path)}  # as a client writes it, without Gradio's "meta"
        assert page_error(handlers.frames, sent, pair[1]) == "the first image is not a file uploaded to this app: upload it"
        assert page_error(handlers.frames, pair[0], sent) == "the second image is not a file uploaded to this app: upload it"
        assert page_error(handlers.video, {"video": sent}) == "the video is not a file uploaded to this app: upload it"
    assert not handlers.work_dir.exists()  # no job ran


def test_the_page_names_weights_files_not_the_servers_folders(pair, tmp_path, uploads, seeded_checkpoints, monkeypatch):
    """--checkpoint /srv/weights/mine.pth shows as "mine.pth" in the weights line and in messages;
    the note on the starter weights names the missing published file without the checkpoints folder."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "elsewhere"))  # the weights are not in the temporary folder
    weights = tmp_path / "srv" / "weights"
    weights.mkdir(parents=True)
    missing = Handlers(ModelCache("cpu", checkpoint=str(weights / "mine.pth")), tmp_path / "work", upload_folder=uploads)
    message = page_error(missing.frames, *pair, 1, 0, *MODEL, False)
    assert "mine.pth" in message and str(weights) not in message

    shutil.copy(seeded_checkpoints["IFRNet_S"], weights / "mine.pth")
    given = Handlers(ModelCache("cpu", checkpoint=str(weights / "mine.pth")), tmp_path / "work", upload_folder=uploads)
    assert given.frames(*pair, 1, 0, *MODEL, False)[4] == "Ran IFRNet_S with weights mine.pth"

    entry = find_published("IFRNet", "Vimeo90K")  # as if it were not downloaded: the starter weights run, with a note
    monkeypatch.setattr("models.checkpoint.find_published",
                        lambda *args: entry._replace(path="IFRNet/IFRNet_absent.pth"))
    starter = Handlers(ModelCache("cpu", offline=True), tmp_path / "work", upload_folder=uploads)
    line = starter.frames(*pair, 1, 0, "IFRNet", "Vimeo90K", "auto", "float32", "auto", False)[4]
    assert line.startswith("Ran IFRNet_S with weights IFRNet_S_starter.pth. Note: IFRNet_absent.pth not found")
    assert str(CHECKPOINT_DIR) not in line


def test_video_handler_makes_what_interpolate_video_makes(handlers, clip, tmp_path):
    output, weights = asyncio.run(handlers.video(str(clip), 2, "", 10, 18, *MODEL))
    made = read_video(Path(output))
    assert len(made.frames) == 16 and made.rate == 50
    # interpolate_video.py's conversion with the same options and weights: the same video.
    reference = tmp_path / "reference.mp4"
    convert(ConversionJob(input=clip, output=reference, factor=2, scene_threshold=10, crf=18, progress=False),
            reference_interpolator().interpolate)
    assert all(np.array_equal(a, b) for a, b in zip(made.frames, read_video(reference).frames))
    assert "IFRNet_S" in weights


async def _video_job_under_way(handlers, clip) -> "asyncio.Future":
    """A 4x video job on ``clip``, returned once it reports progress (it is writing its output)."""
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def progress(fraction, desc=None):
        if fraction > 0:
            loop.call_soon_threadsafe(started.set)

    task = asyncio.ensure_future(handlers.video(str(clip), 4, "", 10, 18, *MODEL, progress=progress))
    await asyncio.wait_for(started.wait(), SERVER_TIMEOUT)
    return task


def test_cancelled_video_job_leaves_nothing_behind(handlers, upload_dir):
    clip = write_clip(upload_dir / "long.mp4", sample_frames("bigbuckbunny", 40))
    work = outputs_folder(handlers.work_dir)

    async def run_and_cancel():
        task = await _video_job_under_way(handlers, clip)
        assert any(work.iterdir())  # the job is writing its output
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_and_cancel())
    assert list(work.iterdir()) == []  # no folder, no temporary or partial video
    assert handlers.models.lock.acquire(timeout=5)  # and the model is free for the next job
    handlers.models.lock.release()


def test_stopping_the_app_cancels_the_running_job_first(handlers, upload_dir):
    """What app.py does on Ctrl-C or SIGTERM before removing its folder: the job stops, its output goes."""
    clip = write_clip(upload_dir / "long.mp4", sample_frames("bigbuckbunny", 40))

    async def run_and_stop():
        task = await _video_job_under_way(handlers, clip)
        assert await asyncio.to_thread(handlers.stop_jobs, SERVER_TIMEOUT)
        with pytest.raises(gr.Error) as error:
            await task
        return error.value.message

    assert asyncio.run(run_and_stop()) == "the video job was cancelled"
    assert list(outputs_folder(handlers.work_dir).iterdir()) == []


@pytest.fixture
def server(handlers, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(handlers.upload_folder))  # uploads land here, not in /tmp/gradio
    port = free_loopback_port()
    app = serve(handlers, port=port, block=False)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def test_server_endpoints_driven_by_gradio_client(server, pair, clip, tmp_path):
    client = gradio_client.Client(server, verbose=False, download_files=str(tmp_path / "downloads"))
    assert {"/frames", "/video"} <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])

    job = client.submit(gradio_client.handle_file(pair[0]), gradio_client.handle_file(pair[1]), 1, 0, *MODEL, True,
                        api_name="/frames")
    frames, preview, archive, fields, weights = job.result(timeout=SERVER_TIMEOUT)
    expected = reference_interpolator().interpolate(read_image(pair[0]), read_image(pair[1]), [0.5])[0]
    assert np.array_equal(read_image(frames[0]["image"]), expected)
    assert len(fields) == 4 and Path(archive).suffix == ".zip" and Path(preview).suffix == ".gif"

    job = client.submit(gradio_client.handle_file(str(clip)), 2, "", 10, 18, *MODEL, api_name="/video")
    output, _ = job.result(timeout=SERVER_TIMEOUT)
    made = read_video(Path(output["video"] if isinstance(output, dict) else output))
    assert len(made.frames) == 16 and made.rate == 50

    # The API is held to the page's bounds: the factor slider stops at 8.
    job = client.submit(gradio_client.handle_file(str(clip)), 100, "", 10, 18, *MODEL, api_name="/video")
    with pytest.raises(Exception) as error:
        job.result(timeout=SERVER_TIMEOUT)
    assert "the factor must be a whole number from 2 to 8, got 100" in str(error.value)

    # A path the client writes itself (no "meta": Gradio passes it on unchecked) is not read.
    job = client.submit({"path": str(ROOT / "figures" / "img0.png")}, gradio_client.handle_file(pair[1]), 1, 0,
                        *MODEL, False, api_name="/frames")
    with pytest.raises(Exception) as error:
        job.result(timeout=SERVER_TIMEOUT)
    assert "the first image is not a file uploaded to this app: upload it" in str(error.value)

    # A bad input comes back as the handler's message, not a stack trace.
    job = client.submit(gradio_client.handle_file(pair[0]), gradio_client.handle_file(str(ROOT / "README.md")), 1, 0,
                        *MODEL, False, api_name="/frames")
    with pytest.raises(Exception) as error:
        job.result(timeout=SERVER_TIMEOUT)
    assert not isinstance(error.value, FutureTimeout)
    assert "cannot read image" in str(error.value) and "Traceback" not in str(error.value)


def test_server_serves_the_jobs_outputs_not_the_rest_of_the_work_folder(server, handlers, pair):
    """--work_dir may be a folder of other files: of it only the jobs' outputs can be downloaded."""
    notes = handlers.work_dir / "notes.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("private")
    frames, _, _, _, _ = handlers.frames(*pair, 1, 0, *MODEL, False)
    output = httpx.get(f"{server}gradio_api/file={frames[0][0]}", timeout=SERVER_TIMEOUT)
    assert output.status_code == 200 and output.content == Path(frames[0][0]).read_bytes()
    refused = httpx.get(f"{server}gradio_api/file={notes}", timeout=SERVER_TIMEOUT)
    assert refused.status_code == 403 and "private" not in refused.text


def test_server_cancel_stops_the_video_job_and_frees_the_model(server, handlers, pair, tmp_path):
    clip = write_clip(tmp_path / "long.mp4", sample_frames("bigbuckbunny", 40))  # (the client uploads it)
    outputs = outputs_folder(handlers.work_dir)
    client = gradio_client.Client(server, verbose=False, download_files=str(tmp_path / "downloads"))
    job = client.submit(gradio_client.handle_file(str(clip)), 4, "", 10, 18, *MODEL, api_name="/video")
    deadline = time.monotonic() + SERVER_TIMEOUT
    while not any(unit.progress for unit in (job.status().progress_data or []) if unit.progress):
        assert time.monotonic() < deadline and not job.done(), "the video job never reported progress"
        time.sleep(0.05)
    assert [p.name[:6] for p in outputs.iterdir()] == ["video-"]  # it is writing its output
    job.cancel()
    while any(outputs.iterdir()):  # the job's folder goes once the worker has stopped
        assert time.monotonic() < deadline, f"left behind: {list(outputs.rglob('*'))}"
        time.sleep(0.05)
    # The next job gets the model.
    frames = client.predict(gradio_client.handle_file(pair[0]), gradio_client.handle_file(pair[1]), 1, 0, *MODEL,
                            False, api_name="/frames")[0]
    assert read_image(frames[0]["image"]).shape == (HEIGHT, WIDTH, 3)


def test_app_without_gradio_says_how_to_install_it(run_main, monkeypatch):
    import app

    monkeypatch.setitem(sys.modules, "gradio", None)  # an import of gradio fails, as when it is not installed
    monkeypatch.delitem(sys.modules, "webapp.ui", raising=False)  # so the app imports its page afresh
    monkeypatch.setattr(sys, "argv", ["app.py"])  # the name its one-line error starts with
    port = free_loopback_port()  # the flags are checked first: the port must be one the app could serve on
    code, _, err = run_main(app.main, "--port", port)
    assert code == 2
    assert err.strip().splitlines() == ["app.py: error: the web app needs Gradio: pip install -r requirements-app.txt"]


@pytest.mark.slow  # the app's one run as a process of its own, stopped by a real SIGTERM
def test_app_on_sigterm_removes_its_folder_and_the_uploads(tmp_path):
    """SIGTERM (a service or container stop) cleans up as Ctrl-C does: the temporary folder with the
    users' uploads and results goes. Gradio's "set share=True in launch()" hint is not printed."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    env.pop("GRADIO_TEMP_DIR", None)
    port = free_loopback_port()
    app = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port), "--offline", "--device", "cpu"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = app.stdout.readline()  # printed once the server answers
        assert first_line.startswith(f"* Running on local URL:  http://127.0.0.1:{port}"), first_line + app.stderr.read()
        uploaded = httpx.post(f"http://127.0.0.1:{port}/gradio_api/upload", timeout=SERVER_TIMEOUT,
                              files={"files": ("holiday.png", Path(ROOT / "figures" / "img0.png").read_bytes())}).json()
        folder = [path for path in temp.iterdir() if path.name.startswith("ifrnet-app-")]
        assert len(folder) == 1 and Path(uploaded[0]).is_relative_to(folder[0])  # uploads are kept in the app's folder
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=SERVER_TIMEOUT)
        out, err = app.stdout.read(), app.stderr.read()  # (small: nothing else is printed)
    finally:
        app.kill()
    assert app.returncode == 128 + signal.SIGTERM and err.strip().splitlines()[-1] == "app.py: terminated"
    assert not folder[0].exists() and not Path(uploaded[0]).exists()
    printed = first_line + out
    assert SHARE_HINT in printed and "share=True" not in printed


@pytest.mark.skipif(not cpu_has_native_bfloat16(), reason="needs a CPU with native bfloat16")
def test_frames_handler_runs_the_cores_bfloat16_where_the_cpu_has_it(handlers, pair):
    """The page offers bfloat16 exactly where the core runs it natively, and a job in it is the core's bf16 frame."""
    assert "bfloat16 (CPU)" in PRECISIONS
    frames, _, _, _, _ = handlers.frames(*pair, 5, 0.5, *MODEL[:3], "bfloat16 (CPU)", "auto", False)
    expected = Interpolator(seeded_model("IFRNet_S", lean=True, precision=torch.bfloat16), "cpu").interpolate(
        read_image(pair[0]), read_image(pair[1]), [0.5])[0]
    assert np.array_equal(read_image(frames[0][0]), expected)


def test_precisions_offered_follow_the_cpu(monkeypatch):
    import importlib

    import webapp.ui

    monkeypatch.setattr("utils.precision_choice.cpu_has_native_bfloat16", lambda: False)
    try:
        assert "bfloat16 (CPU)" not in importlib.reload(webapp.ui).PRECISIONS
    finally:
        monkeypatch.undo()
        importlib.reload(webapp.ui)


def test_auto_weights_follow_the_jobs_timesteps_and_the_timesteps_mode_reaches_the_model(handlers, pair, clip, monkeypatch):
    """Frames: 1, 3 or 7 in-between frames (multiples of 1/2^k) take the Vimeo90K weights, 2 (thirds)
    the GoPro ones first; video: 2x of a 25 fps clip Vimeo90K, 60 fps GoPro first. Recorded at the
    load, which then stops the job."""
    asked = []

    def load(*args, dataset, timesteps, **kwargs):
        asked.append((dataset, timesteps))
        raise RuntimeError("recorded")

    monkeypatch.setattr(Interpolator, "load", load)
    auto = ("IFRNet_S", "auto", "auto", "float32")
    for count in (1, 2, 3, 7):
        with pytest.raises(gr.Error):
            handlers.frames(*pair, count, 0, *auto, "bisect", False)
    for factor, fps in ((2, ""), (2, "60")):
        with pytest.raises(gr.Error):
            asyncio.run(handlers.video(clip, factor, fps, 0, 18, *auto, "direct"))
    vimeo, gopro = ("Vimeo90K",), ("GoPro", "Vimeo90K")
    assert asked == [(vimeo, "bisect"), (gopro, "bisect"), (vimeo, "bisect"), (vimeo, "bisect"),
                     (vimeo, "direct"), (gopro, "direct")]
    with pytest.raises(gr.Error, match="unknown timesteps 'sideways'"):
        handlers.frames(*pair, 1, 0, *auto, "sideways", False)


def test_a_t_blind_checkpoint_is_bisected_and_the_page_says_so(pair, tmp_path, uploads, seeded_checkpoints):
    state = torch.load(seeded_checkpoints["IFRNet_S"], weights_only=True)
    state["decoder4.convblock.0.0.weight"][:, -1] = 0
    torch.save(state, tmp_path / "blind.pth")
    blind = Handlers(ModelCache("cpu", checkpoint=str(tmp_path / "blind.pth")), tmp_path / "work", upload_folder=uploads)
    frames, _, _, _, weights = blind.frames(*pair, 3, 0, *MODEL, False)
    assert "these weights ignore t" in weights and "bisection" in weights
    middle = Interpolator.load("IFRNet_S", tmp_path / "blind.pth", "cpu", timesteps="direct").interpolate(
        read_image(pair[0]), read_image(pair[1]), [0.5])[0]
    np.testing.assert_array_equal(read_image(frames[1][0]), middle)  # 1/2 is one call, as direct
    assert not np.array_equal(read_image(frames[0][0]), read_image(frames[2][0]))
