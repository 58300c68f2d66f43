"""Frame headers read without decoding agree with the decoded frames."""

import cv2
import numpy as np
import pytest

from remaster.media.headers import Header, read_header
from remaster.media.video import encode_dpx


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_png_and_tiff_headers_give_size_and_depth(tmp_path, suffix, dtype, channels):
    shape = (20, 30) if channels == 1 else (20, 30, 3)
    path = tmp_path / f"frame{suffix}"
    cv2.imwrite(str(path), np.full(shape, 7, dtype))
    assert read_header(path) == Header(30, 20, np.dtype(dtype).itemsize * 8)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_dpx_header_gives_size_and_depth(tmp_path, dtype, channels):
    shape = (20, 30) if channels == 1 else (20, 30, 3)
    path = tmp_path / "frame.dpx"
    path.write_bytes(encode_dpx(np.full(shape, 7, dtype)))
    assert read_header(path) == Header(30, 20, np.dtype(dtype).itemsize * 8)


def test_a_file_of_another_kind_has_no_header(tmp_path):
    path = tmp_path / "frame.png"
    path.write_bytes(b"not an image at all")
    assert read_header(path) is None
