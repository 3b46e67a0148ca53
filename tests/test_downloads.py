"""Published weights on first use: sources in order, each download verified, atomic, recorded, never online in tests.

Every source is a loopback HTTP http_server inside the test (tests/http_server.py) serving seeded
weights under the published file names, alone or in a zip shaped like the authors' folder.
"""
import hashlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

import demo_2x
from models.checkpoint import CheckpointError, resolve_weights
from models.published import PUBLISHED_CHECKPOINTS, checkpoint_sources, find_published
from tests.http_server import closed_port_url, zip_of
from utils.errors import InputError
from utils.image_io import read_image

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "download_checkpoints.py"
SMALL = "IFRNet_S_Vimeo90K.pth"


@pytest.fixture(scope="module")
def weights(seeded_checkpoints):
    """Bytes of seeded IFRNet_S and IFRNet (the wrong width for an IFRNet_S file) checkpoints."""
    return {name: seeded_checkpoints[name].read_bytes() for name in ("IFRNet_S", "IFRNet")}


def tool(*args, urls, cwd):
    """The tool in a subprocess (its one smoke test); other cases call its main in-process."""
    env = {k: v for k, v in os.environ.items() if k != "IFRNET_OFFLINE"}
    env["IFRNET_CHECKPOINT_URLS"] = ",".join(urls)
    return subprocess.run([sys.executable, str(TOOL), "--no_progress", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def files_under(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_table_holds_each_published_file_with_its_sources_authors_first_and_the_variable_replaces_them(monkeypatch):
    folders = {"IFRNet": "IFRNet", "IFRNet_L": "IFRNet_large", "IFRNet_S": "IFRNet_small"}  # the authors' layout
    assert len(PUBLISHED_CHECKPOINTS) == 6
    for entry in PUBLISHED_CHECKPOINTS:
        assert entry.path == f"{folders[entry.variant]}/{entry.variant}_{entry.task}.pth"
        assert entry.sources[0].archive and "dropbox.com/sh/hrewbpedd2cgdp3" in entry.sources[0].url
        assert entry.sources[0].url.endswith("dl=1")
    mirrors = [s.url for s in find_published("IFRNet_L", "GoPro").sources[1:]]
    assert any("styler00dollar/VSGAN-tensorrt-docker/releases/download/models" in u for u in mirrors)
    assert any("Fannovel16/ComfyUI-Frame-Interpolation/releases/download/models" in u for u in mirrors)
    monkeypatch.setenv("IFRNET_CHECKPOINT_URLS", " http://u:secret@m/a.zip?sig=1 , http://m/base ")
    assert checkpoint_sources(find_published("IFRNet_S")) == [
        ("http://m/a.zip", "http://u:secret@m/a.zip?sig=1", True), ("http://m/base", f"http://m/base/{SMALL}", False)]


def test_per_file_source_puts_the_file_where_tools_look_records_its_hash_and_skips_it_later(tmp_path, http_server, weights,
                                                                                          capsys):
    http_server.files[f"/mirror/{SMALL}"] = weights["IFRNet_S"]
    out = tmp_path / "ckpts"
    result = tool("--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", str(out), urls=[http_server.url("/mirror/")], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    target = out / "IFRNet_small" / SMALL
    assert target.read_bytes() == weights["IFRNet_S"]
    digest = hashlib.sha256(weights["IFRNet_S"]).hexdigest()
    assert (out / "SHA256SUMS").read_text() == f"{digest}  IFRNet_small/{SMALL}\n"
    assert files_under(out) == [".download.lock", "IFRNet_small", f"IFRNet_small/{SMALL}", "SHA256SUMS"]

    from tools.download_checkpoints import main

    main(["--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", str(out)])
    assert "present and valid, skipped" in capsys.readouterr().out
    assert http_server.requests == [f"/mirror/{SMALL}"]


def test_zip_source_takes_each_member_by_base_name_and_fetches_the_archive_once(tmp_path, http_server, weights, online):
    from tools.download_checkpoints import main

    http_server.files["/folder.zip"] = zip_of({"checkpoints/IFRNet_small/IFRNet_S_Vimeo90K.pth": weights["IFRNet_S"],
                                          "checkpoints/IFRNet_small/IFRNet_S_GoPro.pth": weights["IFRNet_S"],
                                          "README.txt": b"weights"})
    online(http_server.url("/folder.zip"))
    main(["--variant", "IFRNet_S", "--output", str(tmp_path), "--no_progress"])
    for task in ("Vimeo90K", "GoPro"):
        assert (tmp_path / "IFRNet_small" / f"IFRNet_S_{task}.pth").read_bytes() == weights["IFRNet_S"]
    assert http_server.requests == ["/folder.zip"]


def test_a_404_a_corrupt_file_and_a_wrong_width_file_fall_through_to_the_next_source(tmp_path, http_server, weights, online, capsys):
    http_server.files[f"/corrupt/{SMALL}"] = os.urandom(4096)
    http_server.files[f"/wide/{SMALL}"] = weights["IFRNet"]
    http_server.files[f"/good/{SMALL}"] = weights["IFRNet_S"]
    online(http_server.url("/missing/"), http_server.url("/corrupt/"), http_server.url("/wide/"), http_server.url("/good/"))
    from tools.download_checkpoints import main

    main(["--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", str(tmp_path), "--no_progress"])
    assert (tmp_path / "IFRNet_small" / SMALL).read_bytes() == weights["IFRNet_S"]
    assert [p.rsplit("/", 2)[1] for p in http_server.requests] == ["missing", "corrupt", "wide", "good"]
    assert files_under(tmp_path) == [".download.lock", "IFRNet_small", f"IFRNet_small/{SMALL}", "SHA256SUMS"]


def test_every_source_failing_names_each_one_in_one_line_and_leaves_nothing(tmp_path, http_server, weights, online, run_main):
    from tools.download_checkpoints import main

    http_server.files[f"/text/{SMALL}"] = b"<html>sign in to download</html>\n"
    http_server.files[f"/wide/{SMALL}"] = weights["IFRNet"]
    partial = torch.load(io.BytesIO(weights["IFRNet_S"]), weights_only=True)
    del partial["decoder1.convblock.0.0.weight"]  # right width, a tensor short: fails the strict fit
    buffer = io.BytesIO()
    torch.save(partial, buffer)
    http_server.files[f"/partial/{SMALL}"] = buffer.getvalue()
    online(http_server.url("/missing/"), closed_port_url("/"), http_server.url("/text/"), http_server.url("/wide/"),
           http_server.url("/partial/"))
    out = tmp_path / "ckpts"
    code, _, err = run_main(main, "--no_progress", "--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", out)
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]  # after one "downloading <url>" line per source tried
    assert ": error:" in line and err.count("error") == 1, err
    assert f"could not download {SMALL}" in line
    for reason in ("HTTP 404", "connection refused", "not a PyTorch checkpoint", "holds IFRNet weights, not IFRNet_S",
                   "does not fit IFRNet_S: 1 missing (e.g. decoder1.convblock.0.0.weight)"):
        assert reason in line, (reason, line)
    assert not out.exists()


def test_an_interrupted_transfer_is_refused_and_leaves_nothing(tmp_path, http_server, weights, online, run_main):
    from tools.download_checkpoints import main

    http_server.files[f"/cut/{SMALL}"] = weights["IFRNet_S"]
    http_server.truncated.add(f"/cut/{SMALL}")
    online(http_server.url("/cut/"))
    out = tmp_path / "ckpts"
    code, _, err = run_main(main, "--no_progress", "--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", out)
    assert code == 2 and "the transfer ended after" in err
    assert not out.exists()


def _starter_in(tmp_path, seeded_checkpoints, monkeypatch):
    """A checkpoints folder in tmp_path holding only starter weights (the seeded IFRNet_S)."""
    import shutil

    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    starter = tmp_path / "checkpoints" / "starter" / "IFRNet_S_starter.pth"
    starter.parent.mkdir(parents=True)
    shutil.copy(seeded_checkpoints["IFRNet_S"], starter)
    return starter


def demo_args(tmp_path, out, *extra):
    """Demo flags on a 64x96 crop of the sample pair (real frames, quick on a CPU)."""
    paths = []
    for name in ("img0.png", "img1.png"):
        paths.append(tmp_path / name)
        if not paths[-1].exists():
            Image.open(ROOT / "figures" / name).crop((250, 150, 346, 214)).save(paths[-1])
    return ["--img0", str(paths[0]), "--img1", str(paths[1]), "--output", str(tmp_path / out), "--device", "cpu", *extra]


@pytest.mark.parametrize("how", ["IFRNET_OFFLINE", "--offline"])
def test_offline_skips_the_network_and_falls_back_to_the_starter(tmp_path, http_server, weights, seeded_checkpoints, monkeypatch,
                                                                 capsys, how, online):
    starter = _starter_in(tmp_path, seeded_checkpoints, monkeypatch)
    http_server.files[f"/m/{SMALL}"] = weights["IFRNet_S"]
    online(http_server.url("/m/"))
    extra = ["--offline"] if how == "--offline" else []
    if how == "IFRNET_OFFLINE":
        monkeypatch.setenv("IFRNET_OFFLINE", "1")
    resolved = resolve_weights("IFRNet_S", offline=bool(extra))
    assert resolved.path == starter and "downloads are off" in resolved.note
    demo_2x.main(demo_args(tmp_path, "out", "--model_name", "IFRNet_S", *extra))
    assert "downloads are off" in capsys.readouterr().err
    assert http_server.requests == [] and not (tmp_path / "checkpoints" / "IFRNet_small").exists()


def test_unreachable_sources_fall_back_to_the_starter_within_seconds(tmp_path, seeded_checkpoints, monkeypatch, online):
    starter = _starter_in(tmp_path, seeded_checkpoints, monkeypatch)
    online(closed_port_url("/a/"), closed_port_url("/b.zip"))
    started = time.perf_counter()
    resolved = resolve_weights("IFRNet", other_variant=True, progress=False)
    assert time.perf_counter() - started < 5
    assert resolved.model_name == "IFRNet_S" and resolved.path == starter
    assert "connection refused" in resolved.note and "tools/download_checkpoints.py --variant IFRNet" in resolved.note


def test_the_tools_let_the_starter_stand_in_for_another_width_and_say_so(tmp_path, seeded_checkpoints, monkeypatch, capsys,
                                                                          caplog):
    """The command-line tools ask for the fallback (other_variant=True) and print its note; the
    library, asked for IFRNet, refuses instead (tests/test_factory.py). The demo's and the web
    app's own runs are in tests/test_demos.py and tests/test_app.py."""
    import interpolate_video
    from benchmarks import Vimeo90K
    from tests import benchmark_builders as build
    from tests.video_builders import sample_frames, write_clip

    _starter_in(tmp_path, seeded_checkpoints, monkeypatch)
    clip = write_clip(tmp_path / "clip.mp4", sample_frames("bigbuckbunny", 2, size=(48, 32)))
    with caplog.at_level("INFO", logger="ifrnet.video"):
        interpolate_video.main(["--input", str(clip), "--output", str(tmp_path / "out.mp4"), "--device", "cpu", "--quiet"])
    assert "IFRNet_Vimeo90K.pth not found" in caplog.text and "running the starter weights instead" in caplog.text
    build.build_vimeo90k(tmp_path / "vimeo", count=1, size=(32, 48))
    report = Vimeo90K.main(["--data_root", str(tmp_path / "vimeo"), "--device", "cpu", "--no_progress"])
    assert report["model_name"] == "IFRNet_S" and "running the starter weights instead" in capsys.readouterr().err


def test_demo_downloads_on_first_use_then_runs_the_downloaded_weights(tmp_path, http_server, weights, seeded_checkpoints,
                                                                     monkeypatch, online, capsys):
    _starter_in(tmp_path, seeded_checkpoints, monkeypatch)
    http_server.files["/folder.zip"] = zip_of({f"IFRNet_small/{SMALL}": weights["IFRNet_S"]})
    online(http_server.url("/folder.zip"))
    demo_2x.main(demo_args(tmp_path, "first", "--model_name", "IFRNet_S"))
    err = capsys.readouterr().err
    assert "starter" not in err and "note:" not in err
    assert (tmp_path / "checkpoints" / "IFRNet_small" / SMALL).read_bytes() == weights["IFRNet_S"]
    demo_2x.main(demo_args(tmp_path, "given", "--checkpoint", str(seeded_checkpoints["IFRNet_S"]), "--model_name", "IFRNet_S"))
    frame = "interp_t0.500.png"
    assert (read_image(tmp_path / "first" / frame) == read_image(tmp_path / "given" / frame)).all()
    demo_2x.main(demo_args(tmp_path, "again", "--model_name", "IFRNet_S"))  # no second download
    assert http_server.requests == ["/folder.zip"]


def test_hub_entry_point_downloads_its_variant_on_first_use(tmp_path, http_server, weights, monkeypatch, online):
    import hubconf
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    http_server.files[f"/m/{SMALL}"] = weights["IFRNet_S"]
    online(http_server.url("/m/"))
    model = hubconf.IFRNet_S()
    expected = torch.load(tmp_path / "checkpoints" / "IFRNet_small" / SMALL, weights_only=True)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in expected.items())


def test_checkpoint_url_is_downloaded_once_verified_and_then_used_offline(tmp_path, http_server, weights, monkeypatch, online):
    import models.checkpoint as checkpoint_module

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    http_server.files["/mine/finetuned.pth"] = weights["IFRNet_S"]
    http_server.files["/mine/junk.pth"] = b"not weights"
    online()
    url = http_server.url("/mine/finetuned.pth")
    first = resolve_weights("IFRNet_S", url, progress=False)
    assert first.path.read_bytes() == weights["IFRNet_S"] and first.path.name == "finetuned.pth"
    monkeypatch.setenv("IFRNET_OFFLINE", "1")
    assert resolve_weights("IFRNet_S", url).path == first.path
    assert http_server.requests == ["/mine/finetuned.pth"]
    monkeypatch.delenv("IFRNET_OFFLINE")
    with pytest.raises(InputError, match=r"could not download .*junk\.pth: it is not a PyTorch checkpoint"):
        resolve_weights("IFRNet_S", http_server.url("/mine/junk.pth"), progress=False)
    folder = first.path.parent.name
    assert files_under(first.path.parents[1]) == sorted([".download.lock", folder, f"{folder}/finetuned.pth", "SHA256SUMS"])
    with pytest.raises(CheckpointError, match="downloads are off"):
        resolve_weights("IFRNet_S", http_server.url("/mine/other.pth"), offline=True)


def test_a_published_file_changed_after_download_is_refused_and_the_tool_replaces_it(tmp_path, http_server, weights,
                                                                                     monkeypatch, online, capsys):
    import models.checkpoint as checkpoint_module
    from tools.download_checkpoints import main

    monkeypatch.setattr(checkpoint_module, "CHECKPOINT_DIR", tmp_path)
    http_server.files[f"/m/{SMALL}"] = weights["IFRNet_S"]
    online(http_server.url("/m/"))
    main(["--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", str(tmp_path), "--no_progress"])
    target = tmp_path / "IFRNet_small" / SMALL
    changed = bytearray(weights["IFRNet_S"])
    changed[len(changed) // 2] ^= 0xFF  # one byte inside a weight tensor
    target.write_bytes(bytes(changed))
    with pytest.raises(CheckpointError, match="SHA-256 differs"):
        resolve_weights("IFRNet_S")
    main(["--variant", "IFRNet_S", "--task", "Vimeo90K", "--output", str(tmp_path), "--no_progress"])
    assert target.read_bytes() == weights["IFRNet_S"] and "downloading it again" in capsys.readouterr().err
