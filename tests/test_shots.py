from fractions import Fraction

import numpy as np
import pytest

from remaster.errors import InputError
from remaster.images import write_image
from remaster.shots import RefsPlan, load_refs, parse_timecode

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
    assert len(plan.reference_sets()) == 4


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
            "line 2: each entry needs 'start:' and 'ref:', and may have 'keyframe:'",
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
