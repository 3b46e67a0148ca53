"""Training initialisation schemes: PyTorch's defaults untouched, Kaiming keeping the feature scale."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from models import build_model
from tests.data_builders import bigbuckbunny_frames, make_vimeo_triplets
from training.command_line import main as train_main
from training.weight_init import initialise_weights
from training.recipes import VIMEO90K


def _frames(indices=(40, 42), size=(64, 96)):
    return [torch.from_numpy(np.array(f)).permute(2, 0, 1)[None].float() / 255 for f in bigbuckbunny_frames(indices, size)]


def _seeded(scheme: str) -> nn.Module:
    torch.manual_seed(0)
    return initialise_weights(build_model("IFRNet_S"), scheme)


def test_pytorch_scheme_leaves_the_default_weights_untouched():
    torch.manual_seed(0)
    default = build_model("IFRNet_S").state_dict()
    ours = _seeded("pytorch").state_dict()
    assert all(torch.equal(default[k], ours[k]) for k in default)


def test_kaiming_keeps_the_encoder_features_at_scale_where_the_defaults_shrink_them():
    image = _frames()[0] - 0.5
    with torch.no_grad():
        default = [f.std().item() for f in _seeded("pytorch").encoder(image)]
        kaiming = [f.std().item() for f in _seeded("kaiming").encoder(image)]
    assert all(k > 3 * d for k, d in zip(kaiming, default)), (kaiming, default)
    assert min(kaiming) > 0.1 * image.std().item()  # the coarsest level still carries signal


def test_kaiming_starts_near_the_frame_average_with_zero_biases():
    model = _seeded("kaiming")
    assert all(float(p.detach().abs().max()) == 0.0 for name, p in model.named_parameters() if name.endswith(".bias"))
    img0, img1 = _frames()
    with torch.no_grad():
        pred = model.inference(img0, img1, 0.5)
    mse = float(((pred - (img0 + img1) / 2) ** 2).mean())
    assert -10 * math.log10(mse) > 25  # unscaled outputs (random flows of many pixels) give ~8 dB


def test_kaiming_is_reproducible_from_the_seed_and_keeps_the_checkpoint_layout():
    a, b = _seeded("kaiming").state_dict(), _seeded("kaiming").state_dict()
    default = build_model("IFRNet_S").state_dict()
    assert list(a) == list(default) and all(a[k].shape == default[k].shape for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="xavier"):
        initialise_weights(build_model("IFRNet_S"), "xavier")


def test_training_flag_starts_the_run_from_kaiming_weights(tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 2, (64, 96), n_test=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train_main(VIMEO90K, ["--data_root", str(root), "--batch_size", "2", "--epochs", "1", "--eval_interval", "0",
                              "--flow_loss", "off", "--lr_start", "1e-12", "--lr_end", "1e-12", "--init", "kaiming",
                              "--log_path", str(tmp_path / "run"), "--model_name", "IFRNet_S", "--crop_size", "64",
                              "--num_workers", "0", "--device", "cpu"])
    finally:
        torch.set_num_threads(threads)  # the rest of the session keeps its own
    saved = torch.load(tmp_path / "run" / "IFRNet_S_latest.pth", map_location="cpu", weights_only=True)
    biases = np.array([float(v.abs().max()) for k, v in saved.items() if k.endswith(".bias")])
    assert biases.max() < 1e-9  # PyTorch's defaults draw biases of ~1e-2
