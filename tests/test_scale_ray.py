"""Segments on Ray: a two-node cluster on 127.0.0.1 (``ray.cluster_utils.Cluster``, two CPUs per
node: the module's workers and a script's), started once for the module. Two workers write what
one writes, segments run on both nodes, come back through the object store when the workers do not
see the work folder, and a worker killed mid-segment is restarted by Ray with its segment written
again; a benchmark's JSON on Ray is the one-process JSON."""
from __future__ import annotations

import os

import pytest

# Ray turns a loopback address into the machine's own when it connects; the nodes here listen on
# 127.0.0.1 only, so it must keep the loopback (read when ray is imported).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-cluster.txt")

from ray.cluster_utils import Cluster  # noqa: E402

from scale import Workers, open_pool  # noqa: E402
from tests.benchmark_builders import build_vimeo90k  # noqa: E402
from tests.scale_cases import assert_same_video, batch_on, clips, folder_files, same_benchmark_json, video_on  # noqa: E402
from tests.worker_models import DyingBlendFactory  # noqa: E402

pytestmark = pytest.mark.slow  # a Ray cluster of its own


@pytest.fixture(scope="module")
def cluster():
    nodes = Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=2, node_ip_address="127.0.0.1", include_dashboard=False, object_store_memory=80 * 2**20))
    nodes.add_node(num_cpus=2, node_ip_address="127.0.0.1", object_store_memory=80 * 2**20)
    ray.init(address=nodes.address, logging_level="WARNING")
    try:
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return clips(tmp_path_factory.mktemp("scale_ray"))


@pytest.fixture(scope="module")
def trigger(tmp_path_factory):
    """While this file exists, the next worker to interpolate a pair kills itself (SIGKILL)."""
    return tmp_path_factory.mktemp("trigger") / "die"


@pytest.fixture(scope="module")
def pool(cluster, trigger):
    """Two Ray workers of one CPU each, spread: one per node."""
    with open_pool(Workers(ray=True, devices=("cpu", "cpu")), DyingBlendFactory(trigger)) as running:
        yield running


def _nodes(messages):
    return {line.split(", node ")[1].split(" ")[0] for line in messages if " written by " in line}


def test_two_ray_workers_on_two_nodes_write_the_same_video(pool, inputs, tmp_path, caplog):
    caplog.set_level("DEBUG", logger="ifrnet.video")
    assert_same_video(*video_on(pool, inputs[0], tmp_path, "bikes"))
    assert len(_nodes(caplog.messages)) == 2  # segments ran on both nodes


def test_segments_come_back_through_the_object_store_without_a_shared_folder(pool, inputs, tmp_path, caplog,
                                                                             monkeypatch):
    caplog.set_level("DEBUG", logger="ifrnet.video")
    monkeypatch.setattr(pool, "shared_disk", False)  # as on machines that do not see the driver's disk
    one, spread = batch_on(pool, list(inputs), tmp_path)
    assert folder_files(spread) == folder_files(one) and len(folder_files(one)) == 96
    sent = [line for line in caplog.messages if " written by " in line]
    assert len(sent) == 6 and all(line.endswith("(sent back)") for line in sent)


def test_a_ray_worker_killed_mid_segment_is_restarted_and_the_output_is_the_same(pool, inputs, tmp_path, trigger):
    pids = pool.pids
    trigger.touch()
    assert_same_video(*video_on(pool, inputs[1], tmp_path, "bunny"))
    assert not trigger.exists()
    assert len(set(pool.pids) - set(pids)) == 1  # Ray restarted the actor


def test_a_benchmark_on_ray_writes_the_json_of_one_process(cluster, tmp_path, seeded_checkpoints):
    """Vimeo90K on two Ray workers, one per node, through the script's --ray."""
    from benchmarks import Vimeo90K

    build_vimeo90k(tmp_path / "vimeo", count=3, size=(64, 96))
    flags = ["--model_name", "IFRNet_S", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--device", "cpu",
             "--no_progress"]
    report = same_benchmark_json(Vimeo90K.main, tmp_path / "vimeo", tmp_path, flags, ["--ray", "--devices", "cpu,cpu"])
    assert report["count"] == 3
