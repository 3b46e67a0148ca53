"""Tests for utils.flow_io: on-disk formats, round trips and validation."""
import os
import struct

import numpy as np
import pytest

from utils.flow_io import read_flo, read_flow, read_pfm, write_flo, write_pfm


def _random(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 10


def test_flo_round_trip_exact_odd_size(tmp_path):
    flow = _random((37, 53, 2))
    path = tmp_path / "a.flo"
    write_flo(path, flow)
    back = read_flo(path)
    assert back.dtype == np.float32 and back.shape == (37, 53, 2)
    np.testing.assert_array_equal(back, flow)
    assert os.path.getsize(path) == 12 + 37 * 53 * 2 * 4
    assert [p.name for p in tmp_path.iterdir()] == ["a.flo"]  # no temporary left behind


def test_flo_hand_written_header_reads_correctly(tmp_path):
    height, width = 2, 3
    flow = np.arange(height * width * 2, dtype=np.float32).reshape(height, width, 2)
    raw = struct.pack("<f", 202021.25) + struct.pack("<ii", width, height)
    raw += struct.pack(f"<{flow.size}f", *flow.ravel().tolist())
    assert raw[:4] == b"PIEH"
    path = tmp_path / "hand.flo"
    path.write_bytes(raw)
    back = read_flo(path)
    np.testing.assert_array_equal(back, flow)
    # u at row 1, column 2 is element (1*3 + 2)*2 in the interleaved stream
    assert back[1, 2, 0] == 10 and back[1, 2, 1] == 11


def test_flo_written_bytes_match_format(tmp_path):
    flow = _random((4, 5, 2), seed=1)
    path = tmp_path / "w.flo"
    write_flo(path, flow)
    raw = path.read_bytes()
    assert raw[:4] == b"PIEH"
    assert struct.unpack("<ii", raw[4:12]) == (5, 4)
    np.testing.assert_array_equal(np.frombuffer(raw[12:], "<f4"), flow.ravel())


def test_flo_bad_magic_names_file(tmp_path):
    path = tmp_path / "bad.flo"
    path.write_bytes(b"XXXX" + struct.pack("<ii", 1, 1) + b"\0" * 8)
    with pytest.raises(ValueError, match="bad.flo"):
        read_flo(path)


def test_flo_truncated_names_file(tmp_path):
    path = tmp_path / "short.flo"
    write_flo(path, _random((6, 7, 2)))
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="short.flo") as info:
        read_flo(path)
    assert "truncated" in str(info.value)


def test_flo_write_rejects_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        write_flo(tmp_path / "x.flo", np.zeros((4, 5, 3), np.float32))
    assert not (tmp_path / "x.flo").exists()


@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 3)])
def test_pfm_round_trip(tmp_path, shape):
    data = _random(shape, seed=2)
    path = tmp_path / "d.pfm"
    write_pfm(path, data)
    back = read_pfm(path)
    assert back.dtype == np.float32 and back.shape == shape
    np.testing.assert_array_equal(back, data)


def test_pfm_accepts_single_channel_3d(tmp_path):
    data = _random((5, 4, 1), seed=3)
    write_pfm(tmp_path / "d.pfm", data)
    np.testing.assert_array_equal(read_pfm(tmp_path / "d.pfm"), data[..., 0])


def test_pfm_hand_written_big_endian_rows_flipped(tmp_path):
    # Stored bottom row first: bottom row = [1, 2, 3], top row = [4, 5, 6].
    raw = b"Pf\n3 2\n1.0\n" + struct.pack(">6f", 1, 2, 3, 4, 5, 6)
    path = tmp_path / "be.pfm"
    path.write_bytes(raw)
    back = read_pfm(path)
    np.testing.assert_array_equal(back, np.array([[4, 5, 6], [1, 2, 3]], np.float32))


def test_pfm_hand_written_little_endian_three_channels(tmp_path):
    values = np.arange(2 * 1 * 3, dtype=np.float32)
    raw = b"PF\n1 2\n-1.0\n" + values.astype("<f4").tobytes()
    path = tmp_path / "le.pfm"
    path.write_bytes(raw)
    back = read_pfm(path)
    np.testing.assert_array_equal(back, values.reshape(2, 1, 3)[::-1])


def test_pfm_malformed_header_names_file(tmp_path):
    path = tmp_path / "broken.pfm"
    path.write_bytes(b"P6\n3 2\n255\n" + b"\0" * 18)
    with pytest.raises(ValueError, match="broken.pfm"):
        read_pfm(path)
    path.write_bytes(b"PF\nthree two\n-1.0\n")
    with pytest.raises(ValueError, match="broken.pfm"):
        read_pfm(path)


def test_pfm_truncated_names_file(tmp_path):
    path = tmp_path / "cut.pfm"
    path.write_bytes(b"Pf\n3 2\n-1.0\n" + b"\0" * 10)
    with pytest.raises(ValueError, match="cut.pfm"):
        read_pfm(path)


def test_read_flow_dispatch(tmp_path):
    flow = _random((6, 5, 2), seed=4)
    write_flo(tmp_path / "f.flo", flow)
    np.testing.assert_array_equal(read_flow(tmp_path / "f.flo"), flow)
    three = np.concatenate([flow, np.zeros((6, 5, 1), np.float32)], axis=2)
    write_pfm(tmp_path / "f.pfm", three)
    np.testing.assert_array_equal(read_flow(tmp_path / "f.pfm"), flow)
    with pytest.raises(ValueError, match="f.png"):
        read_flow(tmp_path / "f.png")
