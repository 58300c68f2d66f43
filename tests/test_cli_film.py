"""`remaster FILM ...` as a user runs it: a real process, real files, one-line errors."""

import pytest

from remaster.media.images import write_image
from tests.helpers import run_remaster as run
from tests.media import photo_like, write_clip


@pytest.fixture(scope="module")
def reel(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reel")
    write_clip(folder / "reel.mp4", frames=8, shots=2)
    write_image(folder / "ref.png", photo_like(64, 64, 0))
    return folder


def test_the_main_job_needs_no_subcommand(reel, tmp_path, tiny_checkpoint):
    result = run(
        reel / "reel.mp4",
        "--ref",
        reel / "ref.png",
        "-o",
        tmp_path / "out.mp4",
        "--weights",
        tiny_checkpoint,
        "-q",
    )
    assert result.returncode == 0, result.stderr
    assert "8 frames, 1 shots, 1 reference sets" in result.stdout
    assert (tmp_path / "out.mp4").is_file()


def test_default_output_name_sits_beside_the_input(reel, tiny_checkpoint):
    result = run(reel / "reel.mp4", "--ref", reel / "ref.png", "--weights", tiny_checkpoint, "-q")
    assert result.returncode == 0, result.stderr
    assert (reel / "reel-remastered.mp4").is_file()


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        (["{reel}/missing.mp4", "--ref", "{reel}/ref.png"], ["missing.mp4", "no such file"]),
        (
            ["{reel}/ref.png", "--ref", "{reel}/ref.png", "-o", "{out}/x.mp4"],
            ["ref.png", "is a still image", "remaster image"],
        ),
        (["{reel}/reel.mp4", "-o", "{out}/x.mp4"], ["--refs FILE.yaml or --ref IMAGE"]),
        (
            ["{reel}/reel.mp4", "--ref", "{reel}/ref.png", "-o", "{out}/x.avi"],
            ["x.avi", "use .mp4, .mov or .mkv"],
        ),
        (
            ["{reel}/reel.mp4", "--ref", "{reel}/ref.png", "-o", "{out}/x.mp4", "--codec", "ffv1"],
            ["ffv1 does not go in .mp4", "ffv1 in .mkv"],
        ),
        (
            ["{reel}/reel.mp4", "--refs", "{out}/bad.yaml", "-o", "{out}/x.mp4"],
            ["bad.yaml, line 2", "not a start"],
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    reel, tmp_path, tiny_checkpoint, arguments, fragments
):
    (tmp_path / "bad.yaml").write_text("shots:\n  - start: later\n    ref: x.png\n")
    args = [a.format(reel=reel, out=tmp_path) for a in arguments]
    result = run(*args, "--weights", tiny_checkpoint, "-q")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert not (tmp_path / "x.mp4").exists()
