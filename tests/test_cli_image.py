"""`remaster image` end to end, as a user runs it: a real process, real files."""

import numpy as np
import pytest

from remaster.media.images import read_image, write_image
from tests.helpers import run_remaster as run


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(0)
    gradient = np.tile(np.linspace(0, 255, 96), (64, 1)).astype(np.uint8)
    write_image(folder / "grey.png", gradient)
    write_image(folder / "grey16.tif", (gradient.astype(np.uint16) * 257))
    write_image(folder / "colour.jpg", (rng.random((50, 70, 3)) * 255).astype(np.uint8))
    reference = np.zeros((80, 120, 3), np.uint8)
    reference[..., 2] = 220  # blue
    write_image(folder / "ref.png", reference)
    return folder


def test_grey_png_to_color_png(media, tmp_path, small_checkpoint):
    out = tmp_path / "out.png"
    result = run(
        "image",
        media / "grey.png",
        "--ref",
        media / "ref.png",
        "-o",
        out,
        "--weights",
        small_checkpoint,
    )
    assert result.returncode == 0, result.stderr
    color = read_image(out)
    assert color.shape == (64, 96, 3) and color.dtype == np.uint8
    assert color[..., 2].mean() > color[..., 0].mean() + 5  # the blue reference shows


def test_16_bit_tiff_stays_16_bit_and_color_jpeg_works(media, tmp_path, small_checkpoint):
    out = tmp_path / "out.tif"
    result = run(
        "image",
        media / "grey16.tif",
        "--ref",
        media / "ref.png",
        "--ref",
        media / "colour.jpg",
        "-o",
        out,
        "--weights",
        small_checkpoint,
    )
    assert result.returncode == 0, result.stderr
    assert read_image(out).dtype == np.uint16
    out = tmp_path / "colour-out.jpg"
    result = run(
        "image",
        media / "colour.jpg",
        "--ref",
        media / "ref.png",
        "-o",
        out,
        "--weights",
        small_checkpoint,
        "--working-size",
        "128",
    )
    assert result.returncode == 0, result.stderr
    assert read_image(out).shape == (50, 70, 3)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_bad_inputs_give_one_line_and_no_output(media, tmp_path, small_checkpoint):
    out = tmp_path / "out.png"
    weights = ["--weights", small_checkpoint]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    cases = [
        (
            ["image", tmp_path / "missing.png", "--ref", media / "ref.png", "-o", out, *weights],
            ["missing.png", "no such file"],
        ),
        (
            ["image", tmp_path / "broken.png", "--ref", media / "ref.png", "-o", out, *weights],
            ["broken.png", "cannot be decoded"],
        ),
        (
            ["image", media / "grey.png", "--ref", media / "grey.png", "-o", out, *weights],
            ["grey.png", "reference must be in colour"],
        ),
        (
            [
                "image",
                media / "grey.png",
                "--ref",
                media / "ref.png",
                "-o",
                tmp_path / "o.gif",
                *weights,
            ],
            ["o.gif", "use .png, .jpg or .tif"],
        ),
        (
            [
                "image",
                media / "grey.png",
                "--ref",
                media / "ref.png",
                "-o",
                out,
                "--weights",
                media / "ref.png",
            ],
            ["ref.png", "not a readable safetensors file"],
        ),
    ]
    for args, fragments in cases:
        result = run(*args)
        assert_one_line_error(result, *fragments)
        assert "Traceback" not in result.stderr
        assert not out.exists()


def test_output_may_not_overwrite_an_input(media, small_checkpoint):
    before = (media / "grey.png").read_bytes()
    result = run(
        "image",
        media / "grey.png",
        "--ref",
        media / "ref.png",
        "-o",
        media / "grey.png",
        "--weights",
        small_checkpoint,
    )
    assert_one_line_error(result, "grey.png", "is also an input")
    assert (media / "grey.png").read_bytes() == before


def test_debug_flag_shows_the_traceback(media, tmp_path):
    result = run(
        "--debug",
        "image",
        tmp_path / "missing.png",
        "--ref",
        media / "ref.png",
        "-o",
        tmp_path / "x.png",
        "--weights",
        tmp_path / "w.safetensors",
    )
    assert result.returncode == 1 and "Traceback" in result.stderr
