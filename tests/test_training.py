"""The training engine: schedule, batches, checkpoints, multi-process runs, exact resumption, learning."""
import errno
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from models import build_model, load_checkpoint
from tests.data_builders import make_gopro, make_vimeo_triplets
from training.batches import to_model_inputs
from training.run_checkpoints import TrainingState, capture_rng_state, load_training_checkpoint, restore_rng_state, save_training_checkpoint
from training.command_line import main as train_main
from training.command_line import parse_args
from training.recipes import GOPRO, VIMEO90K
from training.sampler import ResumableDistributedSampler
from training.schedule import cosine_lr
from training.stop import ignore_stop_signals
from datasets import Vimeo90KTriplets
from utils.cli import run_cli
from utils.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model_name", "IFRNet_S", "--crop_size", "32", "--num_workers", "0", "--device", "cpu", "--log_interval", "1"]


@pytest.fixture(autouse=True)
def one_thread():
    """In-process runs on one thread: the tests stay fast when other work shares the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def vimeo(tmp_path_factory):
    """8 train and 2 test triplets of 64x96 real frames with flow labels."""
    return make_vimeo_triplets(tmp_path_factory.mktemp("train_vimeo") / "vimeo_triplet", 8, (64, 96), with_flow=True, n_test=2)


def weights(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


# ---------------------------------------------------------------------------------------------
# pieces


def test_cosine_schedule_runs_from_start_to_end_per_iteration():
    assert cosine_lr(0, 100, 1e-4, 1e-5) == pytest.approx(1e-4)
    assert cosine_lr(50, 100, 1e-4, 1e-5) == pytest.approx(5.5e-5)
    assert cosine_lr(100, 100, 1e-4, 1e-5) == pytest.approx(1e-5)
    values = [cosine_lr(i, 100, 1e-4, 1e-5) for i in range(101)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_several_targets_per_pair_are_flattened_pair_major():
    img0, img1 = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    imgt, embt = torch.rand(2, 7, 3, 16, 16), (torch.arange(1, 8) / 8).view(1, 7, 1, 1, 1).repeat(2, 1, 1, 1, 1)
    inputs = to_model_inputs([img0, imgt, img1, torch.zeros(2, 0, 16, 16), embt], torch.device("cpu"))
    assert inputs.img0.shape == (14, 3, 16, 16) and inputs.flow is None
    assert torch.equal(inputs.img0[7:], img0[1:].expand(7, -1, -1, -1))
    assert torch.equal(inputs.imgt[9], imgt[1, 2]) and inputs.embt[9].item() == 3 / 8
    flow = torch.rand(2, 4, 16, 16)
    single = [img0, imgt[:, 0], img1, flow, embt[:, 0]]
    assert torch.equal(to_model_inputs(single, torch.device("cpu")).flow, flow)
    assert to_model_inputs(single, torch.device("cpu"), use_flow=False).flow is None


def test_sampler_skip_resumes_the_same_epoch_order():
    dataset = list(range(20))
    full = ResumableDistributedSampler(dataset, num_replicas=2, rank=1, shuffle=True, seed=5)
    full.set_epoch(3)
    order = list(full)
    resumed = ResumableDistributedSampler(dataset, num_replicas=2, rank=1, shuffle=True, seed=5)
    resumed.set_epoch(3)
    resumed.skip_samples(4)
    assert len(resumed) == 6 and list(resumed) == order[4:]
    assert list(resumed) == order  # the skip applies to one pass only


def test_checkpoint_is_weights_only_loadable_and_restores_rng(tmp_path):
    model = build_model("IFRNet_S")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0)
    model(*(torch.rand(1, 3, 32, 32) for _ in range(2)), torch.full((1, 1, 1, 1), 0.5), torch.rand(1, 3, 32, 32))[1].backward()
    optimizer.step()
    rng = capture_rng_state()
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    state = TrainingState(model=model.state_dict(), optimizer=optimizer.state_dict(), epoch=2, epoch_step=5, iteration=25,
                          iters_per_epoch=10, best_score=31.5, args={"data_root": tmp_path, "crop_size": (64, 64)}, rng=[rng])
    training_path, weights_path = save_training_checkpoint(tmp_path, "IFRNet_S", "latest", state)
    raw = torch.load(training_path, weights_only=True)  # no pickled classes: plain types and tensors only
    assert raw["iteration"] == 25 and raw["args"]["crop_size"] == [64, 64] and raw["args"]["data_root"] == str(tmp_path)
    loaded = load_training_checkpoint(training_path)
    assert (loaded.epoch, loaded.epoch_step, loaded.best_score) == (2, 5, 31.5)
    assert loaded.optimizer["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]
    restore_rng_state(loaded.rng[0])
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])
    assert [random.random() for _ in range(3)] == expected[2]
    load_checkpoint(build_model("IFRNet_S"), weights_path)  # the plain file loads where the demos load weights
    assert set(weights(weights_path)) == set(model.state_dict())
    assert load_training_checkpoint(weights_path).weights_only


def test_flags_are_checked_and_authors_flags_accepted():
    args = parse_args(VIMEO90K, ["--world_size", "4", "--local_rank", "0", "--crop_size", "256", "448"])
    assert len(args.notes) == 2 and args.crop_size == [256, 448]
    assert parse_args(VIMEO90K, ["--local-rank=1"]).local_rank == 1  # torch.distributed.launch's spelling
    defaults = parse_args(GOPRO, [])
    assert (defaults.epochs, defaults.batch_size, defaults.lr_start, defaults.lr_end) == (600, 2, 1e-4, 1e-5)
    assert parse_args(VIMEO90K, []).epochs == 300 and parse_args(VIMEO90K, []).batch_size == 6
    for bad in (["--crop_size", "100"], ["--epochs", "0"], ["--lr_start", "-1"]):
        with pytest.raises(InputError):
            parse_args(VIMEO90K, bad)


def test_a_gopro_factor_below_2_is_one_line_and_exit_2(capsys):
    """Factor 1 is a window of two frames with nothing between them to learn; 0 is no window."""
    for factor in ("0", "1"):
        with pytest.raises(SystemExit) as exited:
            run_cli(lambda argv: train_main(GOPRO, argv), ["--factor", factor, "--data_root", "nowhere"])
        assert exited.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
            f"error: --factor must be at least 2 (a window needs a frame between its first and last), got {factor}")
    assert parse_args(GOPRO, ["--factor", "2"]).factor == 2


# ---------------------------------------------------------------------------------------------
# whole runs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def _torchrun(args: list[str], monkeypatch) -> None:
    """torchrun's launcher in this process: it only starts the script's two processes and waits for
    them (they are the end-to-end run), and in this process it skips a second import of torch.
    It handles the stop signals and says so in TORCHELASTIC_SIGNALS_TO_HANDLE; both are put back."""
    from torch.distributed.run import main as torchrun

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("TORCHELASTIC_SIGNALS_TO_HANDLE", os.environ.get("TORCHELASTIC_SIGNALS_TO_HANDLE", ""))
    handlers = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        torchrun(args)  # a process that fails raises ChildFailedError, its output is in the captured stderr
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@pytest.mark.slow
def test_two_process_torchrun_on_cpu_writes_checkpoints_and_tensorboard(vimeo, tmp_path, monkeypatch):
    log_path = tmp_path / "run"
    monkeypatch.chdir(ROOT)
    _torchrun([
        "--nproc_per_node=2", "--nnodes=1", f"--rdzv_endpoint=127.0.0.1:{_free_port()}", "--rdzv_backend=c10d",
        str(ROOT / "train_vimeo90k.py"), "--data_root", str(vimeo), "--batch_size", "2", "--epochs", "2",
        "--max_steps", "3", "--log_path", str(log_path), *TINY,
    ], monkeypatch)
    # 8 triplets over 2 processes with batch 2: 2 iterations per epoch; 3 steps cross one epoch end.
    latest = weights(log_path / "checkpoint_latest.pth")
    assert (latest["iteration"], latest["epoch"], latest["epoch_step"], latest["iters_per_epoch"]) == (3, 1, 1, 2)
    assert len(latest["rng"]) == 2 and not torch.equal(latest["rng"][0]["torch"], latest["rng"][1]["torch"])
    assert weights(log_path / "checkpoint_best.pth")["iteration"] == 2
    load_checkpoint(build_model("IFRNet_S"), log_path / "IFRNet_S_latest.pth")
    load_checkpoint(build_model("IFRNet_S"), log_path / "IFRNet_S_best.pth")
    log = (log_path / "train.log").read_text()
    assert "on 2 process(es)" in log and "eval epoch 1/2: PSNR" in log

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_path / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_rec", "train/loss_geo", "train/loss_dis", "train/lr", "eval/psnr", "eval/ssim"} <= scalars
    assert events.Tags()["images"]
    assert [e.step for e in events.Scalars("train/lr")] == [1, 2, 3]


def test_resume_continues_at_the_saved_iteration_and_learning_rate_exactly(vimeo, tmp_path):
    """Stopped in the middle of the first of two epochs (8 triplets, batch 4: 2 iterations each), the
    resumed run finishes that epoch and crosses into the next as the straight run did."""
    common = ["--data_root", str(vimeo), "--batch_size", "4", "--epochs", "2", "--eval_interval", "0", *TINY]
    train_main(VIMEO90K, [*common, "--log_path", str(tmp_path / "straight")])
    train_main(VIMEO90K, [*common, "--log_path", str(tmp_path / "interrupted"), "--max_steps", "1"])
    stopped = weights(tmp_path / "interrupted" / "checkpoint_latest.pth")
    assert (stopped["iteration"], stopped["epoch"], stopped["epoch_step"]) == (1, 0, 1)
    # only --resume: width, crop, schedule, data and logging come from the run's saved flags
    train_main(VIMEO90K, ["--resume", str(tmp_path / "interrupted" / "checkpoint_latest.pth"), "--num_workers", "0", "--device", "cpu"])

    log = (tmp_path / "interrupted" / "train.log").read_text()
    assert "flags taken from the resumed run: " in log and "--model_name IFRNet_S" in log and "--crop_size 32" in log
    assert f"resumed at epoch 1, iteration 1, lr {cosine_lr(1, 4, 1e-4, 1e-5):.4e}" in log
    lines = {int(m.group(1)): m.group(0) for m in re.finditer(r"iter (\d+)/4 lr \S+ loss \S+", log)}
    straight = {int(m.group(1)): m.group(0) for m in re.finditer(r"iter (\d+)/4 lr \S+ loss \S+", (tmp_path / "straight" / "train.log").read_text())}
    assert sorted(lines) == list(range(1, 5)) and lines == straight  # same lr and loss at every iteration
    a, b = weights(tmp_path / "straight" / "IFRNet_S_latest.pth"), weights(tmp_path / "interrupted" / "IFRNet_S_latest.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_from_plain_weights_starts_a_new_schedule_from_those_weights(vimeo, tmp_path, seeded_checkpoints):
    """How the starter's stage 2 continues from stage 1's IFRNet_S_latest.pth (docs/checkpoints.md, model card)."""
    start = weights(seeded_checkpoints["IFRNet_S"])
    train_main(VIMEO90K, ["--data_root", str(vimeo), "--batch_size", "2", "--epochs", "1", "--eval_interval", "0",
                          "--lr_start", "1e-3", "--lr_end", "1e-3", "--max_steps", "1", "--resume", str(seeded_checkpoints["IFRNet_S"]),
                          "--log_path", str(tmp_path / "run"), *TINY])

    log = (tmp_path / "run" / "train.log").read_text()
    assert "holds weights only; training starts at iteration 0 from them" in log
    assert "iter 1/4 lr 1.0000e-03" in log  # the new schedule's first learning rate, not a resumed one
    assert weights(tmp_path / "run" / "checkpoint_latest.pth")["iteration"] == 1
    after = weights(tmp_path / "run" / "IFRNet_S_latest.pth")
    # One AdamW step of lr 1e-3 moves each weight by about 1e-3: the run started from the file,
    # not from a fresh initialisation (which differs from it by ~0.1).
    moved = max(float((after[k].float() - start[k].float()).abs().max()) for k in start)
    assert 0 < moved < 5e-3, moved


def test_a_dozen_steps_lower_the_reconstruction_loss(tmp_path):
    """Learning at all, not its pace: 32x48 frames learn as 64x96 ones do (0.24 and 0.30 of the loss after 12 steps).
    Twelve triplets in two epochs rather than four in six: the same 12 steps, 0.24 of the loss too,
    with a checkpoint written at the end of 2 epochs instead of 6."""
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 12, (32, 48), n_test=1)
    fixed = [torch.stack(column) for column in zip(*Vimeo90KTriplets(root, "train", augment=False))]

    def reconstruction_loss(model) -> float:
        with torch.no_grad():
            return float(model(fixed[0], fixed[2], fixed[4], fixed[1])[1])

    torch.manual_seed(1234)  # the engine seeds the initial weights with --seed (default 1234)
    before = reconstruction_loss(build_model("IFRNet_S"))
    train_main(VIMEO90K, ["--data_root", str(root), "--batch_size", "2", "--epochs", "2", "--eval_interval", "0",
                          "--flow_loss", "off", "--lr_start", "1e-3", "--lr_end", "1e-4", "--log_path", str(tmp_path / "run"),
                          "--model_name", "IFRNet_S", "--crop_size", "32", "48", "--num_workers", "0", "--device", "cpu"])
    model = build_model("IFRNet_S")
    load_checkpoint(model, tmp_path / "run" / "IFRNet_S_latest.pth")
    after = reconstruction_loss(model)
    assert after < 0.5 * before, (before, after)


def test_gopro_training_runs_all_seven_targets(tmp_path):
    root = make_gopro(tmp_path / "GOPRO", train_videos=1, test_videos=1, frames_per_video=9, size=(64, 96))
    train_main(GOPRO, ["--data_root", str(root), "--batch_size", "1", "--epochs", "1", "--eval_crop_size", "64", "96",
                       "--eval_interval", "1", "--log_path", str(tmp_path / "run"), *TINY])
    log = (tmp_path / "run" / "train.log").read_text()
    assert "over 7 frames" in log and "flow loss off" in log


def test_missing_flow_labels_are_a_one_line_error_naming_the_fix(tmp_path, train_cli):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 2, (64, 96), with_flow=False, n_test=1)
    code, _, err = train_cli("--data_root", root, *TINY, "--log_path", tmp_path / "run")
    assert code == 2
    message = err.strip()
    assert len(message.splitlines()) == 1 and "flow_t0.flo" in message
    assert "generate_flow.py" in message and "--flow_loss off" in message


# ---------------------------------------------------------------------------------------------
# the run folder, flags and stopping


@pytest.fixture
def train_cli(run_main, monkeypatch):
    """train_vimeo90k.py's main in-process, through run_cli as its ``__main__`` runs it: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [str(ROOT / "train_vimeo90k.py")])  # the program name of its error lines
    return lambda *args: run_main(lambda argv: train_main(VIMEO90K, argv), *args)


def _a_loader_worker() -> None:
    ignore_stop_signals()
    while True:
        time.sleep(0.05)


@pytest.mark.skipif(not hasattr(signal, "sigwaitinfo"), reason="the sender of a signal is known only with sigwaitinfo")
def test_a_loader_worker_ignores_a_schedulers_sigterm_and_ends_on_its_parents():
    """A SIGTERM from another process (a scheduler, kill) leaves the worker to the training
    process's clean stop; the parent's own (its exit ends its workers) ends it at once."""
    import multiprocessing

    worker = multiprocessing.get_context("fork").Process(target=_a_loader_worker, daemon=True)
    worker.start()
    try:
        time.sleep(0.3)  # the worker has set itself up
        subprocess.run(["kill", "-TERM", str(worker.pid)], check=True)
        time.sleep(0.3)
        assert worker.is_alive()
        worker.terminate()  # SIGTERM from the parent
        worker.join(5)
        assert not worker.is_alive() and worker.exitcode == 0
    finally:
        worker.kill()


def _train_script(args, timeout=120):
    """train_vimeo90k.py as its own process: what a hang on exit needs, since only a real process exits."""
    return subprocess.run([sys.executable, str(ROOT / "train_vimeo90k.py"), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_a_bad_frame_read_by_a_loader_worker_ends_the_run_with_exit_2_not_a_wait_for_ever(tmp_path):
    """With --num_workers > 0 (the default is 4) the frame is read in a worker process: the run ends
    with the worker's one line and exit 2 within seconds, its workers ended, rather than printing
    the line and waiting for workers that ignore every SIGTERM. Every training frame is cut short
    after its header, so the start-up check (headers) passes and the first batch fails."""
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 2, (64, 96), n_test=1)
    for frame in (root / "sequences" / "00001").rglob("im1.png"):
        frame.write_bytes(frame.read_bytes()[:200])
    flags = [flag if flag != "0" else "2" for flag in TINY]  # --num_workers 2
    assert flags[flags.index("--num_workers") + 1] == "2"
    started = time.monotonic()
    result = _train_script(["--data_root", str(root), *flags, "--flow_loss", "off", "--batch_size", "1",
                            "--log_path", str(tmp_path / "run")], timeout=60)
    assert result.returncode == 2, result.stderr
    assert re.search(r"train_vimeo90k\.py: error: cannot read image .*im1\.png: image file is truncated",
                     result.stderr.strip().splitlines()[-1]), result.stderr
    assert time.monotonic() - started < 45


def test_log_path_on_a_file_or_under_a_file_is_one_line_before_any_data_is_read(tmp_path, train_cli):
    existing = tmp_path / "notes.txt"
    existing.write_text("not a folder")
    missing_data = tmp_path / "no_dataset_here"  # a data error would show if the data were read first
    for log_path, expected in ((existing, "is a file, not a folder"), (existing / "run", "cannot be created")):
        code, _, err = train_cli("--data_root", missing_data, "--log_path", log_path, *TINY)
        assert code == 2, err
        message = err.strip()
        assert len(message.splitlines()) == 1 and expected in message and str(existing) in message
    assert existing.read_text() == "not a folder"


def test_unwritable_log_path_is_refused_before_any_data_is_read(tmp_path, monkeypatch):
    """Tests run as root, for whom chmod does not make a folder read-only: the permission probe is
    replaced instead, as a read-only filesystem or another user's folder would answer it."""
    import utils.output_checks  # where the run folder's writability is checked

    read_only = tmp_path / "read_only"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(utils.output_checks.os, "access", lambda path, mode: False if Path(path) == read_only else real_access(path, mode))
    with pytest.raises(InputError, match=r"--log_path .*read_only is not writable"):
        train_main(VIMEO90K, ["--data_root", str(tmp_path / "no_dataset_here"), "--log_path", str(read_only), *TINY])


def test_non_finite_learning_rates_are_one_line_errors(train_cli):
    for flag in ("--lr_start", "--lr_end"):
        for value in ("inf", "nan", "-1"):
            with pytest.raises(InputError, match=f"{flag} must be a positive finite number"):
                parse_args(VIMEO90K, [flag, value])
    code, _, err = train_cli("--lr_start", "inf", "--data_root", "nowhere")
    assert code == 2 and err.strip().splitlines() == [
        "train_vimeo90k.py: error: --lr_start must be a positive finite number, got inf"]


def test_a_new_run_into_a_folder_with_checkpoints_is_refused_unless_resume_or_overwrite(vimeo, tmp_path):
    common = ["--data_root", str(vimeo), "--batch_size", "2", "--epochs", "1", "--eval_interval", "0", *TINY]
    run = tmp_path / "run"
    train_main(VIMEO90K, [*common, "--log_path", str(run), "--max_steps", "1"])
    before = (run / "checkpoint_latest.pth").read_bytes()
    with pytest.raises(InputError) as refused:
        train_main(VIMEO90K, [*common, "--log_path", str(run), "--max_steps", "1"])
    message = str(refused.value)
    assert str(run) in message and "--resume" in message and "--overwrite" in message and "\n" not in message
    assert (run / "checkpoint_latest.pth").read_bytes() == before  # the earlier run is untouched
    train_main(VIMEO90K, ["--resume", str(run / "checkpoint_latest.pth"), "--max_steps", "1", "--num_workers", "0", "--device", "cpu"])
    assert weights(run / "checkpoint_latest.pth")["iteration"] == 2
    train_main(VIMEO90K, [*common, "--log_path", str(run), "--max_steps", "1", "--overwrite"])
    assert weights(run / "checkpoint_latest.pth")["iteration"] == 1
    assert "--overwrite: this run replaces the earlier run's checkpoint_latest.pth" in (run / "train.log").read_text()


def _sigterm_at_call(monkeypatch, module, number: int) -> list:
    """``module.to_model_inputs`` sends this process a real SIGTERM at its ``number``-th call; the
    returned list grows by one at each call (how many batches were taken)."""
    real_inputs = module.to_model_inputs
    calls = []

    def counted(batch, *args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_inputs(batch, *args, **kwargs)

    monkeypatch.setattr(module, "to_model_inputs", counted)
    return calls


def test_sigterm_saves_latest_and_leaves_no_temporaries_and_stale_ones_go_at_the_next_start(vimeo, tmp_path, monkeypatch,
                                                                                             train_cli):
    """A real SIGTERM to this process in the third step, with a loader worker running (in-process: the
    handler runs in the main thread, which is the test's; torchrun's test runs the script as a process)."""
    import training.engine as engine

    real_inputs = engine.to_model_inputs
    steps = _sigterm_at_call(monkeypatch, engine, 3)
    run = tmp_path / "run"
    handler = signal.signal(signal.SIGTERM, lambda *_: pytest.fail("training left SIGTERM to the test's handler"))
    try:
        code, _, stderr = train_cli("--data_root", vimeo, "--batch_size", "1", "--epochs", "50", "--eval_interval", "0",
                                    "--save_interval", "0", "--log_path", run, *TINY, "--num_workers", "1")
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert code == 128 + signal.SIGTERM, stderr
    last = stderr.strip().splitlines()[-1]
    assert "stopped by SIGTERM at iteration" in last and "--resume" in last
    latest = weights(run / "checkpoint_latest.pth")
    assert latest["iteration"] >= 2 and f"at iteration {latest['iteration']};" in last
    assert len(steps) < 8  # stopped within the first of 50 epochs of 8 steps
    load_checkpoint(build_model("IFRNet_S"), run / "IFRNet_S_latest.pth")
    assert not [p.name for p in run.iterdir() if ".tmp" in p.name]

    monkeypatch.setattr(engine, "to_model_inputs", real_inputs)
    stale = run / ".checkpoint_latest.0123456789abcdef0123456789abcdef.tmp.pth"  # what a SIGKILL mid-save leaves
    stale.write_bytes(b"partial")
    unrelated = run / ".notes.tmp.pth"  # not atomic_writer's naming: kept
    unrelated.write_bytes(b"x")
    train_main(VIMEO90K, ["--resume", str(run / "checkpoint_latest.pth"), "--max_steps", "1", "--num_workers", "0", "--device", "cpu"])
    assert not stale.exists() and unrelated.exists()
    assert "removed 1 partial file(s) of an interrupted save: " + stale.name in (run / "train.log").read_text()
    assert weights(run / "checkpoint_latest.pth")["iteration"] == latest["iteration"] + 1


# ---------------------------------------------------------------------------------------------
# several machines: resuming without a shared filesystem, every rank stopping together


def _a_node(rank: int, port: int, nodes: list[str]) -> None:
    """Rank ``rank`` of two, each alone on its node, as torchrun's agent starts it there: the launcher's
    environment and the node's own working folder."""
    os.chdir(nodes[rank])
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1", GROUP_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    train_main(VIMEO90K, ["--resume", "run/checkpoint_latest.pth", "--max_steps", "1", "--num_workers", "0", "--device", "cpu"])


@pytest.mark.slow
def test_two_nodes_without_a_shared_filesystem_resume_from_node_0s_checkpoint(vimeo, tmp_path):
    """Two processes with separate working folders: only node 0 has the checkpoint. (Forked from this
    one, without torchrun's agents: the torchrun test starts the script through the launcher.)"""
    import torch.multiprocessing as mp

    nodes = [tmp_path / "node0", tmp_path / "node1"]
    for folder in nodes:
        folder.mkdir()
    common = ["--data_root", str(vimeo), "--batch_size", "2", "--epochs", "2", "--eval_interval", "0", *TINY]
    train_main(VIMEO90K, [*common, "--log_path", str(nodes[0] / "run"), "--max_steps", "4"])  # one epoch of 4 steps
    assert weights(nodes[0] / "run" / "checkpoint_latest.pth")["iteration"] == 4

    mp.start_processes(_a_node, args=(_free_port(), [str(folder) for folder in nodes]), nprocs=2, join=True,
                       start_method="fork")
    log = (nodes[0] / "run" / "train.log").read_text()
    assert "on 2 process(es)" in log and "resumed at epoch 2, iteration 4" in log
    assert weights(nodes[0] / "run" / "checkpoint_latest.pth")["iteration"] == 5
    assert not (nodes[1] / "run").exists()  # rank 1 wrote nothing on its own disk


def _share_a_diverging_step(rank: int, port: int, folder: str) -> None:
    """One rank of a two-process gloo group: rank 1's loss is inf, rank 0's is finite."""
    import torch.distributed as dist

    from training.step_sync import share_step
    from training.distributed import DistributedContext

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    context = DistributedContext(rank, 2, rank, torch.device("cpu"), initialized=True)
    loss = torch.tensor(float("inf") if rank == 1 else 0.5)
    try:
        outcome = repr(share_step(context, (loss, loss * 0, loss * 0), stop_requested=False, iteration=7,
                                  overflow_left_to_scaler=False))
    except InputError as error:
        outcome = f"{type(error).__name__}: {error}"
    Path(folder, f"rank{rank}.txt").write_text(outcome)
    context.close()


@pytest.mark.slow
def test_a_non_finite_loss_on_one_rank_stops_every_rank_with_the_same_line(tmp_path):
    import torch.multiprocessing as mp

    mp.start_processes(_share_a_diverging_step, args=(_free_port(), str(tmp_path)), nprocs=2, join=True, start_method="fork")
    outcomes = [(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)]
    assert outcomes[0] == outcomes[1] and "\n" not in outcomes[0]
    assert outcomes[0].startswith("TrainingDiverged: the loss became NaN or infinite at iteration 7 on 1 of 2 processes")


def test_shared_step_averages_losses_and_leaves_overflow_to_the_scaler():
    from training.step_sync import share_step
    from training.distributed import DistributedContext

    single = DistributedContext()
    shared = share_step(single, (torch.tensor(0.5), torch.tensor(0.25), torch.tensor(0.0)), stop_requested=True,
                        iteration=0, overflow_left_to_scaler=False)
    assert shared.losses == {"loss_rec": 0.5, "loss_geo": 0.25, "loss_dis": 0.0} and shared.stop
    inf = torch.tensor(float("inf"))
    assert not share_step(single, (inf, inf, inf), stop_requested=False, iteration=0, overflow_left_to_scaler=True).stop
    with pytest.raises(InputError, match="at iteration 3; lower --lr_start"):
        share_step(single, (inf, inf, inf), stop_requested=False, iteration=3, overflow_left_to_scaler=False)


class _ReturnsFirstFrame(torch.nn.Module):
    """A stand-in model whose prediction is img0: exact wherever the target equals img0."""

    def inference(self, img0, img1, embt, scale_factor=1.0):
        return img0.clone()


def _eval_items(count):
    """Vimeo-like items (img0, imgt, img1, flow, embt); item 1's target is its img0 (predicted exactly)."""
    generator = torch.Generator().manual_seed(0)
    items = []
    for index in range(count):
        img0, imgt, img1 = (torch.rand(3, 16, 16, generator=generator) for _ in range(3))
        items.append((img0, img0.clone() if index == 1 else imgt, img1, torch.zeros(0, 16, 16), torch.full((1, 1, 1), 0.5)))
    return items


def _expected_psnrs(items):
    return [(-10 * torch.log10(((img0 - imgt) ** 2).mean())).item() for img0, imgt, *_ in items]


def test_training_evaluation_leaves_exact_frames_out_of_the_psnr_mean():
    """Exact frames are counted apart: in the mean, one would make the epoch's PSNR inf and ``best`` would never update again."""
    from training.evaluate import evaluate_epoch
    from training.distributed import DistributedContext

    items = _eval_items(4)
    result = evaluate_epoch(_ReturnsFirstFrame(), items, DistributedContext(), batch_size=2, sample_count=0)
    finite = [value for value in _expected_psnrs(items) if value != float("inf")]
    assert (result.count, result.exact_frames, len(finite)) == (4, 1, 3)
    assert result.psnr == pytest.approx(np.mean(finite), rel=1e-9)  # float64 sums of the same float32 values
    everything_exact = [(img0, img0, img1, flow, embt) for img0, _, img1, flow, embt in items]
    assert evaluate_epoch(_ReturnsFirstFrame(), everything_exact, DistributedContext(), sample_count=0).psnr == float("inf")


def _evaluate_one_shard(rank: int, port: int, folder: str) -> None:
    import json

    import torch.distributed as dist

    from training.evaluate import evaluate_epoch
    from training.distributed import DistributedContext

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    context = DistributedContext(rank, 2, rank, torch.device("cpu"), initialized=True)
    result = evaluate_epoch(_ReturnsFirstFrame(), _eval_items(5), context, sample_count=0)
    Path(folder, f"rank{rank}.json").write_text(json.dumps([result.psnr, result.ssim, result.count, result.exact_frames]))
    context.close()


@pytest.mark.slow
def test_sharded_training_evaluation_equals_one_process_with_an_exact_frame(tmp_path):
    import json

    import torch.multiprocessing as mp

    from training.evaluate import evaluate_epoch
    from training.distributed import DistributedContext

    mp.start_processes(_evaluate_one_shard, args=(_free_port(), str(tmp_path)), nprocs=2, join=True, start_method="fork")
    results = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    single = evaluate_epoch(_ReturnsFirstFrame(), _eval_items(5), DistributedContext(), sample_count=0)
    assert results[0] == results[1]
    psnr, ssim, count, exact = results[0]
    assert (count, exact) == (5, 1) and psnr == pytest.approx(single.psnr, rel=1e-12) and ssim == pytest.approx(single.ssim, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# a full disk, another recipe's checkpoint, a signal or NaN during evaluation


def _small_state(**extra):
    model = torch.nn.Linear(2, 2)  # the file format, not the network, is under test
    return TrainingState(model=model.state_dict(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1).state_dict(),
                         iteration=3, iters_per_epoch=4, best_score=30.0, args={"model_name": "IFRNet_S"}, **extra)


@pytest.mark.parametrize("failing", ["weights", "checkpoint"])
@pytest.mark.parametrize("error", ["enospc", "inline_container"])
def test_a_full_disk_keeps_the_previous_best_pair_and_is_one_line(tmp_path, monkeypatch, failing, error):
    import training.run_checkpoints as run_checkpoints

    first = save_training_checkpoint(tmp_path, "IFRNet_S", "best", _small_state())
    before = {path.name: path.read_bytes() for path in first}
    real_save = torch.save
    failing_path = first[1] if failing == "weights" else first[0]

    def save_until_full(obj, handle, *args, **kwargs):
        is_weights = "format" not in obj
        if is_weights == (failing == "weights"):
            handle.write(b"partial")  # some bytes reach the disk before it fills up
            if error == "enospc":
                raise OSError(errno.ENOSPC, "No space left on device")
            raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    monkeypatch.setattr(run_checkpoints.shutil, "disk_usage", lambda _path: SimpleNamespace(total=2**30, used=2**30 - 4096, free=4096))
    with pytest.raises(InputError) as info:
        save_training_checkpoint(tmp_path, "IFRNet_S", "best", _small_state(epoch=1))
    message = str(info.value)
    assert "\n" not in message and str(failing_path) in message and "no space left on device" in message
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before  # the old pair, whole; no partial file


def test_a_failed_first_best_leaves_neither_file(tmp_path, monkeypatch):
    real_save = torch.save

    def full_on_the_second_file(obj, handle, *args, **kwargs):
        if "format" in obj:  # the weights file was written; the checkpoint does not fit
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_on_the_second_file)
    with pytest.raises(InputError, match=r"^cannot write .*checkpoint_best\.pth: no space left on device$"):
        save_training_checkpoint(tmp_path, "IFRNet_S", "best", _small_state())
    assert list(tmp_path.iterdir()) == []


def test_resuming_another_recipes_checkpoint_is_one_line_and_its_weights_file_still_starts_a_schedule(tmp_path):
    training_path, weights_path = save_training_checkpoint(tmp_path, "IFRNet_S", "latest", _small_state(recipe="vimeo90k"))
    assert load_training_checkpoint(training_path).recipe == "vimeo90k"
    with pytest.raises(InputError) as info:
        train_main(GOPRO, ["--resume", str(training_path), "--data_root", str(tmp_path / "missing"), *TINY])
    message = str(info.value)
    assert "\n" not in message and "a checkpoint of a vimeo90k run, not gopro" in message
    assert "train_vimeo90k.py" in message and f"--resume {weights_path}" in message
    # a checkpoint from before the recipe was recorded is recognised by the flag only its recipe saves
    older = _small_state(recipe=None)
    older.args["eval_crop_size"] = [512]
    old_path, _ = save_training_checkpoint(tmp_path / "old", "IFRNet_S", "latest", older)
    assert load_training_checkpoint(old_path).recipe == "gopro"
    with pytest.raises(InputError, match="a checkpoint of a gopro run, not vimeo90k"):
        train_main(VIMEO90K, ["--resume", str(old_path), *TINY])
    from training.run_checkpoints import check_recipe

    check_recipe(load_training_checkpoint(weights_path), "gopro", weights_path)  # plain weights: any recipe


def test_sigterm_during_evaluation_stops_at_the_next_batch_and_resume_evaluates_again(vimeo, tmp_path, monkeypatch, capsys):
    """The signal arrives in the first evaluation batch; the second is never predicted (in-process: the
    handler runs in the main thread, which is the test's)."""
    import training.evaluate as training_evaluate

    real_inputs = training_evaluate.to_model_inputs
    predicted = _sigterm_at_call(monkeypatch, training_evaluate, 1)
    run = tmp_path / "run"
    common = ["--data_root", str(vimeo), "--batch_size", "2", "--epochs", "2", "--eval_interval", "1", "--eval_batch_size", "1"]
    with pytest.raises(SystemExit) as stopped:
        train_main(VIMEO90K, [*common, "--log_path", str(run), *TINY])
    assert stopped.value.code == 128 + signal.SIGTERM
    assert len(predicted) == 1  # of 2 test triplets: the evaluation did not run to its end
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "stopped by SIGTERM at iteration 4" in last and "--resume" in last
    log = (run / "train.log").read_text()
    assert "evaluation of epoch 1 stopped by a signal" in log and "PSNR" not in log
    latest = weights(run / "checkpoint_latest.pth")
    assert (latest["epoch"], latest["epoch_step"], latest["iteration"]) == (0, 4, 4)  # the epoch's end, before its evaluation
    assert not (run / "checkpoint_best.pth").exists()

    monkeypatch.setattr(training_evaluate, "to_model_inputs", real_inputs)
    train_main(VIMEO90K, ["--resume", str(run / "checkpoint_latest.pth"), "--max_steps", "1", "--num_workers", "0", "--device", "cpu"])
    log = (run / "train.log").read_text()
    assert re.search(r"eval epoch 1/2: PSNR \d+\.\d+ dB", log)  # the interrupted evaluation, run on resume
    assert weights(run / "checkpoint_best.pth")["epoch"] == 1 and weights(run / "checkpoint_latest.pth")["iteration"] == 5


def test_a_non_finite_prediction_in_evaluation_stops_training_with_one_line(vimeo, tmp_path, monkeypatch):
    from models.network import IFRNet

    real_inference = IFRNet.inference

    def nan_inference(self, *args, **kwargs):
        return real_inference(self, *args, **kwargs) * float("nan")  # finite weights, NaN prediction

    monkeypatch.setattr(IFRNet, "inference", nan_inference)
    run = tmp_path / "run"
    with pytest.raises(InputError) as info:
        train_main(VIMEO90K, ["--data_root", str(vimeo), "--batch_size", "2", "--epochs", "2", "--eval_interval", "1",
                              "--log_path", str(run), *TINY])
    message = str(info.value)
    assert "\n" not in message and "prediction is not finite" in message and "--lr_start" in message
    log = (run / "train.log").read_text()
    assert "PSNR nan" not in log and "iter 5/" not in log  # training did not go on into epoch 2
    assert not (run / "checkpoint_best.pth").exists() and not (run / "checkpoint_latest.pth").exists()


def test_a_torch_write_failure_with_space_left_is_one_line_and_not_called_a_full_disk(tmp_path, monkeypatch):
    import training.run_checkpoints as run_checkpoints

    def failing_save(obj, handle, *args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file data/0\nmore")

    monkeypatch.setattr(torch, "save", failing_save)
    monkeypatch.setattr(run_checkpoints.shutil, "disk_usage", lambda _path: SimpleNamespace(total=2**40, used=0, free=2**40))
    with pytest.raises(InputError) as info:
        save_training_checkpoint(tmp_path, "IFRNet_S", "latest", _small_state())
    message = str(info.value)
    assert "\n" not in message and "IFRNet_S_latest.pth: torch could not write it" in message and "no space" not in message
    assert list(tmp_path.iterdir()) == []
