"""Cut lists (PySceneDetect CSV, CMX 3600 EDL, OpenTimelineIO) and `--cuts` on real clips."""

import csv
import os
import signal
import subprocess
import time
from fractions import Fraction

import opentimelineio as otio
import pytest
from scenedetect import FrameTimecode
from scenedetect.output import write_scene_list, write_scene_list_edl, write_scene_list_otio
from scenedetect.scene_manager import get_scenes_from_cuts

from remaster.color.stage import ColorStage
from remaster.errors import InputError, OutputError
from remaster.media.images import write_image
from remaster.refs.cut_lists import read_cuts, write_cuts
from remaster.run import film
from remaster.run.film import FilmOptions, colorize_film
from remaster.run.journal import work_folder
from tests.helpers import run_remaster
from tests.media import grey_of, panning_frames, photo_like, write_clip, write_frames
from tests.test_pipeline import film_command, planes

RATES = {
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
    "23.976": Fraction(24000, 1001),
    "59.94": Fraction(60000, 1001),
}
# Around the first minute (drop-frame timecode skips numbers there) and the tenth (it does not).
CUTS = [1, 10, 1799, 1800, 1801, 17982, 17983, 40000]
FRAMES = 54000


@pytest.mark.parametrize("rate", RATES.values(), ids=RATES.keys())
@pytest.mark.parametrize("suffix", [".csv", ".edl", ".otio"])
def test_cut_lists_round_trip(tmp_path, suffix, rate):
    path = tmp_path / f"reel{suffix}"
    write_cuts(path, CUTS, FRAMES, rate, "reel.mov")
    assert read_cuts(path, rate, FRAMES) == CUTS


def test_the_edl_says_drop_frame_where_its_timecodes_are(tmp_path):
    path = tmp_path / "reel.edl"
    write_cuts(path, [1800], 3600, Fraction(30000, 1001), "reel.mov")
    lines = path.read_text().splitlines()
    assert lines[:2] == ["TITLE: reel", "FCM: DROP FRAME"]
    assert "00:00:00;00 00:01:00;02 00:00:00;00 00:01:00;02" in lines[3]  # ;00 and ;01 dropped
    write_cuts(path, [1800], 3600, Fraction(25), "reel.mov")
    lines = path.read_text().splitlines()
    assert lines[1] == "FCM: NON-DROP FRAME"
    assert "00:00:00:00 00:01:12:00 00:00:00:00 00:01:12:00" in lines[3]


def test_the_scene_list_counts_frames_from_one_inclusive(tmp_path):
    path = tmp_path / "scenes.csv"
    write_cuts(path, [10, 25], 40, Fraction(24), "reel.mov")
    rows = list(csv.DictReader(path.read_text().splitlines()[1:]))
    assert [(row["Start Frame"], row["End Frame"]) for row in rows] == [
        ("1", "10"),
        ("11", "25"),
        ("26", "40"),
    ]


def scenes(cuts, frames, rate):
    def at(frame):
        return FrameTimecode(frame, fps=rate)

    return get_scenes_from_cuts([at(cut) for cut in cuts], at(0), at(frames)), [at(c) for c in cuts]


@pytest.mark.parametrize("rate", [Fraction(24), Fraction(25), Fraction(30000, 1001)])
def test_reads_what_pyscenedetect_itself_writes(tmp_path, rate):
    cuts = [12, 1800, 2000, 20000]
    scene_list, cut_list = scenes(cuts, 30000, rate)
    write_scene_list(tmp_path / "listed.csv", scene_list, cut_list=cut_list)
    write_scene_list(tmp_path / "plain.csv", scene_list, include_cut_list=False)
    write_scene_list_otio(tmp_path / "scenes.otio", scene_list, "reel.mp4", rate)
    for name in ("listed.csv", "plain.csv", "scenes.otio"):
        assert read_cuts(tmp_path / name, rate) == cuts, name
    write_scene_list_edl(tmp_path / "scenes.edl", scene_list, start_timecode="01:00:00:00")
    if rate.denominator == 1:
        assert read_cuts(tmp_path / "scenes.edl", rate) == cuts
    else:  # its EDL timecodes count clock time at 29.97: refused, with the CSV suggested
        with pytest.raises(InputError, match="scenes.edl: an EDL from PySceneDetect.*list-scenes"):
            read_cuts(tmp_path / "scenes.edl", rate)


EDITORS_EDL = """\
TITLE: REEL 1
FCM: NON-DROP FRAME
* EXPORTED FROM AN EDITING TOOL

001  TAPE1    V     C        10:00:00:00 10:00:04:00 01:00:00:00 01:00:04:00
* FROM CLIP NAME: reel.mov
002  TAPE1    V     C        10:00:04:00 10:00:06:00 01:00:04:00 01:00:06:00
003  TAPE1    AA    C        10:00:00:00 10:00:07:00 01:00:00:00 01:00:07:00
004  TAPE1    V     C        10:00:08:00 10:00:10:00 01:00:08:00 01:00:10:00
"""


def test_an_editors_edl_counts_from_its_first_event_and_a_gap_is_a_shot(tmp_path):
    path = tmp_path / "reel.edl"
    path.write_text(EDITORS_EDL)
    # Record side, from 01:00:00:00: cuts at 4 s and 6 s, then black until 8 s; sound adds none.
    assert read_cuts(path, Fraction(25)) == [100, 150, 200]


def otio_at(rate, items=((0, 10), (10, 20))):
    timeline = otio.schema.Timeline(name="reel")
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for start, duration in items:
        span = otio.opentime.TimeRange(
            otio.opentime.RationalTime(start, rate), otio.opentime.RationalTime(duration, rate)
        )
        track.append(otio.schema.Clip(name="shot", source_range=span))
    timeline.tracks.append(track)
    return otio.adapters.write_to_string(timeline, "otio_json")


SCENES_HEADER = "Scene Number,Start Frame,Start Time (seconds)\n"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cuts.txt", "1\n", "cuts.txt: .txt is not a cut list; use .csv (PySceneDetect"),
        ("scenes.csv", "a,b\n1,2\n", "scenes.csv: no 'Start Frame' column in its first two"),
        (
            "scenes.csv",
            SCENES_HEADER + "1,1,0.0\n2,x,1.0\n",
            "scenes.csv, line 3: Start Frame is 'x', not a frame number of 1 or more",
        ),
        (
            "scenes.csv",
            SCENES_HEADER + "1,1,0.0\n2,49,2.0\n3,5,0.2\n",
            "scenes.csv, line 4: this scene starts at frame 5, not after the scene before it",
        ),
        (
            "scenes.csv",  # made at 25 fps: frame 51 starts at 2 s
            SCENES_HEADER + "1,1,0.000\n2,51,2.000\n",
            "scenes.csv, line 3: frame 51 starts at 2.000 s, which is frame 49 at this film's "
            "24.000 fps; the scene list was made from a video at another frame rate",
        ),
        ("scenes.csv", b"\xff\xfe\x00\x01", "scenes.csv: is not a text file"),
        (
            "cuts.edl",
            "TITLE: x\nnot an event\n",
            "cuts.edl: OpenTimelineIO cannot read it as CMX 3600 EDL (Unknown event type); "
            "export it again from the editing tool as CMX 3600 EDL at the film's 24.000 fps",
        ),
        (
            "cuts.edl",  # a 25 fps EDL read at 24
            "001  AX V C 00:00:00:00 00:00:00:24 00:00:00:00 00:00:00:24\n",
            "Timecode '00:00:00:24' has frames beyond 23",
        ),
        ("cuts.edl", "TITLE: empty\n", "cuts.edl: has no video events"),
        ("cuts.otio", '{"OTIO_SCHEMA": ', "cuts.otio: OpenTimelineIO cannot read it as"),
        (
            "cuts.otio",
            otio.adapters.write_to_string(otio.schema.Clip(name="x"), "otio_json"),
            "cuts.otio: holds a Clip, not a timeline",
        ),
        (
            "cuts.otio",
            otio_at(25),
            "cuts.otio: its timeline runs at 25.000 fps, the film at 24.000 fps",
        ),
        (
            "cuts.otio",
            otio_at(24, [(0, 10), (10, 30)]),
            "cuts.otio: a cut at frame 10 lies past the film's last frame (9)",
        ),
    ],
)
def test_bad_cut_lists_say_which_file_line_and_what_to_do(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError) as caught:
        read_cuts(path, Fraction(24), frame_count=10)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_edl_needs_a_timecode_rate(tmp_path):
    path = tmp_path / "reel.edl"
    with pytest.raises(OutputError, match="reel.edl: CMX 3600 timecodes exist only at 23.976"):
        write_cuts(path, [5], 20, Fraction(10), "reel.mov")
    write_cuts(path, [5], 20, Fraction(25), "reel.mov")
    with pytest.raises(InputError, match="not at 10.000 fps; use a .csv or .otio cut list"):
        read_cuts(path, Fraction(10))
    write_cuts(tmp_path / "reel.otio", [5], 20, Fraction(10), "reel.mov")
    assert read_cuts(tmp_path / "reel.otio", Fraction(10)) == [5]


def test_a_missing_cut_list(tmp_path):
    with pytest.raises(InputError, match="scenes.csv: no such cut list"):
        read_cuts(tmp_path / "scenes.csv", Fraction(24))


class Recording(ColorStage):
    """The pipeline's own colour stage, noting each track it starts and each batch it colours."""

    tracks: list = []
    batches: list = []

    def start(self, entry, warm_up):
        Recording.tracks.append((entry.start.frame, entry.line, entry.part, entry.keyframes))
        return super().start(entry, warm_up)

    def color(self, batch):
        Recording.batches.append([picture.index for picture in batch.pictures])
        return super().color(batch)


@pytest.fixture
def two_shot_reel(tmp_path):
    write_clip(tmp_path / "reel.mp4", frames=12, rate=Fraction(24), audio=False, shots=2)
    write_image(tmp_path / "ref.png", photo_like(48, 64, 0))
    (tmp_path / "shots.yaml").write_text(
        "shots:\n  - start: 0\n    ref: ref.png\n    keyframe: 2\n"
    )
    return tmp_path


@pytest.mark.parametrize("suffix", [".csv", ".edl", ".otio"])
def test_an_entry_spanning_a_cut_gets_a_track_per_shot(
    two_shot_reel, tiny_checkpoint, monkeypatch, suffix
):
    cuts = two_shot_reel / f"cuts{suffix}"
    write_cuts(cuts, [6], 12, Fraction(24), "reel.mp4")
    monkeypatch.setattr(film, "ColorStage", Recording)
    monkeypatch.setattr(Recording, "tracks", [])
    monkeypatch.setattr(Recording, "batches", [])
    options = FilmOptions(
        source=two_shot_reel / "reel.mp4",
        output=two_shot_reel / "out.mp4",
        refs=two_shot_reel / "shots.yaml",
        cuts=cuts,
        weights=tiny_checkpoint,
        device="cpu",
        batch_size=4,
        method="embed",  # tracks and batches are the same for every method; embed is fastest
        quiet=True,
    )
    summary = colorize_film(options)
    assert summary.frames == 12 and summary.shots == 2
    # The keyframe stays with its own shot; the other shot finds its colour by matching.
    assert Recording.tracks == [(0, 2, 0, (2,)), (6, 2, 1, ())]
    assert Recording.batches == [[0, 1, 2, 3], [4, 5], [6, 7, 8, 9], [10, 11]]


def test_without_cuts_the_entry_is_one_track(two_shot_reel, tiny_checkpoint, monkeypatch):
    monkeypatch.setattr(film, "ColorStage", Recording)
    monkeypatch.setattr(Recording, "tracks", [])
    monkeypatch.setattr(Recording, "batches", [])
    options = FilmOptions(
        source=two_shot_reel / "reel.mp4",
        output=two_shot_reel / "out.mp4",
        refs=two_shot_reel / "shots.yaml",
        weights=tiny_checkpoint,
        device="cpu",
        batch_size=4,
        method="embed",  # tracks and batches are the same for every method; embed is fastest
        quiet=True,
    )
    assert colorize_film(options).shots == 1
    assert Recording.tracks == [(0, 2, 0, (2,))]
    assert Recording.batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_a_bad_cut_list_is_one_line_and_writes_nothing(two_shot_reel, tiny_checkpoint):
    (two_shot_reel / "scenes.csv").write_text(SCENES_HEADER + "1,1,0.0\n2,later,1.0\n")
    result = run_remaster(
        two_shot_reel / "reel.mp4", "--refs", two_shot_reel / "shots.yaml",
        "--cuts", two_shot_reel / "scenes.csv", "-o", two_shot_reel / "out.mp4",
        "--weights", tiny_checkpoint, "-q",
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "scenes.csv, line 3: Start Frame is 'later'" in lines[0]
    assert not (two_shot_reel / "out.mp4").exists()


def interrupt(command, output, after_segment: int) -> None:
    """Run `command` and kill -9 it once segment `after_segment` is journaled."""
    journal = work_folder(output) / "journal.json"
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if journal.is_file() and f'"{after_segment}"' in journal.read_text():
            break
        time.sleep(0.02)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert killed, "the run finished before it could be interrupted"


def test_resume_at_a_cut_starts_the_next_shot_afresh_and_other_cuts_are_another_job(
    tmp_path, tiny_checkpoint
):
    """One pan, cut by the cut list at frame 12 (a jump an editor marked; the flow could follow
    it), interrupted there: the resumed run must not carry the first shot's track over the cut,
    so it equals an uninterrupted run. Resuming with other cuts is refused; the same cuts from
    another format are the same job."""
    frames = panning_frames(24, size=(72, 96), seed=5, step=2)
    grey = [grey_of(frame) for frame in frames]
    write_frames(tmp_path / "pan.mkv", grey, rate=24, codec="ffv1")
    write_image(tmp_path / "key.png", frames[3])
    refs = tmp_path / "shots.yaml"
    refs.write_text("shots:\n  - start: 0\n    ref: key.png\n    keyframe: 3\n")
    write_cuts(tmp_path / "scenes.csv", [12], 24, Fraction(24), "pan.mkv")
    write_cuts(tmp_path / "same.otio", [12], 24, Fraction(24), "pan.mkv")
    write_cuts(tmp_path / "other.edl", [8], 24, Fraction(24), "pan.mkv")
    # Embedded colour, stabilised along the flow: a track carried over the cut would change
    # the frames after it. Lossless, so the frames compared are the colour itself: x264 need
    # not encode the same pictures to the same bytes twice (seen on the first segment).
    settings = ("--method", "embed", "--segment-frames", "6", "--batch-size", "2",
                "--codec", "ffv1", "--cuts")  # fmt: skip

    def command(output, cuts):
        return film_command(
            tmp_path / "pan.mkv", refs, output, tiny_checkpoint, *settings, tmp_path / cuts
        )

    straight = tmp_path / "straight.mkv"
    subprocess.run(command(straight, "scenes.csv"), check=True, capture_output=True)
    output = tmp_path / "resumed.mkv"
    interrupt(command(output, "scenes.csv"), output, after_segment=1)
    refused = subprocess.run([*command(output, "other.edl"), "--resume"], capture_output=True)
    assert refused.returncode == 1 and b"different job" in refused.stderr
    resumed = subprocess.run([*command(output, "same.otio"), "--resume"], capture_output=True)
    assert resumed.returncode == 0, resumed.stderr
    assert b"segments resumed" in resumed.stdout
    assert planes(output) == planes(straight)
