from fractions import Fraction

import numpy as np
import pytest

from remaster.errors import InputError
from remaster.media.images import write_image
from remaster.media.video import probe
from remaster.refs.refs_file import RefsPlan, load_refs, parse_timecode
from tests.media import write_timecoded

NTSC = Fraction(30000, 1001)
FILM = Fraction(24000, 1001)


@pytest.fixture
def refs_folder(tmp_path):
    (tmp_path / "refs").mkdir()
    for name in ("any", "opening", "street1", "street2", "car"):
        write_image(tmp_path / "refs" / f"{name}.png", np.full((8, 8, 3), 100, np.uint8))
    return tmp_path


EXAMPLE = """\
default: refs/any.png          # optional: for frames no entry covers
shots:
  - start: 0                   # first frame of the range, inclusive
    ref: refs/opening.png
  - start: "00:00:04:12"       # SMPTE timecode HH:MM:SS:FF
    ref: [refs/street1.png, refs/street2.png]   # several refs: their embeddings are averaged
  - start: 12.5s               # seconds
    ref: refs/car.png
"""


def write(folder, text):
    path = folder / "shots.yaml"
    path.write_text(text)
    return path


def test_the_documented_example_works_exactly_as_written(refs_folder):
    plan = load_refs(write(refs_folder, EXAMPLE), FILM)
    refs = refs_folder / "refs"
    assert plan.default == ((refs / "any.png").resolve(),)
    assert plan.entries[1].start.frame == 4 * 24 + 12
    assert plan.entries[2].start.seconds == 12.5
    assert plan.references_for(0, 0.0, FILM) == ((refs / "opening.png").resolve(),)
    assert plan.references_for(107, 107 / float(FILM), FILM) == plan.entries[0].references
    assert len(plan.references_for(108, 108 / float(FILM), FILM)) == 2
    frame_at_12_5 = round(12.5 * float(FILM))  # 300: shown at 12.5125 s
    assert plan.references_for(frame_at_12_5 - 1, (frame_at_12_5 - 1) / float(FILM), FILM) == (
        plan.entries[1].references
    )
    assert plan.references_for(frame_at_12_5, frame_at_12_5 / float(FILM), FILM) == (
        plan.entries[2].references
    )
    assert len(plan.palettes()) == 4


def test_unquoted_timecode_is_read_as_a_timecode(refs_folder):
    text = (
        "shots:\n  - start: 0\n    ref: refs/any.png\n"
        "  - start: 00:00:01:00\n    ref: refs/car.png\n"
    )
    assert load_refs(write(refs_folder, text), FILM).entries[1].start.frame == 24


@pytest.mark.parametrize(
    ("timecode", "rate", "frame"),
    [
        ("00:00:01:00", Fraction(25), 25),
        ("01:00:00:00", Fraction(24), 86400),
        ("00:01:00;02", NTSC, 1800),  # drop-frame: ;00 and ;01 do not exist at minute 1
        ("00:10:00;00", NTSC, 17982),  # every tenth minute keeps its frames
        ("00:00:59;29", NTSC, 1799),
        ("00:01:00:00", NTSC, 1800),  # non-drop counts nominal frames
        ("00:01:00;04", Fraction(60000, 1001), 3600),
    ],
)
def test_timecodes(timecode, rate, frame):
    assert parse_timecode(timecode, rate) == frame


@pytest.mark.parametrize(
    ("timecode", "rate", "message"),
    [
        ("00:00:01;00", Fraction(25), "drop-frame"),
        ("00:01:00;00", NTSC, "does not exist"),
        ("00:00:00:25", Fraction(25), "out of range"),
    ],
)
def test_bad_timecodes(timecode, rate, message):
    with pytest.raises(ValueError, match=message):
        parse_timecode(timecode, rate)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "shots:\n  - start: 10\n    ref: refs/car.png\n  - start: 5\n    ref: refs/any.png\n",
            "shots.yaml, line 4: this entry starts at frame 5, not after the entry on line 2",
        ),
        (
            "shots:\n  - start: 0\n    ref: refs/missing.png\n",
            "line 2: reference 'refs/missing.png' not found",
        ),
        ("shots:\n  - start: soon\n    ref: refs/car.png\n", "line 2: 'soon' is not a start"),
        ("shots:\n  - start: 0\n", "line 2: each entry needs 'start:' and 'ref:'"),
        (
            "shots:\n  - start: 0\n    ref: refs/car.png\n    key: 3\n",
            "line 2: unknown key 'key'; an entry has 'start:', 'ref:', and optionally 'keyframe:'",
        ),
        (
            "shots:\n  - start: 0\n    ref: refs/car.png\n    keyframe: 30\n"
            "  - start: 20\n    ref: refs/any.png\n",
            "line 2: keyframe 30 lies outside this entry (frames 0 to 19)",
        ),
        (
            "shots:\n  - start: 0\n    ref: [refs/car.png, refs/any.png]\n    keyframe: 3\n",
            "line 2: keyframe: 'keyframe' gives 1 frames for 2 references",
        ),
        (
            "shots:\n  - start: 0\n    ref: refs/car.png\n    keyframe: later\n",
            "line 2: keyframe: 'later' is not a start",
        ),
        ("shots: [\n", "not valid YAML"),
        ("shot:\n  - start: 0\n", "unknown top-level keys ['shot']"),
        ("shots: []\n", "non-empty list"),
    ],
)
def test_bad_refs_files_name_the_file_and_line(refs_folder, text, message):
    with pytest.raises(InputError, match="shots.yaml") as caught:
        load_refs(write(refs_folder, text), FILM)
    assert message in str(caught.value)


def test_keyframes_by_number_timecode_and_seconds_one_per_reference(refs_folder):
    text = (
        "shots:\n"
        "  - start: 0\n    ref: refs/car.png\n    keyframe: 12\n"
        "  - start: 100\n    ref: [refs/street1.png, refs/street2.png]\n"
        "    keyframe: [00:00:04:12, 9.5s]\n"
        "  - start: 400\n    ref: refs/any.png\n"
    )
    plan = load_refs(write(refs_folder, text), Fraction(24))
    assert plan.entries[0].keyframes == (12,)
    assert plan.entries[1].keyframes == (4 * 24 + 12, 228)
    assert plan.entries[2].keyframes == ()
    assert plan.entries[2].keyframe_of(0) is None
    assert plan.entry_for(150, 150 / 24, Fraction(24)) == plan.entries[1]


def test_frames_before_the_first_entry_need_a_default(refs_folder):
    text = "shots:\n  - start: 1.0s\n    ref: refs/car.png\n"
    plan = load_refs(write(refs_folder, text), Fraction(25))
    with pytest.raises(InputError, match="frame 3 .* no 'default:' reference"):
        plan.references_for(3, 0.12, Fraction(25))


def test_single_reference_plan(refs_folder):
    plan = RefsPlan.single(refs_folder / "refs" / "car.png")
    assert plan.references_for(10**6, 1e5, FILM) == (refs_folder / "refs" / "car.png",)


def test_cuts_split_entries_into_shots_and_keyframes_stay_with_their_shot(refs_folder):
    text = (
        "default: refs/any.png\n"
        "shots:\n"
        "  - start: 10\n    ref: [refs/street1.png, refs/street2.png]\n"
        "    keyframe: [12, 40]\n"
        "  - start: 2.5s\n    ref: refs/car.png\n"  # frame 60 at 24 fps
        "  - start: 80\n    ref: refs/opening.png\n    keyframe: 81\n"
    )
    rate = Fraction(24)
    plan = load_refs(write(refs_folder, text), rate)
    # 5: inside the default's frames; 30: inside the two-keyframe entry; 60: at an entry's
    # start (nothing to split); 70: inside the entry in seconds; 90: inside the last entry.
    split = plan.split_at([5, 30, 60, 70, 90], rate)
    street, car, opening = plan.entries
    summary = [
        (entry.start.frame, entry.start.seconds, entry.line, entry.part, entry.keyframes)
        for entry in split.entries
    ]
    assert summary == [
        (5, None, 0, 1, ()),
        (10, None, 3, 0, (12, None)),
        (30, None, 3, 1, (None, 40)),
        (None, 2.5, 6, 0, ()),
        (70, None, 6, 1, ()),
        (80, None, 8, 0, (81,)),
        (90, None, 8, 1, ()),
    ]
    assert all(piece.references == street.references for piece in split.entries[1:3])
    assert split.entries[6].references == opening.references
    # Every frame is coloured by the same references as before, and frames on either side of
    # a cut by different pieces (so one track never spans a cut).
    for index in range(100):
        before = plan.entry_for(index, index / 24, rate)
        after = split.entry_for(index, index / 24, rate)
        assert after.references == before.references
    for cut in (5, 30, 70, 90):
        assert split.entry_for(cut - 1, (cut - 1) / 24, rate) != split.entry_for(
            cut, cut / 24, rate
        )
    assert plan.split_at([], rate) == plan
    assert car in split.entries  # an entry's first piece keeps its own start


NTSC_DF = Fraction(30000, 1001)
NTSC_60 = Fraction(60000, 1001)


@pytest.mark.parametrize(
    ("rate", "film_starts", "timecode", "frame"),
    [
        (Fraction(24), "01:00:00:00", "01:00:04:12", 4 * 24 + 12),
        (FILM, "01:00:00:00", "01:00:01:00", 24),  # 23.976 counts 24 nominal frames a second
        (Fraction(25), "10:00:00:00", "10:01:00:00", 60 * 25),
        (NTSC, "00:59:59;28", "01:00:00;02", 4),  # minute 60 is a tenth: no frames dropped
        (NTSC, "00:00:59;29", "00:01:00;02", 1),  # ;00 and ;01 do not exist at minute 1
        (NTSC, "00:59:00;02", "01:00:00;00", 1798),  # one minute across a dropped one
        (NTSC, "01:00:00:00", "01:01:00:00", 1800),  # non-drop counts every frame
        (NTSC_60, "00:00:59;59", "00:01:00;04", 1),  # 59.94 drops four at a minute
        (NTSC_60, "01:00:00:00", "01:00:01:30", 90),
    ],
)
def test_a_timecode_counts_from_the_films_start_timecode(
    refs_folder, rate, film_starts, timecode, frame
):
    text = f"shots:\n  - start: {timecode}\n    ref: refs/car.png\n    keyframe: {timecode}\n"
    plan = load_refs(write(refs_folder, text), rate, film_starts)
    assert plan.entries[0].start.frame == frame
    assert plan.entries[0].keyframes == (frame,)


def test_seconds_and_frame_numbers_stay_counted_from_the_first_frame(refs_folder):
    text = "shots:\n  - start: 12\n    ref: refs/car.png\n  - start: 2.5s\n    ref: refs/any.png\n"
    plan = load_refs(write(refs_folder, text), Fraction(24), "01:00:00:00")
    assert plan.entries[0].start.frame == 12 and plan.entries[1].start.seconds == 2.5


@pytest.mark.parametrize(
    ("rate", "film_starts", "timecode", "message"),
    [
        (
            Fraction(24),
            "01:00:00:00",
            "00:59:59:23",
            "line 2: 00:59:59:23 comes before the film's start timecode 01:00:00:00",
        ),
        (
            NTSC,
            "00:59:59;28",
            "01:00:01:00",
            "01:00:01:00 is not written like the film's start timecode 00:59:59;28, which is "
            "drop-frame",
        ),
        (
            NTSC_60,
            "01:00:00:00",
            "01:00:01;00",
            "is not written like the film's start timecode 01:00:00:00, which is non-drop",
        ),
        (Fraction(25), "25:00:00", "01:00:00:00", "the film's start timecode cannot be used"),
    ],
)
def test_timecodes_the_film_does_not_have_are_refused(
    refs_folder, rate, film_starts, timecode, message
):
    text = f"shots:\n  - start: {timecode}\n    ref: refs/car.png\n"
    with pytest.raises(InputError, match="shots.yaml, line 2") as caught:
        load_refs(write(refs_folder, text), rate, film_starts)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("rate", "film_starts", "timecode", "frame"),
    [
        (Fraction(24), "01:00:00:00", "01:00:00:03", 3),
        (Fraction(25), "00:10:00:00", "00:10:00:04", 4),
        (NTSC, "00:59:59;28", "01:00:00;02", 4),
        (NTSC, "01:00:00:00", "01:00:00:05", 5),
        (NTSC_60, "00:00:59;58", "00:01:00;05", 3),
        (NTSC_60, "02:00:00:00", "02:00:00:05", 5),
    ],
)
def test_a_refs_timecode_names_the_frame_a_real_movs_timecode_track_shows(
    refs_folder, rate, film_starts, timecode, frame
):
    """A .mov written with a start timecode, probed like any film: its `tmcd` start is the
    origin the refs file's timecodes count from."""
    info = probe(write_timecoded(refs_folder / "film.mov", rate, film_starts))
    assert info.start_timecode == film_starts
    text = "shots:\n  - start: 0\n    ref: refs/any.png\n"
    text += f"  - start: {timecode}\n    ref: refs/car.png\n"
    plan = load_refs(write(refs_folder, text), info.rate, info.start_timecode)
    assert plan.entries[1].start.frame == frame


def test_weights_one_per_reference_normalised(refs_folder):
    text = (
        "shots:\n  - start: 0\n    ref: [refs/street1.png, refs/street2.png]\n    weight: [3, 1]\n"
    )
    (entry,) = load_refs(write(refs_folder, text), FILM).entries
    assert entry.weights == (0.75, 0.25)
    assert entry.palette == (entry.references, (0.75, 0.25))


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        ("[1]", "gives 1 weights for 2 references"),
        ("[1, 0]", "weights must be positive numbers"),
        ("[1, heavy]", "weights must be positive numbers"),
    ],
)
def test_bad_weights_name_the_file_and_line(refs_folder, weight, message):
    two = "ref: [refs/street1.png, refs/street2.png]"
    text = f"shots:\n  - start: 0\n    {two}\n    weight: {weight}\n"
    with pytest.raises(InputError, match=f"shots.yaml, line 2: weight: .*{message}"):
        load_refs(write(refs_folder, text), FILM)
