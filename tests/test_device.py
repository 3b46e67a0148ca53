"""cuDNN autotuning is switched on by the scripts that choose it, on CUDA only."""
import torch

from utils.device import autotune_convolutions


def test_autotuning_is_set_for_cuda_devices_only(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    autotune_convolutions(torch.device("cpu"))
    assert torch.backends.cudnn.benchmark is False
    autotune_convolutions(torch.device("cuda", 0))  # a device object needs no GPU; only the flag is set
    assert torch.backends.cudnn.benchmark is True

