import numpy as np
import pytest

from remaster.errors import InputError, OutputError
from remaster.media.images import read_image, write_image


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_round_trip(tmp_path, suffix, dtype, channels):
    shape = (17, 23, 3) if channels == 3 else (17, 23)
    image = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
    path = tmp_path / f"image{suffix}"
    write_image(path, image)
    back = read_image(path)
    assert back.dtype == dtype and np.array_equal(back, image)


def test_rgb_order_is_kept(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    image[..., 0] = 255  # red
    for suffix in (".png", ".jpg", ".tif"):
        write_image(tmp_path / f"red{suffix}", image)
        back = read_image(tmp_path / f"red{suffix}")
        assert back[..., 0].min() > 240 and back[..., 2].max() < 15


def test_jpeg_of_16_bit_is_reduced_to_8_bit(tmp_path):
    image = np.full((8, 8, 3), 40000, np.uint16)
    write_image(tmp_path / "x.jpg", image)
    back = read_image(tmp_path / "x.jpg")
    assert back.dtype == np.uint8 and abs(int(back.mean()) - 40000 // 257) <= 2


def test_alpha_is_dropped(tmp_path):
    import cv2

    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., 2] = 255  # red in BGRA
    rgba[..., 3] = 128
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    back = read_image(tmp_path / "alpha.png")
    assert back.shape == (5, 5, 3) and back[0, 0].tolist() == [255, 0, 0]


def test_unreadable_inputs_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(InputError, match="unsupported image type '.txt'"):
        read_image(tmp_path / "notes.txt")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises(InputError, match="corrupt.png: cannot be decoded"):
        read_image(corrupt)
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="cannot be decoded"):
        read_image(tmp_path / "empty.jpg")


def test_bad_outputs_name_the_file_and_leave_nothing(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(OutputError, match="cannot write '.gif'"):
        write_image(tmp_path / "x.gif", image)
    with pytest.raises(OutputError, match="does not exist"):
        write_image(tmp_path / "no" / "x.png", image)
    assert list(tmp_path.iterdir()) == []


def test_exif_orientation_is_applied(tmp_path):
    from PIL import Image

    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = 255
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image.save(tmp_path / "rotated.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "rotated.jpg").shape == (40, 20, 3)
