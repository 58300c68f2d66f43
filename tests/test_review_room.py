"""The review room's state and long work without a browser: a refs file broken elsewhere, a
render after an interrupted one of another job, approved-only colour, tasks that fail, and the
proxy's pictures."""

from __future__ import annotations

import json
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from remaster.errors import InputError, OutputError
from remaster.media.frames import Picture
from remaster.review.proxy import proxy_size, small
from remaster.review.room import ReviewOptions, ReviewRoom, safe_stem
from remaster.review.tasks import Tasks
from remaster.run.journal import work_folder
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip, write_sequence

REFS = "shots:\n  - start: 0\n    ref: a.png\n  - start: 10\n    ref: b.png\n    approved: true\n"


@pytest.fixture()
def job(tmp_path: Path) -> Path:
    for name, seed in (("a", 1), ("b", 2)):
        cv2.imwrite(str(tmp_path / f"{name}.png"), photo_like(144, 192, seed))
    (tmp_path / "shots.yaml").write_text(REFS)
    write_clip(tmp_path / "film.mp4", frames=20, shots=2)
    return tmp_path


def room_for(job: Path, **options) -> ReviewRoom:
    return ReviewRoom(
        ReviewOptions(job / "film.mp4", job / "shots.yaml", job / "out.mkv", **options)
    )


def finish(room: ReviewRoom, task, seconds: float = 300):
    deadline = time.monotonic() + seconds
    while task.state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
    return task


def test_a_refs_file_broken_elsewhere_is_shown_not_served(job: Path) -> None:
    room = room_for(job)
    assert [shot["first"] for shot in room.state()["shots"]] == [0, 10]
    (job / "shots.yaml").write_text(REFS.replace("start: 10", "start: 99"))
    state = room.state()
    assert "starts at frame 99, past the film's last frame 19" in state["error"]
    assert [shot["first"] for shot in state["shots"]] == [0, 10]  # the last good state
    (job / "shots.yaml").write_text(REFS)
    assert room.state()["error"] == ""


def test_a_room_that_could_not_render_is_one_line(job: Path) -> None:
    with pytest.raises(OutputError, match="prores does not go in .mkv"):
        ReviewRoom(
            ReviewOptions(job / "film.mp4", job / "shots.yaml", job / "out.mkv", codec="prores")
        )


def test_render_starts_over_after_an_interrupted_render_of_another_job(job: Path) -> None:
    room = room_for(job, method="embed", codec="ffv1", device="cpu")
    folder = work_folder(job / "out.mkv")
    folder.mkdir()
    (folder / "journal.json").write_text(json.dumps({"job": {"another": 1}, "segments": {}}))
    task = finish(room, room.render(approved_only=True))
    assert task.state == "done", task.message
    assert (task.done, task.total) == (20, 20)
    assert "10 grey" in task.message  # shot 1 is not approved
    assert not folder.exists()
    # Approved-only colour, as `remaster film --only-approved` makes it.
    command = job / "command.mkv"
    result = run_remaster(
        job / "film.mp4", "--refs", job / "shots.yaml", "-o", command, "--codec", "ffv1",
        "--method", "embed", "--device", "cpu", "-q", "--only-approved",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frames = chroma(command)
    assert frames == chroma(job / "out.mkv")
    grey, colour = frames[:10], frames[10:]
    assert all(spread == 0 for spread in grey)  # neutral chroma: the film's own grey
    assert all(spread > 2 for spread in colour)


def chroma(path: Path) -> list[float]:
    """Each frame's chroma spread from neutral (0: grey)."""
    with av.open(str(path)) as container:
        return [
            float(np.abs(frame.to_ndarray(format="yuv420p")[96:].astype(int) - 128).mean())
            for frame in container.decode(video=0)
        ]


def test_a_failing_task_says_why() -> None:
    tasks = Tasks()

    def broken(task):
        raise InputError("film.mp4: frame 3 cannot be decoded")

    task = tasks.start("proxy", "shot 1", broken)
    deadline = time.monotonic() + 10
    while task.state != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert task.public()["message"] == "film.mp4: frame 3 cannot be decoded"
    again = tasks.start("proxy", "shot 1", lambda task: "/proxy/x.mp4")
    assert again is not task  # a failed task is not reused
    tasks.stop()


def test_proxy_pictures_are_small_8_bit_and_keep_their_timing() -> None:
    assert proxy_size(1920, 1080) == (480, 270)
    assert proxy_size(128, 96) == (128, 96)
    assert proxy_size(721, 405) == (480, 270)
    y = np.full((540, 960), 940, np.uint16)  # 10-bit limited-range white
    u = np.full((270, 480), 512, np.uint16)
    picture = Picture(7, 7007, Fraction(1, 30000), y, u, u.copy(), bits=10)
    shrunk = small(picture, 480, 270)
    assert shrunk.y.shape == (270, 480) and shrunk.u.shape == (135, 240)
    assert shrunk.y.dtype == np.uint8 and int(shrunk.y[0, 0]) == 235 and int(shrunk.u[0, 0]) == 128
    assert (shrunk.index, shrunk.pts, shrunk.bits) == (7, 7007, 8)


def test_uploaded_names_become_plain_stems() -> None:
    assert safe_stem("../../etc/painted shot 1.JPG") == "painted-shot-1"
    assert safe_stem("C:\\colour\\frame.png") == "frame"
    assert safe_stem("....png") == "reference"


def test_a_16_bit_scan_sequence_is_shown_coloured_and_played(tmp_path: Path) -> None:
    write_sequence(tmp_path / "scans", 6, bits=16, size=(48, 64))
    cv2.imwrite(str(tmp_path / "a.png"), photo_like(120, 160, 1))
    (tmp_path / "shots.yaml").write_text("shots:\n  - start: 0\n    ref: a.png\n")
    room = ReviewRoom(
        ReviewOptions(
            tmp_path / "scans", tmp_path / "shots.yaml", tmp_path / "colour.mov",
            fps=Fraction(24), method="embed", device="cpu",
        )
    )  # fmt: skip
    assert room.state()["shots"][0]["last"] == 5
    grey, colour = room.grey(3, 540), room.colored(3, 540)
    assert grey.shape == colour.shape == (48, 64, 3) and grey.dtype == colour.dtype == np.uint8
    assert (
        np.ptp(grey.astype(int), axis=2).max() == 0 and np.ptp(colour.astype(int), axis=2).max() > 0
    )
    task = finish(room, room.play(0))
    assert task.state == "done", task.message
    with av.open(str(room.proxy_path(task.result.rsplit("/", 1)[1]))) as container:
        frames = [frame.to_ndarray(format="yuv420p") for frame in container.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (72, 128)  # 48 rows + chroma, 2 x 64 wide
    # Grey on the left: 4:2:0 chroma rows of 64 are packed two to a row of 128 by PyAV; the
    # columns nearest the seam take some colour from H.264's blocks.
    left_chroma = frames[0][48:, :28]
    assert np.abs(left_chroma.astype(int) - 128).max() <= 1


def test_a_missing_reference_is_shown_on_its_shot_and_mended_by_a_drop(job: Path) -> None:
    """A refs file naming a picture that is not there (moved, renamed): `check` stops at it,
    the room opens and shows it on its shot, and a dropped picture mends it."""
    (job / "b.png").rename(job / "b-moved.png")
    refused = run_remaster("check", job / "film.mp4", "--refs", job / "shots.yaml")
    assert refused.returncode == 1 and "reference 'b.png' not found" in refused.stderr
    room = room_for(job, method="embed", device="cpu")
    first, second = room.state()["shots"]
    assert first["warnings"] == []
    assert second["warnings"] == ["b.png: no such file"]
    with pytest.raises(InputError, match="b.png: no such file"):
        room.colored(12, 540)
    state = room.upload(room.version, 10, "b-moved.png", (job / "b-moved.png").read_bytes())
    assert state["shots"][1]["warnings"] == [] and state["shots"][1]["references"] == [
        "b-moved-2.png"
    ]
    assert room.colored(12, 540).shape == (96, 128, 3)
    mended = run_remaster("check", job / "film.mp4", "--refs", job / "shots.yaml")
    assert mended.returncode == 0, mended.stderr


def test_each_reference_is_read_again_only_when_its_file_changes(job: Path, monkeypatch) -> None:
    import remaster.review.room as room_module

    read = []
    real = room_module.examine_reference
    monkeypatch.setattr(room_module, "examine_reference", lambda p: read.append(p.name) or real(p))
    room = room_for(job)
    assert sorted(read) == ["a.png", "b.png"]
    room.split(room.version, 5)
    room.approve(room.version, 0, True)
    assert sorted(read) == ["a.png", "b.png"]  # two edits, no reference read again
    cv2.imwrite(str(job / "b.png"), photo_like(144, 192, 7))  # repainted
    room.split(room.version, 15)
    assert sorted(read) == ["a.png", "b.png", "b.png"]


def test_approving_shots_during_a_render_keeps_it_resumable(
    tmp_path: Path, tiny_checkpoint
) -> None:
    """The job a resumed run checks is what decides its frames: an approval mark or a comment
    written meanwhile (by the review room) changes none, a new reference does."""
    import subprocess

    from remaster.refs.edits import RefsEditor
    from tests.helpers import decoded_planes, film_command, kill_after_segment
    from tests.media import grey_of, panning_frames, write_frames

    frames = panning_frames(24, size=(72, 96), seed=5, step=2)
    write_frames(tmp_path / "film.mkv", [grey_of(f) for f in frames], codec="ffv1")
    cv2.imwrite(str(tmp_path / "a.png"), photo_like(144, 192, 1))
    cv2.imwrite(str(tmp_path / "b.png"), photo_like(144, 192, 2))
    refs = tmp_path / "shots.yaml"
    refs.write_text("shots:\n  - start: 0\n    ref: a.png\n  - start: 12\n    ref: b.png\n")
    settings = (
        "--method",
        "embed",
        "--segment-frames",
        "4",
        "--codec",
        "ffv1",
        "--working-size",
        "64",
    )
    straight = tmp_path / "straight.mkv"
    command = film_command(tmp_path / "film.mkv", refs, straight, tiny_checkpoint, *settings)
    assert subprocess.run(command, capture_output=True).returncode == 0
    output = tmp_path / "out.mkv"
    command = film_command(tmp_path / "film.mkv", refs, output, tiny_checkpoint, *settings)
    kill_after_segment(command, output, 1)
    editor = RefsEditor(refs, Fraction(10), None, lambda candidate: None)
    editor.approve(editor.version(), 12, None, True)
    refs.write_text("# approved in the review room\n" + refs.read_text())
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "segments resumed" in resumed.stdout
    assert decoded_planes(output) == decoded_planes(straight)
    # Where approval decides the frames (--only-approved), it is part of the job.
    approved = tmp_path / "approved.mkv"
    only = film_command(
        tmp_path / "film.mkv", refs, approved, tiny_checkpoint, *settings, "--only-approved"
    )
    kill_after_segment(only, approved, 1)
    editor.approve(editor.version(), 0, 12, True)
    refused = subprocess.run([*only, "--resume"], capture_output=True, text=True)
    assert refused.returncode == 1 and "different job" in refused.stderr
