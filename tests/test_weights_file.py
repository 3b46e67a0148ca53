"""One loader for every .pth the project reads (utils.weights_file): the same one-line refusal for an
HTML page, a pickle built to run code, random bytes, an empty or truncated file, and never PyTorch's
advice to retry with weights_only=False through each entry point."""
import os
import pickle
import random

import pytest
import torch

from models import CheckpointError, build_model, load_checkpoint
from tests.data_builders import make_vimeo_triplets
from tests.seeded import seeded_state_dict
from utils.errors import InputError
from utils.weights_file import WeightsFileError, foreign_global, load_weights_file


class RunsCode:
    """Unpickling this would run a shell command that creates ``marker`` (weights_only refuses it first)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def bad_files(folder):
    """{case: (path, words the refusal must hold)} for the files a user or a hostile server hands over."""
    folder.mkdir(exist_ok=True)
    marker = folder / "code_ran"
    files = {
        "html": (b"<!DOCTYPE html><html><body>Sign in to download</body></html>\n", "not a PyTorch checkpoint"),
        "pickle": (pickle.dumps(RunsCode(marker)), "not a plain checkpoint"),
        "random": (bytes([0x17]) + random.Random(0).randbytes(4095), "not a PyTorch checkpoint"),
        "random_pickle_magic": (b"\x80" + random.Random(1).randbytes(4095), "corrupt or truncated"),
        "empty": (b"", "empty"),
    }
    paths = {}
    for case, (data, words) in files.items():
        path = folder / f"{case}.pth"
        path.write_bytes(data)
        paths[case] = (path, words)
    zipped = folder / "pickle_in_zip.pth"  # PyTorch's own format with a code-running object beside a tensor
    torch.save({"conv.weight": torch.zeros(1), "extra": RunsCode(marker)}, zipped)
    paths["pickle_in_zip"] = (zipped, "not a plain checkpoint")
    return paths, marker


def assert_refusal(message, path, words, marker):
    assert str(path) in message and words in message, message
    assert "\n" not in message and "weights_only" not in message and "will likely succeed" not in message, message
    if words == "not a plain checkpoint":
        assert "corrupt" not in message and "system" in message, message  # names the global, e.g. posix.system
    assert not marker.exists()


def test_the_loader_tells_each_kind_of_file_apart_without_running_it(tmp_path):
    paths, marker = bad_files(tmp_path)
    for case, (path, words) in paths.items():
        with pytest.raises(WeightsFileError) as error:
            load_weights_file(path)
        assert words in str(error.value) and "weights_only" not in str(error.value), (case, str(error.value))
    assert not marker.exists()

    good = tmp_path / "good.pth"
    torch.save({"w": torch.ones(2, dtype=torch.float16), "args": {"lr": 1e-4, "tags": ["a"], "s": {1}}}, good)
    assert torch.equal(load_weights_file(good)["w"], torch.ones(2, dtype=torch.float16))
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(WeightsFileError, match="corrupt or truncated"):
        load_weights_file(truncated)


def test_a_whole_saved_module_is_named_as_code_not_as_damage(tmp_path):
    """torch.save(model) pickles the classes; the refusal says to save the state_dict alone."""
    path = tmp_path / "whole.pth"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 1)), path)
    assert foreign_global(path) == "torch.nn.modules.container.Sequential"
    with pytest.raises(WeightsFileError, match="not a plain checkpoint.*Sequential.*state_dict alone"):
        load_weights_file(path)


def test_load_checkpoint_refuses_each_bad_file_in_one_line(tmp_path):
    paths, marker = bad_files(tmp_path)
    for case, (path, words) in paths.items():
        with pytest.raises(CheckpointError) as error:
            load_checkpoint(build_model("IFRNet_S"), path)
        assert_refusal(str(error.value), path, words, marker)
        assert f"cannot read checkpoint {path}: " in str(error.value)


def test_training_resume_refuses_each_bad_file_in_one_line(tmp_path):
    from training.command_line import main as train_main
    from training.recipes import VIMEO90K

    paths, marker = bad_files(tmp_path)
    for case, (path, words) in paths.items():
        with pytest.raises(InputError) as error:  # read before any data or model
            train_main(VIMEO90K, ["--resume", str(path), "--data_root", str(tmp_path / "none"), "--device", "cpu",
                                  "--log_path", str(tmp_path / "run")])
        assert_refusal(str(error.value), path, words, marker)
        assert f"cannot read --resume checkpoint {path}: " in str(error.value)
    assert not (tmp_path / "run").exists()


def test_generate_flow_weights_refuses_each_bad_file_in_one_line(tmp_path):
    import generate_flow

    root = make_vimeo_triplets(tmp_path / "vimeo_triplet", 1, (32, 48), n_test=0)
    paths, marker = bad_files(tmp_path / "files")
    for case, (path, words) in paths.items():
        with pytest.raises(InputError) as error:
            generate_flow.main(["--data_root", str(root), "--estimator", "raft_small", "--weights", str(path),
                                "--device", "cpu", "--num_workers", "0"])
        assert_refusal(str(error.value), path, words, marker)
        assert f"cannot read --weights {path}: " in str(error.value)
    assert not (root / "flow").exists()


def test_integer_tensors_where_the_model_has_float_weights_are_refused_naming_the_tensor(tmp_path):
    """load_state_dict would cast int64 weights to float silently."""
    weights = seeded_state_dict(build_model("IFRNet_S"))
    key = list(weights)[5]
    cast = dict(weights, **{key: weights[key].round().long()})
    path = tmp_path / "int64.pth"
    torch.save(cast, path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(build_model("IFRNet_S"), path)
    message = str(error.value)
    assert key in message and "torch.int64" in message and str(path) in message and "\n" not in message
