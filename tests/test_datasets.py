"""Vimeo90K and GoPro datasets on tiny copies in the real layouts: items, shapes, alignment, errors."""
import numpy as np
import pytest
import torch

from datasets import GoProWindows, Vimeo90KTriplets
from datasets.augment import AugmentProbabilities
from tests.data_builders import make_gopro, make_vimeo_triplets, triplet_flow_values
from utils.errors import InputError
from utils.image_io import read_image


def as_tensor(path) -> torch.Tensor:
    return torch.from_numpy(np.array(read_image(path))).permute(2, 0, 1).float() / 255.0


@pytest.fixture(scope="module")
def vimeo(tmp_path_factory):
    return make_vimeo_triplets(tmp_path_factory.mktemp("vimeo") / "vimeo_triplet", 3, (64, 96), with_flow=True, n_test=2)


@pytest.fixture(scope="module")
def gopro(tmp_path_factory):
    return make_gopro(tmp_path_factory.mktemp("gopro") / "GOPRO", train_videos=2, test_videos=1, frames_per_video=17, size=(64, 96))


# ---------------------------------------------------------------------------------------------
# Vimeo90K


def test_vimeo_test_items_are_the_listed_frames_with_flows(vimeo):
    dataset = Vimeo90KTriplets(vimeo, "test", with_flow=True)
    assert len(dataset) == 2
    img0, imgt, img1, flow, embt = dataset[1]
    folder = vimeo / "sequences" / "00002" / "0002"
    for tensor, name in ((img0, "im1.png"), (imgt, "im2.png"), (img1, "im3.png")):
        assert tensor.dtype == torch.float32 and tensor.shape == (3, 64, 96)
        assert torch.equal(tensor, as_tensor(folder / name))
    (u0, v0), (u1, v1) = triplet_flow_values(3 + 1)  # the builder numbers test triplets after the 3 train ones
    assert flow.shape == (4, 64, 96)
    assert torch.equal(flow[:, 0, 0], torch.tensor([u0, v0, u1, v1]))
    assert embt.shape == (1, 1, 1) and embt.item() == 0.5


def test_vimeo_train_items_are_augmented_crops_fixed_by_seed_epoch_and_index(vimeo):
    dataset = Vimeo90KTriplets(vimeo, "train", with_flow=True, crop_size=(32, 48), seed=3)
    img0, imgt, img1, flow, embt = dataset[0]
    assert img0.shape in ((3, 32, 48), (3, 48, 32)) and flow.shape[0] == 4 and flow.shape[1:] == img0.shape[1:]
    again = dataset[0]
    assert all(torch.equal(a, b) for a, b in zip((img0, imgt, img1, flow, embt), again))
    draws = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        draws.add(tuple(dataset[0][0].flatten()[:40].tolist()))
    assert len(draws) > 1, "the augmentation must change between epochs"


def test_vimeo_without_flow_gives_empty_flow(vimeo):
    dataset = Vimeo90KTriplets(vimeo, "train", with_flow=False, crop_size=(32, 32))
    assert dataset[2][3].shape == (0, 32, 32)


def test_vimeo_missing_triplet_names_the_file(vimeo, tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo", 2, (32, 32))
    missing = root / "sequences" / "00001" / "0002" / "im3.png"
    missing.unlink()
    with pytest.raises(InputError, match=str(missing)):
        Vimeo90KTriplets(root, "train", crop_size=(32, 32))


def test_vimeo_missing_flows_say_how_to_get_them(tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo", 2, (32, 32), with_flow=False)
    with pytest.raises(InputError, match=r"flow_t0\.flo.*generate_flow\.py.*--flow_loss off"):
        Vimeo90KTriplets(root, "train", with_flow=True, crop_size=(32, 32))


def test_vimeo_empty_split_and_missing_list(tmp_path):
    root = make_vimeo_triplets(tmp_path / "vimeo", 1, (32, 32))
    (root / "tri_testlist.txt").write_text("\n\n")
    with pytest.raises(InputError, match="test split is empty"):
        Vimeo90KTriplets(root, "test")
    with pytest.raises(InputError, match="tri_trainlist.txt"):
        Vimeo90KTriplets(tmp_path / "nowhere", "train")


def test_vimeo_crop_larger_than_frames_names_the_file(vimeo):
    with pytest.raises(InputError, match=r"crop 224x224.*im1\.png"):
        Vimeo90KTriplets(vimeo, "train", crop_size=(224, 224))


# ---------------------------------------------------------------------------------------------
# GoPro


def test_gopro_windows_take_frames_0_and_8_with_seven_targets(gopro):
    dataset = GoProWindows(gopro, "test", eval_crop_size=None)
    video = sorted((gopro / "test").iterdir())[0]
    frames = sorted(video.iterdir())
    assert len(dataset) == 2  # 17 frames: windows 0..8 and 8..16 (stride 8, the last frame shared)
    for window, start in enumerate((0, 8)):
        img0, imgt, img1, flow, embt = dataset[window]
        assert torch.equal(img0, as_tensor(frames[start]))
        assert torch.equal(img1, as_tensor(frames[start + 8]))
        assert imgt.shape == (7, 3, 64, 96)
        for k in range(1, 8):
            assert torch.equal(imgt[k - 1], as_tensor(frames[start + k]))
        assert torch.allclose(embt.flatten(), torch.arange(1, 8) / 8.0)
        assert embt.shape == (7, 1, 1, 1) and flow.shape == (0, 64, 96)
    # The frames really differ, so a shifted window could not pass the checks above.
    assert not torch.equal(as_tensor(frames[1]), as_tensor(frames[2]))


def test_gopro_videos_are_found_by_listing_the_split(gopro):
    train = GoProWindows(gopro, "train", crop_size=(32, 32))
    assert len(train) == 4  # two videos of two windows each
    assert {p[0].parent.name for p in train.windows} == {v.name for v in (gopro / "train").iterdir()}


def test_gopro_test_items_are_centre_crops(gopro):
    whole = GoProWindows(gopro, "test", eval_crop_size=None)[0]
    cropped = GoProWindows(gopro, "test", eval_crop_size=(32, 48))[0]
    assert cropped[1].shape == (7, 3, 32, 48)
    assert torch.equal(cropped[0], whole[0][:, 16:48, 24:72])
    assert torch.equal(cropped[1], whole[1][..., 16:48, 24:72])


def test_gopro_time_reversal_keeps_each_target_at_its_time(gopro):
    """Reversed windows swap the inputs and reverse the targets, so target k is still at t = k/8."""
    reverse_only = AugmentProbabilities(0, 0, 0, 0, 0, 1)
    dataset = GoProWindows(gopro, "train", crop_size=(64, 96), probabilities=reverse_only)
    plain = GoProWindows(gopro, "train", crop_size=(64, 96), probabilities=AugmentProbabilities(0, 0, 0, 0, 0, 0))
    img0, imgt, img1, _, embt = dataset[1]
    p0, pt, p1, _, _ = plain[1]
    assert torch.equal(img0, p1) and torch.equal(img1, p0)
    assert torch.equal(imgt, pt.flip(0))
    assert torch.allclose(embt.flatten(), torch.arange(1, 8) / 8.0)


def test_gopro_errors(tmp_path, gopro):
    with pytest.raises(InputError, match="train"):
        GoProWindows(tmp_path / "missing", "train")
    (tmp_path / "short" / "train" / "clip").mkdir(parents=True)
    with pytest.raises(InputError, match="empty"):
        GoProWindows(tmp_path / "short", "train")
    with pytest.raises(InputError, match=r"crop 512x512.*000000\.png"):
        GoProWindows(gopro, "test")  # the paper's 512x512 centre crop does not fit 64x96 frames


def _gopro_flags(data_root, log_path, *extra):
    """One step of IFRNet_S on 32x32 crops, no evaluation: what a start-up check or a loss term needs."""
    return ["--data_root", str(data_root), "--model_name", "IFRNet_S", "--device", "cpu", "--log_path", str(log_path),
            "--crop_size", "32", "--eval_crop_size", "0", "--max_steps", "1", "--num_workers", "0", *extra]


def _train_gopro(data_root, cwd, *extra):
    """train_gopro.py in a subprocess: its one end-to-end run (a start-up refusal on the real stderr)."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "train_gopro.py"
    return subprocess.run([sys.executable, str(script), *_gopro_flags(data_root, cwd / "run", *extra)],
                          capture_output=True, text=True, cwd=cwd)


def test_gopro_training_with_dis_labels_has_a_distillation_term(tmp_path):
    """--flow_labels dis or dis_linear turns the flow loss on (the paper's GoPro recipe, the default, has none)."""
    import re

    from training.command_line import main as train_main
    from training.recipes import GOPRO

    root = make_gopro(tmp_path / "GOPRO", train_videos=2, test_videos=1, frames_per_video=9, size=(64, 96))
    for flags, state in (((), "off"), (("--flow_labels", "dis"), "on"), (("--flow_labels", "dis_linear"), "on")):
        run = tmp_path / f"run_{'_'.join(flags) or 'default'}"
        train_main(GOPRO, _gopro_flags(root, run, "--log_interval", "1", *flags))
        log = (run / "train.log").read_text()
        assert f"flow loss {state}" in log
        distillation = float(re.search(r"dis ([0-9.e+-]+)\)", log).group(1))
        assert (distillation > 0) == (state == "on")


def test_gopro_training_stops_at_start_up_on_a_missing_frame(tmp_path):
    """A missing frame stops the run with one line naming it: skipped, it would make a 9-frame video
    vanish (8 frames, no window) and shift every later window's targets of a longer one off their times."""
    root = make_gopro(tmp_path / "GOPRO", train_videos=2, test_videos=1, frames_per_video=9, size=(64, 96))
    missing = root / "train" / "GOPR0001_00" / "000004.png"
    missing.unlink()
    result = _train_gopro(root, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"train_gopro.py: error: missing frame {missing} (between 000003.png and 000005.png)"
    ]
    assert not list(tmp_path.glob("run/*.pth"))


def test_gopro_unreadable_or_misnumbered_frames_stop_at_start_up(tmp_path):
    root = make_gopro(tmp_path / "GOPRO", train_videos=1, test_videos=1, frames_per_video=9, size=(64, 96))
    video = root / "train" / "GOPR0000_00"
    (video / "000006.png").write_text("not an image")
    with pytest.raises(InputError, match=r"cannot read image .*GOPR0000_00/000006\.png"):
        GoProWindows(root, "train", crop_size=(32, 32))
    for k in range(9):  # unpadded numbers: name order 0, 1, 10, ... is not time order
        (video / f"{k:06d}.png").rename(video / f"f{k if k < 6 else k + 4}.png")
    (video / "f10.png").write_bytes((root / "test" / "GOPR0001_00" / "000000.png").read_bytes())
    with pytest.raises(InputError, match=r"frames .*f12\.png and f2\.png are numbered 12 and 2: .* zero-pad the numbers"):
        GoProWindows(root, "train", crop_size=(32, 32))


def test_gopro_benchmark_refuses_a_gap_too(tmp_path):
    from evaluation.benchmark_sets import get_benchmark, list_samples

    root = make_gopro(tmp_path / "GOPRO", train_videos=0, test_videos=1, frames_per_video=17, size=(64, 96))
    (root / "test" / "GOPR0000_00" / "000011.png").unlink()
    with pytest.raises(InputError, match=r"missing frame .*000011\.png \(between 000010\.png and 000012\.png\)"):
        list_samples(get_benchmark("GoPro"), root)



def test_gopro_recipe_factor_sets_the_window_length_and_the_timesteps(gopro):
    """--factor 4: windows of 5 frames (17 frames make 4 per video), targets at t = 1/4, 1/2, 3/4;
    the default stays the paper's 8x (2 windows of 9 per video)."""
    import argparse

    from training.recipes import GOPRO

    parser = argparse.ArgumentParser()
    GOPRO.add_arguments(parser)
    for flags, windows, times in (([], 2 * 2, [k / 8 for k in range(1, 8)]), (["--factor", "4"], 2 * 4, [0.25, 0.5, 0.75])):
        args = parser.parse_args(flags)
        args.data_root, args.crop_size, args.seed = gopro, [32], 0
        train = GOPRO.build_train(args)
        assert len(train) == windows
        _, imgt, _, _, embt = train[0]
        assert imgt.shape[0] == len(times) and embt.flatten().tolist() == pytest.approx(times)
    args = parser.parse_args(["--spans", "2", "4"])
    args.data_root, args.crop_size, args.seed = gopro, [32], 0
    assert GOPRO.build_train(args).spans == (2, 4) and GOPRO.build_train(args)[0][1].shape[0] == 1


def _frames_of_known_times(root, count=9, size=(32, 48)):
    """One training video whose frame k is uniformly k * 20 + 10 (flips, crops, channel swaps keep it)."""
    from utils.image_io import write_image

    for k in range(count):
        write_image(root / "train" / "clip" / f"{k:06d}.png", np.full((*size, 3), 20 * k + 10, np.uint8))
    return root


def test_gopro_spans_give_one_target_of_a_sub_window_at_its_time(tmp_path):
    """--spans 2 4 8: each item is inputs s frames apart inside the window and one frame between them at
    t = j/s, whatever the augmentation did (time reversal included); every span is drawn."""
    root = _frames_of_known_times(tmp_path)
    dataset = GoProWindows(root, "train", crop_size=(32, 32), spans=(2, 4, 8))
    seen = set()
    for epoch in range(40):
        dataset.set_epoch(epoch)
        img0, imgt, img1, flow, embt = dataset[0]
        assert imgt.shape == (1, 3, 32, 32) and embt.shape == (1, 1, 1, 1) and flow.shape == (0, 32, 32)
        k0, kt, k1 = ((frame.mean().item() * 255 - 10) / 20 for frame in (img0, imgt[0], img1))
        assert all(abs(k - round(k)) < 1e-3 for k in (k0, kt, k1))
        span = abs(round(k1) - round(k0))
        assert span in (2, 4, 8)
        assert embt.item() == pytest.approx((round(kt) - round(k0)) / (round(k1) - round(k0)))
        assert 0 < embt.item() < 1
        seen.add(span)
    assert seen == {2, 4, 8}


def _moving_texture(root, shift=2, count=9, size=(96, 128)):
    """A smooth random texture that moves ``shift`` px to the right per frame (frame k = texture at x - shift k)."""
    from scipy.ndimage import gaussian_filter

    from utils.image_io import write_image

    rng = np.random.default_rng(0)
    texture = gaussian_filter(rng.random((size[0], size[1] + shift * count)), 2.0)
    texture = (255 * (texture - texture.min()) / np.ptp(texture)).astype(np.uint8)
    for k in range(count):
        frame = texture[:, shift * (count - k) : shift * (count - k) + size[1]]
        write_image(root / "train" / "clip" / f"{k:06d}.png", np.repeat(frame[..., None], 3, axis=2))
    return root


def test_gopro_dis_flow_labels_point_from_each_target_to_its_inputs(tmp_path):
    """--flow_labels dis: each target's labels are the flows t->0 and t->1 of the motion in the frames
    (content moving 2 px right per frame: t->0 is -2j px, t->1 is +2(s - j) px), for whole windows
    and for sub-windows, and training without them keeps the empty labels."""
    root = _moving_texture(tmp_path)
    still = AugmentProbabilities(upscale=0, reverse_channels=0, flip_vertical=0, flip_horizontal=0, transpose=0,
                                 reverse_time=0)
    inner = (slice(24, -24), slice(24, -24))  # away from the borders, where content enters

    whole = GoProWindows(root, "train", crop_size=(96, 96), probabilities=still, flow_labels="dis")
    _, imgt, _, flow, _ = whole[0]
    assert flow.shape == (7, 4, 96, 96) and imgt.shape[0] == 7
    for j in range(1, 8):
        u0, v0, u1, v1 = (channel[inner].median().item() for channel in flow[j - 1])
        assert u0 == pytest.approx(-2 * j, abs=0.5) and u1 == pytest.approx(2 * (8 - j), abs=0.5)
        assert abs(v0) < 0.5 and abs(v1) < 0.5

    # a crop as large as the frames, so each item's frames can be told apart by comparing them with the window's
    spans = GoProWindows(root, "train", crop_size=(96, 128), probabilities=still, flow_labels="dis", spans=(2, 4, 8))
    window = _whole_frames(root)
    for epoch in range(6):
        spans.set_epoch(epoch)
        img0, imgt, img1, flow, embt = spans[0]
        assert flow.shape == (1, 4, 96, 128)
        k0, kt, k1 = (int(np.argmin([(frame - known).abs().mean() for known in window])) for frame in (img0, imgt[0], img1))
        assert embt.item() == pytest.approx((kt - k0) / (k1 - k0))
        u0, u1 = flow[0, 0][inner].median().item(), flow[0, 2][inner].median().item()
        assert u0 == pytest.approx(-2 * (kt - k0), abs=0.5) and u1 == pytest.approx(2 * (k1 - kt), abs=0.5)

    plain = GoProWindows(root, "train", crop_size=(96, 96), spans=(2,))
    assert plain[0][3].shape == (0, 96, 96)
    with pytest.raises(InputError, match="unknown flow labels"):
        GoProWindows(root, "train", crop_size=(96, 96), flow_labels="raft")


def test_gopro_dis_linear_labels_follow_the_inputs_motion_not_the_target(tmp_path):
    """--flow_labels dis_linear: labels from DIS between the two inputs, carried to t by linear motion,
    whatever the target shows. A window whose middle frame repeats its first: 'dis' labels that
    target as not having moved (t->0 ~ 0), 'dis_linear' as half-way (t->0 = -4 px, t->1 = +4 px),
    and every other target as linear motion (content moving 1 px a frame: -j and +(8 - j) px; DIS
    between the ends of a 96 px crop loses track at 2 px a frame, 16 px across the window)."""
    from utils.image_io import read_image, write_image

    root = _moving_texture(tmp_path, shift=1)
    frames = sorted((root / "train" / "clip").iterdir())
    write_image(frames[4], read_image(frames[0]))
    still = AugmentProbabilities(upscale=0, reverse_channels=0, flip_vertical=0, flip_horizontal=0, transpose=0,
                                 reverse_time=0)
    inner = (slice(24, -24), slice(24, -24))

    def horizontal(flow_labels):
        flow = GoProWindows(root, "train", crop_size=(96, 96), probabilities=still, flow_labels=flow_labels)[0][3]
        assert flow.shape == (7, 4, 96, 96) and flow.dtype == torch.float32
        return [(pair[0][inner].median().item(), pair[2][inner].median().item()) for pair in flow]

    linear, per_target = horizontal("dis_linear"), horizontal("dis")
    for j, (u0, u1) in enumerate(linear, start=1):
        assert u0 == pytest.approx(-j, abs=0.25) and u1 == pytest.approx(8 - j, abs=0.25)
    assert per_target[3][0] == pytest.approx(0, abs=0.25) and per_target[3][1] == pytest.approx(8, abs=0.25)


def _whole_frames(root):
    """The nine frames of the first window, unaugmented, for telling which frame an item holds."""
    img0, imgt, img1, _, _ = GoProWindows(root, "train", augment=False, eval_crop_size=None)[0]
    return [img0, *imgt, img1]


def test_gopro_spans_are_fixed_by_seed_epoch_and_index_and_checked(tmp_path):
    root = _frames_of_known_times(tmp_path)
    first, again = (GoProWindows(root, "train", crop_size=(32, 32), spans=(2, 4, 8), seed=3) for _ in range(2))
    for epoch in range(5):
        first.set_epoch(epoch), again.set_epoch(epoch)
        assert all(torch.equal(a, b) for a, b in zip(first[0], again[0]))
    for spans in ((1,), (9,), ()):
        with pytest.raises(InputError, match="between 2 and the factor, 8"):
            GoProWindows(root, "train", crop_size=(32, 32), spans=spans)
    whole = GoProWindows(root, "train", augment=False, eval_crop_size=None, spans=(2,))
    assert whole[0][1].shape[0] == 7  # spans change training items only; evaluation keeps every target
