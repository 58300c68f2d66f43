"""`remaster check` and `remaster preview`, and what makes a reference unusable or poor."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster.media.images import read_image
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip

FRAMES = 30


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    """A 30-frame, two-shot clip at 29.97 with two colour references beside it."""
    folder = tmp_path_factory.mktemp("job")
    write_clip(folder / "film.mp4", frames=FRAMES)
    for name, seed in (("a.png", 1), ("b.png", 2)):
        cv2.imwrite(str(folder / name), photo_like(144, 192, seed)[..., ::-1])
    return folder


def refs(folder: Path, text: str, name: str = "refs.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def check(folder: Path, refs_path: Path):
    return run_remaster("check", folder / "film.mp4", "--refs", refs_path)


def test_check_prints_the_shot_table(job):
    path = refs(
        job,
        'shots:\n  - start: 0\n    ref: a.png\n  - start: "00:00:00;15"\n'
        "    ref: b.png\n    keyframe: 20\n",
    )
    result = check(job, path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].endswith("30 frames at 29.970 frames/s, 128x96; 2 shots")
    assert lines[2].split() == ["1", "0", "14", "15", "00:00:00;00", "-", "-", "a.png"]
    assert lines[3].split() == ["2", "15", "29", "15", "00:00:00;15", "20", "-", "b.png"]
    assert lines[-1].startswith("ok:")
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "shots:\n  - start: 0\n    ref: a.png\n  - start: 45\n    ref: b.png\n",
            "line 4: this entry starts at frame 45, past the film's last frame 29",
        ),
        (
            "shots:\n  - start: 0\n    ref: a.png\n    keyframe: 31\n",
            "line 2: keyframe 31 is past the film's last frame 29",
        ),
        (
            "shots:\n  - start: 10\n    ref: a.png\n  - start: 5\n    ref: b.png\n",
            "line 4: this entry starts at frame 5, not after the entry on line 2",
        ),
        ("shots:\n  - start: 0\n    ref: missing.png\n", "reference 'missing.png' not found"),
    ],
)
def test_check_stops_at_the_first_problem_with_one_line(job, text, expected):
    result = check(job, refs(job, text))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert "refs.yaml" in result.stderr and "Traceback" not in result.stderr


def write_reference(folder: Path, name: str, image: np.ndarray) -> Path:
    cv2.imwrite(str(folder / name), image)
    return folder / name


def test_a_grey_or_small_reference_is_a_warning(job):
    write_reference(job, "grey.png", np.full((144, 192, 3), 120, np.uint8))
    write_reference(job, "small.png", photo_like(60, 80, 3)[..., ::-1])
    path = refs(
        job,
        "shots:\n  - start: 0\n    ref: grey.png\n  - start: 15\n    ref: small.png\n",
        "warn.yaml",
    )
    result = check(job, path)
    assert result.returncode == 0
    warnings = result.stderr.splitlines()
    assert len(warnings) == 2
    assert "grey.png: is grey (it carries no colour" in warnings[0]
    assert "small.png: is only 80x60 pixels" in warnings[1]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (photo_like(20, 30, 4)[..., ::-1], "is 30x20 pixels, too small"),
        (
            np.concatenate([photo_like(144, 192, 5), np.full((144, 192, 1), 255, np.uint8)], 2)
            * np.array([1, 1, 1, 0], np.uint8)
            + np.array([0, 0, 0, 128], np.uint8),
            "100% of it is transparent",
        ),
        (np.full((144, 192), 90, np.uint8), "is a grey image; a reference must be in colour"),
    ],
    ids=["tiny", "transparent", "single-channel grey"],
)
def test_an_unusable_reference_is_an_error(job, image, expected):
    write_reference(job, "bad.png", image)
    result = check(job, refs(job, "shots:\n  - start: 0\n    ref: bad.png\n", "bad.yaml"))
    assert result.returncode == 1
    assert "bad.png" in result.stderr and expected in result.stderr, result.stderr


def test_an_opaque_alpha_channel_is_fine(job):
    opaque = np.concatenate([photo_like(144, 192, 6), np.full((144, 192, 1), 255, np.uint8)], 2)
    write_reference(job, "opaque.png", opaque)
    result = check(job, refs(job, "shots:\n  - start: 0\n    ref: opaque.png\n", "ok.yaml"))
    assert result.returncode == 0, result.stderr


def test_preview_writes_a_review_sheet_a_row_per_shot(job):
    path = refs(
        job,
        "shots:\n  - start: 0\n    ref: a.png\n  - start: 15\n    ref: b.png\n    keyframe: 20\n",
        "preview.yaml",
    )
    result = run_remaster(
        "preview", job / "film.mp4", "--refs", path, "-o", job / "sheet.png", "--method", "embed"
    )
    assert result.returncode == 0, result.stderr
    sheet = read_image(job / "sheet.png")
    assert sheet.shape[0] == 2 * (180 + 22)
    row = sheet[:180]
    grey_panel = row[:, :240]  # 128x96 frames shown 240 wide
    assert np.array_equal(grey_panel[..., 0], grey_panel[..., 2])
    result_panel = row[:, -240:]
    assert np.abs(result_panel[..., 0].astype(int) - result_panel[..., 2]).mean() > 3  # colour
