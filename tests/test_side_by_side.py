"""`remaster film ... --side-by-side FILE`: a before/after video with the film's timing and sound.

Real processes on a real H.264 + AAC clip. `--crf 0` makes the side-by-side H.264 lossless, so
its halves can be held to the film's planes exactly; the film itself is FFV1 (lossless and
deterministic) where its bytes are compared with and without the option.
"""

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from remaster.media.frames import Picture
from remaster.media.images import write_image
from remaster.media.side_by_side import side_by_side, side_segment_path
from remaster.media.video import count_frames, decode
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip

HEIGHT, WIDTH, FRAMES = 96, 128, 20


def test_side_by_side_is_grey_luma_beside_the_picture():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 1024, (4, 6), dtype=np.uint16)
    u, v = (rng.integers(0, 1024, (2, 3), dtype=np.uint16) for _ in range(2))
    picture = Picture(7, 3003, Fraction(1, 30000), y, u, v, bits=10)
    pair = side_by_side(picture, bits=10)
    assert (pair.index, pair.pts, pair.time_base, pair.bits) == (7, 3003, Fraction(1, 30000), 10)
    assert pair.y.shape == (4, 12) and pair.u.shape == pair.v.shape == (2, 6)
    assert pair.y.dtype == pair.u.dtype == np.uint16
    assert (pair.y[:, :6] == y).all() and (pair.y[:, 6:] == y).all()
    assert (pair.u[:, :3] == 512).all() and (pair.v[:, :3] == 512).all()
    assert (pair.u[:, 3:] == u).all() and (pair.v[:, 3:] == v).all()
    assert (picture.y == y).all() and picture.y.shape == (4, 6)  # the film's picture untouched
    y, u, v = np.zeros((2, 2), np.uint8), np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint8)
    assert side_by_side(Picture(0, 0, Fraction(1, 25), y, u, v), bits=8).u.tolist() == [[128, 0]]


def test_side_segments_sit_beside_the_film_segments():
    segment = Path("/work/.out.mkv.remaster/segment-000003.mkv")
    assert side_segment_path(segment, "h264") == segment.with_name("segment-000003.side.mp4")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_checkpoint):
    """One clip coloured three ways: FFV1 .mkv with and without a side-by-side .mkv, and the
    default H.264 .mp4 with a side-by-side .mp4; in segments of 8 frames."""
    folder = tmp_path_factory.mktemp("side")
    write_clip(folder / "reel.mp4", frames=FRAMES, size=(HEIGHT, WIDTH), shots=2)
    write_image(folder / "ref.png", photo_like(128, 128, 0))
    common = ["--method", "embed", "--crf", "0", "--segment-frames", "8"]
    jobs = {
        "mkv": ["film.mkv", "--codec", "ffv1", "--side-by-side", folder / "side.mkv"],
        "plain": ["plain.mkv", "--codec", "ffv1"],
        "mp4": ["film.mp4", "--side-by-side", folder / "side.mp4"],
    }
    for output, *extra in jobs.values():
        result = run_remaster(
            folder / "reel.mp4", "--ref", folder / "ref.png", "-o", folder / output,
            "--weights", tiny_checkpoint, "--device", "cpu", "-q", *common, *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return folder


def streams(path: Path) -> list[tuple]:
    """Each stream's parameters and every packet (timestamps, flags, bytes), by demuxing."""
    import av

    with av.open(str(path)) as container:
        packets = {stream.index: [] for stream in container.streams}
        for p in container.demux():
            if p.size:
                packets[p.stream.index].append((p.pts, p.dts, p.duration, p.is_keyframe, bytes(p)))
        return [
            (s.type, s.codec_context.name, s.time_base, s.codec_context.extradata, packets[s.index])
            for s in container.streams
        ]


def frame_times(path: Path) -> list[Fraction]:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stamps = sorted(p.pts for p in container.demux(stream) if p.size)
        return [stamp * stream.time_base for stamp in stamps]


@pytest.mark.parametrize(("film", "side"), [("film.mkv", "side.mkv"), ("film.mp4", "side.mp4")])
def test_side_by_side_has_the_films_frames_timing_and_sound(runs, film, side):
    assert count_frames(runs / side) == count_frames(runs / film) == FRAMES
    assert frame_times(runs / side) == frame_times(runs / film)
    (film_audio,) = [s for s in streams(runs / film) if s[0] == "audio"]
    (side_audio,) = [s for s in streams(runs / side) if s[0] == "audio"]
    assert side_audio == film_audio and len(film_audio[-1]) > 10  # the same packets, copied
    assert not any(path.name.startswith(".") for path in runs.iterdir())  # no work folder left


@pytest.mark.parametrize(("film", "side"), [("film.mkv", "side.mkv"), ("film.mp4", "side.mp4")])
def test_left_is_the_films_grey_and_right_its_colour(runs, film, side):
    source, coloured, pairs = (list(decode(runs / name)) for name in ("reel.mp4", film, side))
    assert len(pairs) == len(coloured) == FRAMES
    for original, picture, pair in zip(source, coloured, pairs, strict=True):
        assert pair.y.shape == (HEIGHT, 2 * WIDTH) and pair.u.shape == (HEIGHT // 2, WIDTH)
        assert pair.pts * pair.time_base == picture.pts * picture.time_base
        assert (picture.y == original.y).all()  # lossless: the film's grey is the source's
        assert (pair.y[:, :WIDTH] == picture.y).all() and (pair.y[:, WIDTH:] == picture.y).all()
        assert (pair.u[:, : WIDTH // 2] == 128).all() and (pair.v[:, : WIDTH // 2] == 128).all()
        assert (pair.u[:, WIDTH // 2 :] == picture.u).all()
        assert (pair.v[:, WIDTH // 2 :] == picture.v).all()
    assert max(np.abs(p.u.astype(int) - 128).max() for p in coloured) > 4  # colour to compare


def test_the_film_is_the_same_with_and_without_the_option(runs):
    # Packet for packet in every stream: Matroska's own random UIDs differ between any two runs.
    assert streams(runs / "film.mkv") == streams(runs / "plain.mkv")


@pytest.mark.parametrize(
    ("output", "side", "fragments"),
    [
        ("out.mp4", "{reel}/reel.mp4", ["reel.mp4", "is an input"]),
        ("out.mp4", "{out}/out.mp4", ["out.mp4", "is the output"]),
        ("out.mp4", "{out}/missing/side.mp4", ["side.mp4", "does not exist"]),
        ("frames_%04d.png", "{out}/side.mp4", ["--side-by-side needs a video output"]),
        ("out.mp4", "{out}/side.avi", ["side.avi", "use .mp4, .mov or .mkv"]),
    ],
)
def test_a_bad_side_by_side_is_one_line_and_writes_nothing(
    runs, tmp_path, tiny_checkpoint, output, side, fragments
):
    reel = runs / "reel.mp4"
    before = reel.read_bytes()
    side = side.format(reel=runs, out=tmp_path)
    result = run_remaster(
        reel, "--ref", runs / "ref.png", "-o", tmp_path / output, "--side-by-side", side,
        "--weights", tiny_checkpoint, "--device", "cpu", "-q",
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert list(tmp_path.iterdir()) == []
    assert reel.read_bytes() == before


def test_only_a_run_with_the_option_has_it_in_its_job(runs, tiny_checkpoint):
    """--resume refuses a work folder whose job differs; one without side-by-side segments
    must not be resumed with the option, and jobs begun before it existed resume as before."""
    from remaster.run.film import FilmOptions, job_description

    plan = SimpleNamespace(palettes=lambda: [])
    options = FilmOptions(source=runs / "reel.mp4", output=runs / "x.mp4")
    plain = job_description(options, plan, tiny_checkpoint, "h264")
    assert "side_by_side" not in plain
    options.side_by_side = runs / "x-side.mp4"
    assert job_description(options, plan, tiny_checkpoint, "h264") != plain


def test_a_jobs_file_takes_side_by_side(tmp_path):
    from remaster.commands.cli import film
    from remaster.commands.jobs import load_jobs

    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  - input: a.mp4\n    ref: r.png\n    side-by-side: ab.mp4\n")
    (job,) = load_jobs(jobs, film.params)
    assert job.options.side_by_side == tmp_path / "ab.mp4"  # relative to the jobs file
