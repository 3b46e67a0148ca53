"""One run of each video benchmark script on a three-frame clip: benchmarks/video_memory.py (its
model-only worker, with weights and, when the file is absent, with the initial weights) and
benchmarks/video_tta.py (plain against one augmentation)."""
import json

import pytest

from tests.video_builders import sample_frames, write_clip

MODEL = "IFRNet_S"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", sample_frames("bigbuckbunny", 3, size=(48, 32)))


def test_video_memory_worker_interpolates_the_clip_with_or_without_weights(clip, seeded_checkpoints, tmp_path, capsys):
    from benchmarks import video_memory

    for checkpoint in (seeded_checkpoints[MODEL], tmp_path / "absent.pth"):
        video_memory.main(["--worker", "model_only", "--clip", str(clip), "--out", str(tmp_path / "unused.mp4"),
                           "--model_name", MODEL, "--device", "cpu", "--checkpoint", str(checkpoint)])
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["frames_out"] == 6  # three frames at 2x


def test_video_tta_scores_each_augmentation_asked_for(clip, seeded_checkpoints, capsys):
    from benchmarks import video_tta

    results = video_tta.main(["--clips", str(clip), "--triplets", "1", "--width", "48", "--model_name", MODEL,
                              "--checkpoint", str(seeded_checkpoints[MODEL]), "--device", "cpu",
                              "--augmentations", "plain", "rot180"])
    assert set(results) == {"plain", "rot180"}
    assert f"weights: {MODEL} {seeded_checkpoints[MODEL]}" in capsys.readouterr().out
