"""Bad refs files and bad references, each a real file, through the real command line.

Every error stops a film run before any work: exit status 1, one line on stderr naming the
refs file and line and saying what to do, no traceback, and no output (nor work folder) left.
References that are unusual but usable (CMYK JPEG, 16-bit, palette, opaque alpha) are read in
their true colours; a grey one is a warning.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from remaster.media.images import read_reference
from remaster.run.journal import work_folder
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip

FRAMES = 30  # at 29.97, so drop-frame timecodes apply
RGB = photo_like(144, 192, 1)


def _with_alpha(alpha: np.ndarray) -> Image.Image:
    return Image.fromarray(np.dstack([RGB, alpha]), "RGBA")


def _palette() -> Image.Image:
    return Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE)


# name -> a writer of that reference image, made as the tool that makes such files would.
IMAGES = {
    "colour.png": lambda path: Image.fromarray(RGB).save(path),
    "cmyk.jpg": lambda path: Image.fromarray(RGB).convert("CMYK").save(path, quality=95),
    "deep.png": lambda path: cv2.imwrite(str(path), (RGB.astype(np.uint16) * 257)[..., ::-1]),
    "palette.png": lambda path: _palette().save(path),
    "palette-hole.png": lambda path: _palette().save(path, transparency=0),
    "opaque-alpha.png": lambda path: _with_alpha(np.full(RGB.shape[:2], 255, np.uint8)).save(path),
    "one-hole.png": lambda path: _with_alpha(
        np.pad(np.zeros((1, 1), np.uint8), ((0, 143), (0, 191)), constant_values=255)
    ).save(path),
    "grey-rgb.png": lambda path: Image.fromarray(RGB).convert("L").convert("RGB").save(path),
    "grey-alpha.png": lambda path: Image.fromarray(RGB).convert("LA").save(path),
    "grey.png": lambda path: Image.fromarray(RGB).convert("L").save(path),
    "truncated.png": lambda path: path.write_bytes(_png_bytes()[:300]),
    "empty.jpg": lambda path: path.write_bytes(b""),
    "text.png": lambda path: path.write_text("not an image\n"),
    "anim.gif": lambda path: Image.fromarray(RGB).save(path),
}


def _png_bytes() -> bytes:
    ok, data = cv2.imencode(".png", RGB[..., ::-1])
    return data.tobytes()


def entry(ref: str, start: object = 0, extra: str = "") -> str:
    return f"  - start: {start}\n    ref: {ref}\n{extra}"


def shots(*entries: str) -> str:
    return "shots:\n" + "".join(entries)


# id -> (refs file text or bytes, what the one line must say). Every line must also name the
# refs file; the fragments hold the line (and column) where the file says one.
ERRORS = {
    "missing image": (shots(entry("gone.png")), ["line 2", "reference 'gone.png' not found"]),
    "truncated png": (
        shots(entry("colour.png"), entry("truncated.png", 15)),
        ["line 4", "truncated.png: cannot be decoded", "export it again"],
    ),
    "empty image": (shots(entry("empty.jpg")), ["line 2", "empty.jpg: cannot be decoded"]),
    "text as png": (shots(entry("text.png")), ["line 2", "text.png: cannot be decoded"]),
    "gif": (shots(entry("anim.gif")), ["line 2", "unsupported image type '.gif'", "use PNG"]),
    "single-channel grey": (
        shots(entry("grey.png")),
        ["line 2", "is a grey image; a reference must be in colour"],
    ),
    "palette with transparency": (
        shots(entry("palette-hole.png")),
        ["line 2", "pixels of it are transparent", "flatten it"],
    ),
    "one transparent pixel": (
        shots(entry("one-hole.png")),
        ["line 2", "1 pixel of it is transparent", "flatten it"],
    ),
    "default image broken": (
        "default: truncated.png\n" + shots(entry("colour.png", 5)),
        ["'default:'", "truncated.png: cannot be decoded"],
    ),
    "yaml syntax": (
        shots(entry("colour.png")) + "   bad: [\n",
        ["line 4, column 4", "not valid YAML", "fix it there"],
    ),
    "yaml tab": ("shots:\n\t- start: 0\n", ["line 2, column 1", "not valid YAML"]),
    "yaml unclosed quote": (
        'shots:\n  - start: "0\n    ref: colour.png\n',
        ["line 4, column 1", "not valid YAML"],
    ),
    "not utf-8": (b"shots:\n  - start: 0\n    ref: \xff\xfe.png\n", ["is not UTF-8 text"]),
    "empty file": ("", ["is empty", "write 'shots:'"]),
    "only comments": ("# to do\n", ["is empty"]),
    "a list at the top": ("- start: 0\n  ref: colour.png\n", ["expected 'shots:'"]),
    "unknown top-level key": (
        "shot:\n" + entry("colour.png"),
        ["unknown top-level keys ['shot']", "use 'shots'"],
    ),
    "unknown entry key": (
        shots(entry("colour.png", extra="    keyframes: 3\n")),
        ["line 2", "unknown key 'keyframes'", "'keyframe:'"],
    ),
    "key given twice": (
        shots(entry("colour.png", extra="    start: 4\n")),
        ["line 4", "'start' is given twice"],
    ),
    "key that is a list": (
        shots(entry("colour.png", extra="    [1]: 2\n")),
        ["line 4", "a key must be a plain word"],
    ),
    "no entries": ("shots: []\n", ["non-empty list"]),
    "entry without ref": (shots("  - start: 0\n"), ["line 2", "needs 'start:' and 'ref:'"]),
    "empty ref": (shots("  - start: 0\n    ref:\n"), ["line 2", "'ref' must be an image path"]),
    "python tag": (
        shots("  - start: 0\n    ref: !!python/object/apply:os.getcwd []\n"),
        ["line 2", "could not determine a constructor"],
    ),
    "infinite weight": (
        shots(entry("colour.png", extra="    weight: .inf\n")),
        ["line 2", "weights must be positive numbers"],
    ),
    "out of order": (
        shots(entry("colour.png", 10), entry("deep.png", 5)),
        ["line 4", "not after the entry on line 2", "increasing order"],
    ),
    "same start twice": (
        shots(entry("colour.png", 10), entry("deep.png", '"00:00:00;10"')),
        ["line 4", "not after the entry on line 2"],
    ),
    "start past the end": (
        shots(entry("colour.png"), entry("deep.png", 45)),
        ["line 4", "past the film's last frame 29", "remove it or fix its start"],
    ),
    "seconds past the end": (
        shots(entry("colour.png"), entry("deep.png", "5s")),
        ["line 4", "starts at frame 150, past the film's last frame 29"],
    ),
    "keyframe past the end": (
        shots(entry("colour.png", extra="    keyframe: 31\n")),
        ["line 2", "keyframe 31 is past the film's last frame 29"],
    ),
    "keyframe outside its entry": (
        shots(entry("colour.png", extra="    keyframe: 20\n"), entry("deep.png", 15)),
        ["line 2", "keyframe 20 lies outside this entry"],
    ),
    "timecode seconds out of range": (
        shots(entry("colour.png", '"00:00:61:00"')),
        ["line 2", "'00:00:61:00' is out of range at 30 frames per second"],
    ),
    "timecode frames out of range": (
        shots(entry("colour.png", '"00:00:00:30"')),
        ["line 2", "is out of range"],
    ),
    "timecode too short": (
        shots(entry("colour.png", '"1:2:3"')),
        ["line 2", "'1:2:3' is not a start", 'a timecode ("00:00:04:12")'],
    ),
    "dropped timecode": (
        shots(entry("colour.png", '"00:01:00;00"')),
        ["line 2", "does not exist in drop-frame timecode"],
    ),
    "negative start": (shots(entry("colour.png", -3)), ["line 2", "'-3' is not a start"]),
    "fractional frame": (shots(entry("colour.png", 3.5)), ["line 2", "'3.5' is not a start"]),
    "huge frame number": (
        shots(entry("colour.png", "9" * 40)),
        ["line 2", "more frames than any film has"],
    ),
}


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("battery")
    write_clip(folder / "film.mp4", frames=FRAMES, shots=2)
    for name, write in IMAGES.items():
        write(folder / name)
    return folder


def write_refs(folder: Path, case: str) -> Path:
    text, _ = ERRORS[case]
    refs = folder / f"{case.replace(' ', '-')}.yaml"
    if isinstance(text, bytes):
        refs.write_bytes(text)
    else:
        refs.write_text(text)
    return refs


def cli_in_process(monkeypatch, *args) -> int:
    """`remaster ARGS` through the command line's own entry point, in this process: a new
    process per case would spend seconds starting torch, and the entry point is what turns
    errors into one line (any other exception escapes here and fails the test)."""
    from remaster.commands.cli import main

    monkeypatch.setattr("sys.argv", ["remaster", *map(str, args)])
    with pytest.raises(SystemExit) as exit:
        main()
    return exit.value.code


@pytest.mark.parametrize("case", ERRORS)
def test_a_bad_refs_file_is_one_line_before_any_work(
    job, tiny_checkpoint, monkeypatch, capfd, case
):
    refs = write_refs(job, case)
    output = job / f"{refs.stem}.mp4"
    film = job / "film.mp4"
    status = cli_in_process(
        monkeypatch, film, "--refs", refs, "-o", output, "--weights", tiny_checkpoint, "-q"
    )
    # Captured at the descriptor, so a decoder's own warnings would show up here too.
    stderr = capfd.readouterr().err
    assert status == 1, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {refs}"), stderr
    for fragment in ERRORS[case][1]:
        assert fragment in lines[0], lines[0]
    assert not output.exists() and not work_folder(output).exists()
    assert cli_in_process(monkeypatch, "check", film, "--refs", refs) == 1
    assert capfd.readouterr().err == stderr  # check says what the run says


@pytest.mark.parametrize("case", ["truncated png", "yaml syntax"])
def test_a_real_process_prints_the_line_without_a_traceback(job, tiny_checkpoint, case):
    refs = write_refs(job, case)
    output = job / f"{refs.stem}-process.mp4"
    result = run_remaster(
        job / "film.mp4", "--refs", refs, "-o", output, "--weights", tiny_checkpoint, "-q"
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: {refs}") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and not output.exists()


def test_unusual_but_usable_references_are_read_in_their_colors(job):
    """CMYK JPEG (converted by the decoder), 16-bit PNG (kept at 16 bits), palette PNG and an
    opaque alpha channel all come out as the RGB they show."""
    expected = RGB.astype(float)
    for name, tolerance in (
        ("cmyk.jpg", 3),  # JPEG's own loss
        ("palette.png", 10),  # 256 colours for a smooth image
        ("opaque-alpha.png", 0),
    ):
        image = read_reference(job / name)
        assert image.dtype == np.uint8 and image.shape == RGB.shape, name
        assert np.abs(image - expected).mean() <= tolerance, name
    deep = read_reference(job / "deep.png")
    assert deep.dtype == np.uint16 and np.array_equal(deep, RGB.astype(np.uint16) * 257)


def test_usable_and_grey_references_run_with_a_warning_for_grey(job, tiny_checkpoint, tmp_path):
    refs = tmp_path / "usable.yaml"
    names = ["cmyk.jpg", "deep.png", "palette.png", "opaque-alpha.png", "grey-rgb.png"]
    refs.write_text(
        shots(*(entry(str(job / name), 6 * n) for n, name in enumerate(names)))
        + entry(str(job / "grey-alpha.png"), 28)
    )
    checked = run_remaster("check", job / "film.mp4", "--refs", refs)
    assert checked.returncode == 0, checked.stderr
    warnings = checked.stderr.splitlines()
    assert len(warnings) == 2, checked.stderr
    assert "grey-rgb.png: is grey (it carries no colour" in warnings[0]
    assert "grey-alpha.png: is grey" in warnings[1]
    output = tmp_path / "out.mp4"
    # embed: the references' colour goes through the network whatever the method; matching
    # would only make the run slower.
    result = run_remaster(
        job / "film.mp4", "--refs", refs, "-o", output, "--weights", tiny_checkpoint,
        "--method", "embed", "-q",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for warning in warnings:  # the run warns as check does
        assert warning.removeprefix("warning: ") in result.stderr
    assert "30 frames, 6 shots" in result.stdout and output.is_file()
