import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.network import MODEL_NAMES  # noqa: E402
from tests.seeded import seeded_model  # noqa: E402

# pytest.ini runs the suite on every core with pytest-xdist: each worker process gets its share of
# the cores as torch threads (torch's default is every core, so two workers on two cores would
# each spin two threads), and the scripts the tests start inherit the same share.
if os.environ.get("PYTEST_XDIST_WORKER"):
    _threads = max(1, len(os.sched_getaffinity(0)) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    torch.set_num_threads(_threads)
    os.environ["OMP_NUM_THREADS"] = str(_threads)

# The suite never reaches the internet: every tool runs (and every subprocess inherits) offline;
# the download tests serve files from a loopback server and lift this themselves.
os.environ["IFRNET_OFFLINE"] = "1"
os.environ.pop("IFRNET_CHECKPOINT_URLS", None)


# Files whose tests decode the starter set's clips (datasets.starter_data.clips decodes each clip once
# per process, 7 s for Big Buck Bunny): they run in one xdist worker, which decodes each clip once.
SAME_WORKER_FILES = {
    name: "tests decoding the starter clips"
    for name in ("test_starter_checkpoint.py", "test_starter_data.py", "test_starter_eval.py", "test_timesteps.py")
}


def pytest_xdist_make_scheduler(config, log):
    """pytest.ini's --dist loadfile (each file's tests in one worker, in order), with the files of
    SAME_WORKER_FILES sent to one worker together."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedCostScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return SAME_WORKER_FILES.get(Path(file).name, file)

    return SharedCostScheduling(config, log)


@pytest.fixture(scope="session")
def seeded_checkpoints(tmp_path_factory):
    """Plain state_dict files of seeded weights for every variant: {name: path}."""
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for name in MODEL_NAMES:
        paths[name] = folder / f"{name}_seeded.pth"
        torch.save(seeded_model(name).state_dict(), paths[name])
    return paths


@pytest.fixture
def run_main(capsys):
    """Call a script's ``main`` in-process through ``utils.cli.run_cli``, as its ``__main__`` does:
    ``run_main(module.main, *args)`` -> (exit code, stdout, stderr). No subprocess, no second
    torch import; arguments are passed through ``str``."""
    from utils.cli import run_cli

    def call(main, *args):
        code = 0
        try:
            run_cli(main, [str(arg) for arg in args])
        except SystemExit as exit_info:
            code = exit_info.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


@pytest.fixture
def video_tool(run_main, seeded_checkpoints, monkeypatch):
    """``interpolate_video.main`` in-process on one thread with seeded IFRNet_S weights:
    ``video_tool(*flags)`` -> (exit code, stdout, stderr); ``video_tool.loads`` counts the model loads."""
    import interpolate_video
    from models.interpolator import Interpolator

    real = Interpolator.load

    def load(*args, **kwargs):
        call.loads += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(Interpolator, "load", load)
    threads = torch.get_num_threads()

    def call(*args):
        try:
            return run_main(interpolate_video.main, *args, "--model_name", "IFRNet_S", "--checkpoint",
                            seeded_checkpoints["IFRNet_S"], "--device", "cpu", "--no_progress", "--threads", 1)
        finally:
            torch.set_num_threads(threads)  # --threads is process-wide: the other tests keep theirs

    call.loads = 0
    return call


@pytest.fixture
def http_server():
    """A file server on 127.0.0.1 for the download tests (``http_server.files[path] = bytes``)."""
    from tests.http_server import LoopbackServer

    with LoopbackServer() as running:
        yield running


@pytest.fixture
def online(monkeypatch):
    """Lift the suite-wide IFRNET_OFFLINE for this test; returns a setter for IFRNET_CHECKPOINT_URLS."""
    monkeypatch.delenv("IFRNET_OFFLINE", raising=False)
    return lambda *urls: monkeypatch.setenv("IFRNET_CHECKPOINT_URLS", ",".join(urls))
