"""One film spread over processes (torchrun, 2 CPU ranks over gloo) equals one process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from remaster.media.images import write_image
from remaster.media.video import decode, decode_range, frame_timestamps
from remaster.run.journal import work_folder
from remaster.run.ranks import Ranks
from tests.helpers import decoded_planes, film_command
from tests.media import grey_of, panning_frames, write_frames


def write_short_gops(path, frames: list[np.ndarray]):
    """H.264 with a keyframe every 6 frames and B-frames (decode order differs from display
    order): seeking lands on a real keyframe before the wanted frame."""
    return write_frames(path, frames, options={"bf": "2", "g": "6"})


def planes_of(pictures) -> list[tuple]:
    return [(p.index, p.pts, p.y.tobytes(), p.u.tobytes(), p.v.tobytes()) for p in pictures]


def test_a_range_decodes_to_the_frames_a_whole_decode_gives(tmp_path):
    frames = panning_frames(30, size=(48, 64), seed=3, step=2)
    path = write_short_gops(tmp_path / "gops.mp4", [grey_of(frame) for frame in frames])
    whole = planes_of(decode(path))
    stamps = frame_timestamps(path)
    assert len(stamps) == 30
    for first, end in [(0, 7), (7, 19), (13, 30), (29, 30), (5, 5)]:
        assert planes_of(decode_range(path, 8, first, end, stamps)) == whole[first:end]


def test_segments_are_shared_out_whole_in_order_and_evenly():
    shares = [list(Ranks(rank, 3).segments(10)) for rank in range(3)]
    assert shares == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert [list(Ranks(rank, 4).segments(2)) for rank in range(4)] == [[], [0], [], [1]]


def test_two_ranks_make_the_film_one_process_makes(tmp_path, tiny_checkpoint):
    """Two shots, a keyframe placed in the first and one found in the second, stabilisation
    on, segments of 5 frames: rank 1 starts inside the first shot, seeks there and rebuilds
    the propagation and stabilisation state from its warm-up frames."""
    first, second = (panning_frames(12, size=(72, 96), seed=s, step=2) for s in (5, 9))
    film = write_short_gops(tmp_path / "film.mp4", [grey_of(f) for f in first + second])
    write_image(tmp_path / "a.png", first[4])
    write_image(tmp_path / "b.png", second[6])
    refs = tmp_path / "shots.yaml"
    refs.write_text(
        "shots:\n  - start: 0\n    ref: a.png\n    keyframe: 4\n  - start: 12\n    ref: b.png\n"
    )
    settings = ("--segment-frames", "5", "--batch-size", "2", "--working-size", "64",
                "--codec", "ffv1")  # fmt: skip
    single = tmp_path / "single.mkv"
    command = film_command(film, refs, single, tiny_checkpoint, *settings)
    subprocess.run(command, check=True, capture_output=True)

    spread = tmp_path / "spread.mkv"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc-per-node", "2", "--monitor-interval", "0.1"]  # fmt: skip
    command = film_command(film, refs, spread, tiny_checkpoint, *settings)
    result = subprocess.run([*torchrun, *command[1:]], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "wrote" in result.stdout
    assert decoded_planes(spread) == decoded_planes(single)
    assert len(decoded_planes(spread)) == 24
    assert not work_folder(spread).exists()
