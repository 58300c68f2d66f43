"""kill -9 at random points, three times over, then --resume: the same film as one run.

Every stateful stage is on: propagation from keyframes (`--method auto`, the default),
several keyframes blended in one entry, and stabilisation; segments of a few frames, so the
kills land inside shots, between a segment's file and its journal entry, or mid-encode.
"""

from __future__ import annotations

import os
import random
import subprocess

from remaster.media.images import write_image
from remaster.run.journal import work_folder
from tests.helpers import decoded_planes, film_command, journaled_segments, kill_after_segment
from tests.media import grey_of, panning_frames, write_frames

SHOT = 20  # frames a shot: two shots, 10 segments of 4 frames


def test_three_kills_then_resume_equal_an_uninterrupted_run(tmp_path, tiny_checkpoint):
    # A random seed each run (reported on failure): over many runs the kills land everywhere.
    seed = int(os.environ.get("KILL_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    first, second = (panning_frames(SHOT, size=(72, 96), seed=s, step=2) for s in (5, 9))
    write_frames(tmp_path / "film.mkv", [grey_of(f) for f in first + second], codec="ffv1")
    for name, frame in (("a.png", first[4]), ("b.png", second[1]), ("c.png", second[16])):
        write_image(tmp_path / name, frame)
    refs = tmp_path / "shots.yaml"
    refs.write_text(
        "shots:\n"
        "  - start: 0\n    ref: a.png\n    keyframe: 4\n"
        f"  - start: {SHOT}\n    ref: [b.png, c.png]\n    keyframe: [{SHOT + 1}, {SHOT + 16}]\n"
    )
    # A small working size keeps the exemplar matcher's setup (an SVD per reference set, in
    # every process) to a fraction of a second.
    # Lossless, so the frames compared are the colour itself (x264 need not encode the same
    # pictures to the same bytes twice).
    settings = ("--method", "auto", "--stabilise", "--segment-frames", "4", "--batch-size", "2",
                "--working-size", "64", "--codec", "ffv1")  # fmt: skip
    straight = tmp_path / "straight.mkv"
    command = film_command(tmp_path / "film.mkv", refs, straight, tiny_checkpoint, *settings)
    subprocess.run(command, check=True, capture_output=True)

    output = tmp_path / "resumed.mkv"
    command = film_command(tmp_path / "film.mkv", refs, output, tiny_checkpoint, *settings)
    # Each kill comes after a later segment than the last, a random moment after it is
    # journaled, and leaves at least three segments (of ten) to do.
    points = sorted(rng.sample(range(7), 3))
    for attempt, segment in enumerate(points):
        kill_after_segment(
            command + ["--resume"] * bool(attempt), output, segment, rng.uniform(0, 0.1)
        )
        assert segment in journaled_segments(output), f"seed {seed}"
    result = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert result.returncode == 0, f"seed {seed}: {result.stderr}"
    assert "segments resumed" in result.stdout
    assert decoded_planes(output) == decoded_planes(straight), f"seed {seed}, kills {points}"
    assert not work_folder(output).exists()
