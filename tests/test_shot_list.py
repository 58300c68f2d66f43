"""`remaster shots`: cuts and fades found on real encoded clips, keyframes for a colorist, the
refs file, and the whole workflow through to a colorized film."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster.commands import cut_detection
from remaster.media.images import read_image
from remaster.media.planes import BT601, rgb_from_planes
from remaster.media.video import decode
from remaster.refs.cut_lists import read_cuts
from remaster.refs.refs_file import format_timecode, load_refs, parse_timecode
from tests.helpers import run_remaster
from tests.media import grey_of, panning_frames, write_frames

SHOT = 14
FADE = 4


def three_shots() -> list[np.ndarray]:
    """RGB frames: three panning shots of different scenes, the last two joined by a fade
    through black (FADE frames out, FADE in). Cuts at SHOT and 2 * SHOT."""
    first, second, third = (panning_frames(SHOT, seed=seed) for seed in (1, 2, 3))
    for k in range(FADE):
        second[-1 - k] = (second[-1 - k] * (k / FADE)).astype(np.uint8)
        third[k] = (third[k] * ((k + 1) / (FADE + 1))).astype(np.uint8)
    return first + second + third


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path_factory.mktemp("film")
    truth = three_shots()
    return write_frames(folder / "film.mp4", [grey_of(rgb) for rgb in truth]), truth


def test_shots_finds_the_cuts_and_fades_and_writes_a_refs_file_to_paint(film, tmp_path):
    path, _ = film
    cut_lists = [tmp_path / "cuts.csv", tmp_path / "cuts.otio"]
    result = run_remaster(
        "shots",
        path,
        "-o",
        tmp_path / "shots.yaml",
        *[item for cut_list in cut_lists for item in ("--cut-list", cut_list)],
    )
    assert result.returncode == 0, result.stderr
    assert "3 shots in 42 frames" in result.stdout and "frames/s" in result.stdout
    for cut_list in cut_lists:  # for an editing tool, read back as remaster reads them
        assert read_cuts(cut_list, Fraction(10), 42) == [SHOT, 2 * SHOT]
    plan = load_refs(tmp_path / "shots.yaml", Fraction(10))
    assert [entry.start.frame for entry in plan.entries] == [0, SHOT, 2 * SHOT]
    for number, entry in enumerate(plan.entries):
        (keyframe,) = entry.keyframes
        start = number * SHOT
        # Mid-shot, and clear of the fade at the end of the second shot and start of the third.
        assert start + SHOT // 4 <= keyframe < start + SHOT - SHOT // 4
        (reference,) = entry.references
        assert reference.parent == tmp_path / "shots-keyframes"
        image = read_image(reference)
        assert image.shape == (96, 128, 3)
        assert np.array_equal(image[..., 0], image[..., 1])  # grey, ready to paint
    text = (tmp_path / "shots.yaml").read_text()
    assert "- start: 14  # 00:00:01:04, 14 frames" in text
    sheet = read_image(tmp_path / "shots-sheet.png")
    assert sheet.shape[0] > 96 // 2 and sheet.shape[1] >= 3 * 128


def test_painted_keyframes_color_the_film(film, tmp_path):
    """The whole workflow: shots, a colorist paints the keyframes (here: the true colours of
    those frames), then the film is coloured from them, close to the truth."""
    path, truth = film
    assert run_remaster("shots", path, "-o", tmp_path / "shots.yaml").returncode == 0
    plan = load_refs(tmp_path / "shots.yaml", Fraction(10))
    for entry in plan.entries:
        (reference,), (keyframe,) = entry.references, entry.keyframes
        cv2.imwrite(str(reference), truth[keyframe][..., ::-1])
    output = tmp_path / "colour.mp4"
    result = run_remaster(path, "--refs", tmp_path / "shots.yaml", "-o", output, "-q")
    assert result.returncode == 0, result.stderr
    colored = [cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB) for rgb in decoded_rgb(output)]
    true_lab = [cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB) for rgb in truth]
    assert len(colored) == len(true_lab)
    error = np.mean(
        [
            np.abs(c[..., 1:] - t[..., 1:].astype(int)).mean()
            for c, t in zip(colored, true_lab, strict=True)
        ]
    )
    grey_error = np.mean([np.abs(t[..., 1:].astype(int) - 128).mean() for t in true_lab])
    assert error < 0.4 * grey_error


def decoded_rgb(path: Path) -> list[np.ndarray]:
    return [
        rgb_from_planes(picture.y, picture.u, picture.v, BT601, False) for picture in decode(path)
    ]


def test_a_cut_list_it_cannot_write_is_refused_before_any_work(film, tmp_path):
    path, _ = film  # 10 frames/s: no SMPTE timecode, so no EDL
    result = run_remaster(
        "shots", path, "-o", tmp_path / "s.yaml", "--cut-list", tmp_path / "s.edl"
    )
    assert result.returncode == 1 and "s.edl: CMX 3600 timecodes exist only at" in result.stderr
    assert sorted(tmp_path.iterdir()) == []


def test_painted_keyframes_are_never_overwritten(film, tmp_path):
    path, _ = film
    assert run_remaster("shots", path, "-o", tmp_path / "first.yaml").returncode == 0
    painted = sorted((tmp_path / "first-keyframes").iterdir())
    before = [p.read_bytes() for p in painted]
    again = run_remaster(
        "shots", path, "-o", tmp_path / "second.yaml", "--keyframes", tmp_path / "first-keyframes"
    )
    assert again.returncode == 1
    assert again.stderr.startswith("error: ") and "perhaps painted" in again.stderr
    assert "Traceback" not in again.stderr
    assert [p.read_bytes() for p in painted] == before
    assert not (tmp_path / "second.yaml").exists()


def test_repeated_frames_of_a_rate_conversion_do_not_cut_a_shot(monkeypatch):
    """The example reel's handheld cockatoo was retimed from 20 to 29.97 frames/s by repeating
    every third frame: three shots in all. Fed to the adaptive detector, the repeats' zero
    change makes the head's quick moves look like cuts."""
    reel = Path(__file__).parent.parent / "examples" / "film" / "reel.mp4"

    def cuts_found() -> list[int]:
        detector = cut_detection.cut_detector("scenedetect", Fraction(30000, 1001))
        for picture in decode(reel):
            detector.feed(picture.index, cut_detection.analysis_grey(picture.y, full_range=False))
        return detector.finish()

    assert cuts_found() == [90, 180]
    monkeypatch.setattr(cut_detection, "REPEATED", -1.0)  # feed the repeats in
    assert len(cuts_found()) > 2


@pytest.mark.parametrize(
    ("rate", "frame", "text"),
    [
        (Fraction(24), 86399, "00:59:59:23"),
        (Fraction(25), 90000, "01:00:00:00"),
        (Fraction(30000, 1001), 1800, "00:01:00;02"),
        (Fraction(30000, 1001), 17982, "00:10:00;00"),
        (Fraction(30000, 1001), 1800, "00:01:00;02"),
        (Fraction(60000, 1001), 3600, "00:01:00;04"),
        (Fraction(24000, 1001), 1440, "00:01:00:00"),
    ],
)
def test_timecodes_are_written_as_editors_show_them(rate, frame, text):
    assert format_timecode(frame, rate) == text
    assert parse_timecode(text, rate) == frame


def test_the_cut_detectors_are_named():
    with pytest.raises(ValueError, match="unknown cut detector"):
        cut_detection.cut_detector("magic", Fraction(24))


def test_a_16_bit_scan_sequence_has_its_shots_found(tmp_path):
    """Film scans arrive as numbered frames: two panning shots as 16-bit grey PNGs."""
    scans = tmp_path / "scans"
    scans.mkdir()
    frames = panning_frames(SHOT, seed=1) + panning_frames(SHOT, seed=2)
    for number, rgb in enumerate(frames):
        grey16 = grey_of(rgb)[..., 0].astype(np.uint16) * 257 + number % 7  # bits below 8
        cv2.imwrite(str(scans / f"scan_{number:06d}.png"), grey16)
    result = run_remaster("shots", scans, "--fps", "24", "-o", tmp_path / "shots.yaml")
    assert result.returncode == 0, result.stderr
    plan = load_refs(tmp_path / "shots.yaml", Fraction(24))
    assert [entry.start.frame for entry in plan.entries] == [0, SHOT]
    assert "--fps 24" in (tmp_path / "shots.yaml").read_text()
    missing_rate = run_remaster("shots", scans, "-o", tmp_path / "again.yaml")
    assert missing_rate.returncode == 1 and "--fps" in missing_rate.stderr
