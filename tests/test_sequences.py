"""Image sequences in and out: finding and checking them, and round trips through the film
pipeline that keep a scan's grey bit for bit at 8 and 16 bits."""

from fractions import Fraction

import cv2
import numpy as np
import pytest

from model.checkpoint import DEFAULT_WEIGHTS
from remaster.errors import InputError, OutputError
from remaster.media.images import write_image
from remaster.media.planes import BT709
from remaster.media.sequences import find_sequence, grey_of, parse_rate
from remaster.media.video import read_dpx
from remaster.run.film import FilmOptions, colorize_film
from remaster.run.journal import work_folder
from tests.helpers import run_remaster
from tests.media import photo_like, write_sequence

shipped = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped weights")


def color(source, output, photo_reference, small_frame_colorizer, **settings):
    options = FilmOptions(
        source=source,
        output=output,
        ref=photo_reference,
        fps=settings.pop("fps", Fraction(24)),
        method="embed",
        device="cpu",
        quiet=True,
        **settings,
    )
    return colorize_film(options, small_frame_colorizer)


def luma(rgb: np.ndarray) -> np.ndarray:
    """The output's grey: BT.709 luma of its whole RGB values, rounded."""
    kr, kb = BT709
    return np.round(rgb.astype(np.float64) @ np.array([kr, 1 - kr - kb, kb]))


def read_rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]


def assert_colored(rgb: np.ndarray):
    spread = rgb.astype(np.float64).max(axis=2) - rgb.astype(np.float64).min(axis=2)
    assert spread.mean() > np.iinfo(rgb.dtype).max / 50  # not grey: the chroma is not neutral


def test_rates_for_the_fps_option():
    assert parse_rate("24") == 24
    assert parse_rate("23.976") == Fraction(24000, 1001)
    assert parse_rate("29.97") == Fraction(30000, 1001)
    assert parse_rate("24000/1001") == Fraction(24000, 1001)
    assert parse_rate("12.5") == Fraction(25, 2)
    for bad in ("0", "-24", "fast", "1/0"):
        with pytest.raises(InputError, match="--fps"):
            parse_rate(bad)


def test_a_folder_and_its_pattern_are_the_same_sequence(tmp_path):
    write_sequence(tmp_path / "reel", 3, bits=16, first=86400)
    (tmp_path / "reel" / "notes.txt").write_text("not a frame")
    by_folder = find_sequence(tmp_path / "reel")
    by_pattern = find_sequence(tmp_path / "reel" / "scan_%06d.png")
    assert by_folder == by_pattern
    assert (by_folder.first, by_folder.count, by_folder.bits) == (86400, 3, 16)
    assert (by_folder.width, by_folder.height) == (64, 48)
    assert by_folder.path(2).name == "scan_086402.png"


def test_unpadded_numbers_are_found_in_order(tmp_path):
    write_sequence(tmp_path, 12, bits=8, name="f%d", first=1)
    sequence = find_sequence(tmp_path)
    assert (sequence.name, sequence.first, sequence.count) == ("f%d.png", 1, 12)


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda f: (f / "scan_000002.png").unlink(), r"scan_000002.png: missing .*fill the gap"),
        (
            lambda f: write_sequence(f, 1, bits=16, size=(50, 64), first=3),
            r"scan_000003.png: is 64x50 16-bit, but scan_000000.png is 64x48 16-bit",
        ),
        (
            lambda f: write_sequence(f, 1, bits=8, first=3),
            r"scan_000003.png: is 64x48 8-bit, but .* 16-bit; .* re-export",
        ),
        (
            lambda f: (f / "scan_000003.png").write_bytes(b"\x00" * 100),
            r"scan_000003.png: cannot be decoded",
        ),
        (
            lambda f: write_sequence(f, 2, name="other_%04d"),
            r"more than one sequence .*other_%04d.png, scan_%06d.png",
        ),
    ],
)
def test_bad_sequences_are_named_before_any_work(tmp_path, spoil, message):
    write_sequence(tmp_path, 5, bits=16)
    spoil(tmp_path)
    with pytest.raises(InputError, match=message):
        find_sequence(tmp_path)


def test_empty_folders_and_patterns_matching_nothing(tmp_path):
    with pytest.raises(InputError, match="holds no PNG, TIFF or DPX frames"):
        find_sequence(tmp_path)
    with pytest.raises(InputError, match="no file matches"):
        find_sequence(tmp_path / "scan_%06d.tif")


def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path):
    write_sequence(tmp_path / "reel", 3)
    write_image(tmp_path / "ref.png", photo_like(48, 64, seed=1))
    for args, expected in [
        ([], "carries no frame rate; give it with --fps"),
        (["--fps", "24", "--audio", tmp_path / "ref.png"], "holds no sound; --audio needs"),
    ]:
        result = run_remaster(tmp_path / "reel", "--ref", tmp_path / "ref.png", *args)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert expected in result.stderr
    assert not (tmp_path / "reel-remastered").exists()


@shipped
def test_a_16_bit_grey_scan_keeps_its_grey_bit_for_bit(
    tmp_path, photo_reference, small_frame_colorizer
):
    frames = write_sequence(tmp_path / "scans", 4, bits=16, first=100)
    summary = color(tmp_path / "scans", tmp_path / "colour", photo_reference, small_frame_colorizer)
    written = sorted((tmp_path / "colour").iterdir())
    assert [path.name for path in written] == [f"scan_{n:06d}.png" for n in range(100, 104)]
    assert summary.frames == 4
    for path, grey in zip(written, frames, strict=True):
        rgb = read_rgb(path)
        assert rgb.dtype == np.uint16 and rgb.shape == (48, 64, 3)
        np.testing.assert_array_equal(luma(rgb), grey)
        assert_colored(rgb)
    assert not work_folder(tmp_path / "colour").exists()


@shipped
def test_an_8_bit_color_tiff_pattern_keeps_its_luma(
    tmp_path, photo_reference, small_frame_colorizer
):
    """A colour scan's grey is its BT.709 luma; the output is a pattern in an existing folder,
    numbered as the input."""
    frames = write_sequence(tmp_path / "in", 3, bits=8, color=True, suffix=".tif", first=7)
    (tmp_path / "out").mkdir()
    color(
        tmp_path / "in" / "scan_%06d.tif",
        tmp_path / "out" / "c_%04d.tif",
        photo_reference,
        small_frame_colorizer,
        fps=Fraction(25),
    )
    written = sorted((tmp_path / "out").iterdir())
    assert [path.name for path in written] == ["c_0007.tif", "c_0008.tif", "c_0009.tif"]
    for path, frame in zip(written, frames, strict=True):
        rgb = read_rgb(path)
        assert rgb.dtype == np.uint8
        np.testing.assert_array_equal(luma(rgb), grey_of(frame))
        assert_colored(rgb)


@shipped
def test_16_bit_dpx_in_and_out(tmp_path, photo_reference, small_frame_colorizer):
    frames = write_sequence(tmp_path / "in", 3, bits=16, color=True, suffix=".dpx")
    with pytest.raises(OutputError, match="does not exist"):
        color(
            tmp_path / "in", tmp_path / "out" / "%05d.dpx", photo_reference, small_frame_colorizer
        )
    (tmp_path / "out").mkdir()
    color(tmp_path / "in", tmp_path / "out" / "%05d.dpx", photo_reference, small_frame_colorizer)
    for number, frame in enumerate(frames):
        rgb = read_dpx(tmp_path / "out" / f"{number:05d}.dpx")
        assert rgb.dtype == np.uint16
        np.testing.assert_array_equal(luma(rgb), grey_of(frame))
        assert_colored(rgb)


@shipped
def test_existing_frames_are_never_overwritten_or_mixed(
    tmp_path, photo_reference, small_frame_colorizer
):
    write_sequence(tmp_path / "in", 2, bits=8)
    write_sequence(tmp_path / "out", 1, bits=8)
    with pytest.raises(OutputError, match="already holds frames named like scan_000000.png"):
        color(tmp_path / "in", tmp_path / "out", photo_reference, small_frame_colorizer)
    with pytest.raises(OutputError, match="would overwrite the input frames"):
        color(
            tmp_path / "in",
            tmp_path / "in" / "scan_%06d.png",
            photo_reference,
            small_frame_colorizer,
        )


@shipped
def test_a_damaged_frame_leaves_no_output_and_resume_finishes(
    tmp_path, photo_reference, small_frame_colorizer
):
    """The header is whole, so the damage shows only when frame 4 is decoded: frames 0-1
    (the segment finished by then) are kept for --resume, and nothing appears under the
    output's name."""
    frames = write_sequence(tmp_path / "in", 5, bits=16)
    damaged = tmp_path / "in" / "scan_000004.png"
    whole = damaged.read_bytes()
    damaged.write_bytes(whole[:60])
    output = tmp_path / "out"
    with pytest.raises(
        InputError, match="scan_000004.png: .*replace it, then run again with --resume"
    ):
        color(tmp_path / "in", output, photo_reference, small_frame_colorizer, segment_frames=2)
    assert not output.exists()
    damaged.write_bytes(whole)
    summary = color(
        tmp_path / "in",
        output,
        photo_reference,
        small_frame_colorizer,
        segment_frames=2,
        resume=True,
    )
    assert summary.resumed_segments == 1
    written = sorted(output.iterdir())
    assert len(written) == 5
    for path, grey in zip(written, frames, strict=True):
        np.testing.assert_array_equal(luma(read_rgb(path)), grey)
