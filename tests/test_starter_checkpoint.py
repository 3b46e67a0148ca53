"""The shipped starter weights: small, half precision, an IFRNet_S that really interpolates the sample pair."""
from pathlib import Path

import torch

from evaluation.baselines import average_interpolation, frame_psnr
from models import build_model, load_checkpoint
from models.checkpoint import CHECKPOINT_DIR, STARTER_CHECKPOINT, STARTER_MODEL_NAME
from models.interpolator import Interpolator
from tools.make_sample_frames import bigbuckbunny_path, decode_frames, sample_frame
from utils.image_io import read_image

ROOT = Path(__file__).resolve().parents[1]
STARTER = CHECKPOINT_DIR / STARTER_CHECKPOINT
# Measured with the shipped weights (checkpoints/starter/README.md): frame average 27.43 dB,
# starter 29.93 dB on the sample pair (+2.50); weights that blend without motion score ~+0.
MIN_GAIN_DB = 1.5


def test_starter_file_ships_small_in_half_precision_and_loads_as_ifrnet_s():
    assert STARTER.is_file(), f"{STARTER} must ship with the repository"
    assert STARTER.stat().st_size < 10 * 2**20
    state = torch.load(STARTER, map_location="cpu", weights_only=True)
    assert all(t.dtype == torch.float16 for t in state.values())
    model = build_model(STARTER_MODEL_NAME)
    load_checkpoint(model, STARTER)  # strict: every key and shape of IFRNet_S
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


def test_starter_interpolates_the_sample_pair_better_than_the_frame_average():
    """figures/img0.png, img1.png are Big Buck Bunny frames 104 and 106: frame 105 is the truth."""
    img0, img1 = read_image(ROOT / "figures" / "img0.png"), read_image(ROOT / "figures" / "img1.png")
    truth = sample_frame(decode_frames(bigbuckbunny_path(), {105})[105], (img0.shape[1], img0.shape[0]))

    interpolator = Interpolator.load(STARTER_MODEL_NAME, checkpoint=STARTER, device="cpu")
    middle = interpolator.interpolate(img0, img1, [0.5])[0]
    starter, average = frame_psnr(middle, truth), frame_psnr(average_interpolation(img0, img1), truth)
    assert starter - average >= MIN_GAIN_DB, (starter, average)
