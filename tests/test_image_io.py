"""Tests for utils.image_io: mode conversions, error messages, atomic writes, GIFs."""
import numpy as np
import pytest
import torch
from PIL import Image

from utils.image_io import (
    ImageError,
    image_size,
    image_to_tensor,
    read_image,
    save_gif,
    tensor_to_image,
    write_image,
)


def _rgb(h=7, w=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_round_trip_creates_parents(tmp_path):
    data = _rgb()
    path = tmp_path / "deep" / "dir" / "x.png"
    write_image(path, data)
    np.testing.assert_array_equal(read_image(path), data)
    assert [p.name for p in path.parent.iterdir()] == ["x.png"]


def test_write_grayscale_2d(tmp_path):
    gray = _rgb()[..., 0]
    write_image(tmp_path / "g.png", gray)
    out = read_image(tmp_path / "g.png")
    assert out.shape == (7, 9, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray)


def test_write_rejects_float_and_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "f.png", np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="extension"):
        write_image(tmp_path / "f.notanimage", _rgb())
    assert list(tmp_path.iterdir()) == []


def test_read_grayscale(tmp_path):
    gray = _rgb(seed=1)[..., 0]
    Image.fromarray(gray, mode="L").save(tmp_path / "l.png")
    out = read_image(tmp_path / "l.png")
    assert out.dtype == np.uint8 and out.shape == (7, 9, 3)
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=2))


def test_read_16bit_grayscale(tmp_path):
    values = np.array([[0, 257, 65535], [128, 300, 32896]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    out = read_image(tmp_path / "g16.png")
    expected = np.rint(values / 257.0).astype(np.uint8)
    np.testing.assert_array_equal(out[..., 0], expected)
    np.testing.assert_array_equal(out[..., 2], expected)
    assert out[0, 2, 1] == 255 and out[0, 1, 0] == 1


def test_float_tiff_in_0_1_is_scaled_to_8_bits_and_one_on_the_0_255_scale_is_kept(tmp_path):
    """A float TIFF holds [0, 1] (what image libraries write for float data): 0.5 is grey 128,
    not a black frame; float data beyond 1 is on the 0-255 scale and read as such."""
    unit = np.array([[0.0, 0.25, 0.5], [0.75, 1.0, 0.003]], dtype=np.float32)
    Image.fromarray(unit, mode="F").save(tmp_path / "unit.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "unit.tif")[..., 1], np.rint(unit * 255).astype(np.uint8))
    grey = np.array([[0.0, 1.0, 127.6], [255.0, 300.0, -4.0]], dtype=np.float32)
    Image.fromarray(grey, mode="F").save(tmp_path / "grey.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "grey.tif")[..., 0], [[0, 1, 128], [255, 255, 0]])


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_is_applied_as_viewers_show_the_picture(tmp_path, suffix):
    """A phone's portrait photo is stored 64 wide and 48 high with orientation 6 (turn 90 degrees
    clockwise to view): it is read, and its size reported, 48 wide and 64 high, turned that way."""
    stored = np.zeros((48, 64, 3), np.uint8)
    stored[:, :, 0] = np.linspace(0, 255, 64, dtype=np.uint8)[None, :]  # red grows to the right
    stored[:, :, 1] = np.linspace(0, 255, 48, dtype=np.uint8)[:, None]  # green grows downwards
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"portrait{suffix}"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    image = read_image(path)
    assert image.shape == (64, 48, 3) and image_size(path) == (64, 48)
    clockwise = np.rot90(stored, k=-1)
    assert np.abs(image.astype(int) - clockwise).max() <= (0 if suffix == ".png" else 12)
    write_image(tmp_path / "plain.png", stored)  # without the tag nothing turns
    assert read_image(tmp_path / "plain.png").shape == (48, 64, 3) and image_size(tmp_path / "plain.png") == (48, 64)


def test_read_palette(tmp_path):
    data = _rgb(seed=2)
    image = Image.fromarray(data).quantize(colors=16)
    assert image.mode == "P"
    image.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), np.asarray(image.convert("RGB")))


def test_read_palette_with_transparency_refused(tmp_path):
    image = Image.fromarray(_rgb(seed=3)).quantize(colors=8)
    image.putpixel((0, 0), 0)
    image.save(tmp_path / "pt.png", transparency=0)
    with pytest.raises(ImageError, match="transparent"):
        read_image(tmp_path / "pt.png")


def test_read_palette_with_unused_transparent_index_is_opaque(tmp_path):
    image = Image.fromarray(_rgb(seed=3)).quantize(colors=8)
    image.save(tmp_path / "pu.png", transparency=200)  # index not used by any pixel
    np.testing.assert_array_equal(read_image(tmp_path / "pu.png"), np.asarray(image.convert("RGB")))


def test_read_opaque_rgba_drops_alpha(tmp_path):
    data = _rgb(seed=4)
    rgba = np.concatenate([data, np.full((7, 9, 1), 255, np.uint8)], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), data)


def test_read_transparent_rgba_refused(tmp_path):
    rgba = np.concatenate([_rgb(seed=5), np.full((7, 9, 1), 255, np.uint8)], axis=2)
    rgba[3, 4, 3] = 254
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    with pytest.raises(ImageError, match="transparent") as info:
        read_image(tmp_path / "t.png")
    assert "t.png" in str(info.value) and "\n" not in str(info.value)


def test_read_cmyk(tmp_path):
    Image.new("CMYK", (5, 4), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=100)
    out = read_image(tmp_path / "c.jpg")
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert out[..., 0].min() > 200 and out[..., 1].max() < 60


def test_missing_file(tmp_path):
    path = tmp_path / "nope.png"
    with pytest.raises(ImageError, match="image not found") as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_text_file_named_png(tmp_path):
    path = tmp_path / "fake.png"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageError, match="cannot read image") as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_png(tmp_path):
    path = tmp_path / "cut.png"
    write_image(path, np.random.default_rng(6).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ImageError, match="cannot read image"):
        read_image(path)


def test_tensor_round_trip_exact():
    values = np.arange(256, dtype=np.uint8)
    data = np.stack([values, values[::-1], np.roll(values, 7)], axis=1).reshape(16, 16, 3)
    tensor = image_to_tensor(data)
    assert tensor.shape == (1, 3, 16, 16) and tensor.dtype == torch.float32
    assert float(tensor.min()) == 0.0 and float(tensor.max()) == 1.0
    np.testing.assert_array_equal(tensor_to_image(tensor), data)
    np.testing.assert_array_equal(tensor_to_image(tensor[0]), data)


def test_tensor_to_image_clamps_and_rounds():
    row = torch.tensor([-0.5, 0.4 / 255, 1.6 / 255, 2.0, float("nan")])
    tensor = row.view(1, 1, 1, 5).expand(1, 3, 1, 5)
    out = tensor_to_image(tensor)
    assert out.shape == (1, 5, 3) and out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 0, 2, 255, 0]


def test_tensor_shape_validation():
    with pytest.raises(ValueError, match="H, W, 3"):
        image_to_tensor(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="3, H, W"):
        tensor_to_image(torch.zeros(2, 3, 4, 4))


def test_save_gif_frame_count(tmp_path):
    frames = [_rgb(8, 10, seed=s) for s in range(4)]
    path = tmp_path / "out" / "anim.gif"
    save_gif(path, frames, duration_ms=50)
    with Image.open(path) as gif:
        assert gif.n_frames == 4
        assert gif.size == (10, 8)


def test_save_gif_validation(tmp_path):
    with pytest.raises(ValueError, match="at least 1 frame"):
        save_gif(tmp_path / "a.gif", [])
    with pytest.raises(ValueError, match="frame 1"):
        save_gif(tmp_path / "a.gif", [_rgb(8, 10), _rgb(8, 11)])
    assert not (tmp_path / "a.gif").exists()


def test_image_files_lists_image_suffixes_of_any_case_sorted_and_skips_folders(tmp_path):
    from utils.image_io import image_files

    for name in ("b.jpg", "a.PNG", "c.ppm", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "d.png").mkdir()
    assert [p.name for p in image_files(tmp_path)] == ["a.PNG", "b.jpg", "c.ppm"]
