"""The training engine: schedule, batches, checkpoints, multi-process runs, exact resumption, learning."""
import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models import build_model, load_checkpoint
from tests.data_builders import make_gopro, make_vimeo_triplets
from training.batches import to_model_inputs
from training.checkpoint import TrainingState, capture_rng_state, load_training_checkpoint, restore_rng_state, save_training_checkpoint
from training.cli import main as train_main
from training.cli import parse_args
from training.recipes import GOPRO, VIMEO90K
from training.sampler import ResumableDistributedSampler
from training.schedule import cosine_lr
from datasets import Vimeo90KTriplets
from utils.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model_name", "IFRNet_S", "--crop_size", "64", "--num_workers", "0", "--device", "cpu", "--log_interval", "1"]


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


# ---------------------------------------------------------------------------------------------
# whole runs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_torchrun_on_cpu_writes_checkpoints_and_tensorboard(vimeo, tmp_path):
    log_path = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
        f"--rdzv_endpoint=127.0.0.1:{_free_port()}", "--rdzv_backend=c10d",
        str(ROOT / "train_vimeo90k.py"), "--data_root", str(vimeo), "--batch_size", "2", "--epochs", "2",
        "--max_steps", "3", "--log_path", str(log_path), *TINY,
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
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
    common = ["--data_root", str(vimeo), "--batch_size", "2", "--epochs", "2", "--eval_interval", "0", *TINY]
    train_main(VIMEO90K, [*common, "--log_path", str(tmp_path / "straight")])
    train_main(VIMEO90K, [*common, "--log_path", str(tmp_path / "interrupted"), "--max_steps", "3"])
    stopped = weights(tmp_path / "interrupted" / "checkpoint_latest.pth")
    assert (stopped["iteration"], stopped["epoch"], stopped["epoch_step"]) == (3, 0, 3)
    # only --resume: width, crop, schedule, data and logging come from the run's saved flags
    train_main(VIMEO90K, ["--resume", str(tmp_path / "interrupted" / "checkpoint_latest.pth"), "--num_workers", "0", "--device", "cpu"])

    log = (tmp_path / "interrupted" / "train.log").read_text()
    assert "flags taken from the resumed run: " in log and "--model_name IFRNet_S" in log and "--crop_size 64" in log
    assert f"resumed at epoch 1, iteration 3, lr {cosine_lr(3, 8, 1e-4, 1e-5):.4e}" in log
    lines = {int(m.group(1)): m.group(0) for m in re.finditer(r"iter (\d+)/8 lr \S+ loss \S+", log)}
    straight = {int(m.group(1)): m.group(0) for m in re.finditer(r"iter (\d+)/8 lr \S+ loss \S+", (tmp_path / "straight" / "train.log").read_text())}
    assert sorted(lines) == list(range(1, 9)) and lines == straight  # same lr and loss at every iteration
    a, b = weights(tmp_path / "straight" / "IFRNet_S_latest.pth"), weights(tmp_path / "interrupted" / "IFRNet_S_latest.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_from_plain_weights_starts_a_new_schedule_from_those_weights(vimeo, tmp_path, seeded_checkpoints):
    """How the starter's stage 2 continues from stage 1's IFRNet_S_latest.pth (README, model card)."""
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


def test_a_few_dozen_steps_lower_the_reconstruction_loss(tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 4, (64, 96), n_test=1)
    fixed = [torch.stack(column) for column in zip(*Vimeo90KTriplets(root, "train", augment=False))]

    def reconstruction_loss(model) -> float:
        with torch.no_grad():
            return float(model(fixed[0], fixed[2], fixed[4], fixed[1])[1])

    torch.manual_seed(1234)  # the engine seeds the initial weights with --seed (default 1234)
    before = reconstruction_loss(build_model("IFRNet_S"))
    train_main(VIMEO90K, ["--data_root", str(root), "--batch_size", "2", "--epochs", "12", "--eval_interval", "0",
                          "--flow_loss", "off", "--lr_start", "1e-3", "--lr_end", "1e-4", "--log_path", str(tmp_path / "run"),
                          "--model_name", "IFRNet_S", "--crop_size", "64", "96", "--num_workers", "0", "--device", "cpu"])
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


def test_missing_flow_labels_are_a_one_line_error_naming_the_fix(tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 2, (64, 96), with_flow=False, n_test=1)
    result = subprocess.run([sys.executable, str(ROOT / "train_vimeo90k.py"), "--data_root", str(root), *TINY,
                             "--log_path", str(tmp_path / "run")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and "flow_t0.flo" in message
    assert "generate_flow.py" in message and "--flow_loss off" in message
