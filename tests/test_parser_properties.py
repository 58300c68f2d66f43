"""Properties of the parsers of what users write: the refs file, timecodes and cut lists.

Whatever the text, a parser gives a plan (or frames) or a clean error with a message
(InputError from the file readers, ValueError from the value parsers), never another
exception; and what remaster writes, it reads back as the same frames.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remaster.errors import InputError
from remaster.refs.cut_lists import read_cuts, write_cuts
from remaster.refs.refs_file import (
    RefsPlan,
    format_timecode,
    load_refs,
    parse_keyframes,
    parse_start,
    parse_timecode,
    parse_weights,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RATES = {
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
    "30": Fraction(30),
    "50": Fraction(50),
    "59.94": Fraction(60000, 1001),
}
rates = st.sampled_from(list(RATES.values()))
# Timecode hours have two digits: frames up to 99:59:59 at the rate.
HOURS_100 = 100 * 3600


@pytest.fixture(scope="module")
def folder():
    """A folder with the images refs files name (load_refs checks they exist, not their pixels).
    Module-wide: hypothesis runs many examples per test function."""
    with tempfile.TemporaryDirectory() as name:
        path = Path(name)
        for image in ("a.png", "b.png"):
            (path / image).write_bytes(b"")
        yield path


def load(folder: Path, text: str | bytes, rate: Fraction, start: str | None = None):
    path = folder / "refs.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    try:
        return load_refs(path, rate, start)
    except InputError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message.strip(), message
        return error


# Pieces refs files are made of, good and bad, for text that gets past the YAML parser often.
KEYS = ["shots", "default", "start", "ref", "keyframe", "weight", "refs", "[1]", "? x"]
VALUES = [
    "0", "12", "-3", "3.5", "1e9", "9" * 30, "00:00:04:12", '"00:00:04;12"', "00:01:00;00",
    "'1:2:3'", "12.5s", "1e400s", "a.png", "[a.png, b.png]", "missing.png", "[1, 2]", "[3, 1]",
    "[]", "{}", "", "~", ".inf", ".nan", "true", "!!python/object:os.system x", "&x 4", "*x",
    "'", '"', "[", "{a: 1}", "- a.png", "\t1", "２", "٣",
]  # fmt: skip
line = st.builds(
    lambda indent, dash, key, value: f"{' ' * indent}{'- ' if dash else ''}{key}: {value}",
    st.integers(0, 6),
    st.booleans(),
    st.sampled_from(KEYS),
    st.sampled_from(VALUES),
)
yamlish = st.lists(line | st.sampled_from(["shots:", "  -", "---", "#", "..."]), max_size=12).map(
    "\n".join
)
start_value = st.one_of(
    st.integers(-5, 400),
    st.builds(lambda s: f"{s}s", st.floats(0, 20, allow_nan=False).map(lambda x: round(x, 2))),
    st.builds(
        lambda h, m, s, f, sep: f"{h:02d}:{m:02d}:{s:02d}{sep}{f:02d}",
        st.integers(0, 1),
        st.integers(0, 61),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(":;"),
    ),
)
entry = st.fixed_dictionaries(
    {"start": start_value, "ref": st.sampled_from(["a.png", "b.png", ["a.png", "b.png"], "x.png"])},
    optional={
        "keyframe": st.one_of(start_value, st.lists(start_value, max_size=3)),
        "weight": st.one_of(st.integers(-1, 4), st.lists(st.floats(-1, 5), max_size=3)),
    },
)
refs_documents = st.fixed_dictionaries(
    {"shots": st.lists(entry, max_size=5)},
    optional={"default": st.sampled_from(["a.png", "x.png", ["a.png", "b.png"]])},
)
start_timecodes = st.sampled_from([None, "00:00:00:00", "01:00:00:00", "01:00:00;00", "bad"])


@FAST
@given(text=st.text(), rate=rates)
@example(text="shots:\n  - start: 0\n    ref:\n", rate=Fraction(24))
@example(text="shots:\n  - start: 0\n    ref: a.png\n    [1]: 2\n", rate=Fraction(24))
@example(text="shots:\n  - start: ²\n    ref: a.png\n", rate=Fraction(24))
def test_any_text_is_a_plan_or_one_clean_error(folder, text, rate):
    assert isinstance(load(folder, text, rate), RefsPlan | InputError)


@FAST
@given(text=yamlish, rate=rates, start=start_timecodes)
def test_yaml_like_text_is_a_plan_or_one_clean_error(folder, text, rate, start):
    assert isinstance(load(folder, text, rate, start), RefsPlan | InputError)


@FAST
@given(document=refs_documents, rate=rates, start=start_timecodes)
def test_refs_files_of_random_entries_are_plans_in_order_or_errors(folder, document, rate, start):
    result = load(folder, yaml.safe_dump(document), rate, start)
    if isinstance(result, RefsPlan):
        # What loads is usable: entries in increasing order, one keyframe per reference at
        # most, weights summing to 1.
        positions = [entry.start.frame_at(rate) for entry in result.entries]
        assert positions == sorted(set(positions)) and len(positions) == len(document["shots"])
        for entry in result.entries:
            assert len(entry.keyframes) in (0, len(entry.references))
            assert not entry.weights or abs(sum(entry.weights) - 1) < 1e-9


@FAST
@given(data=st.binary(max_size=200), rate=rates)
def test_any_bytes_are_a_plan_or_one_clean_error(folder, data, rate):
    assert isinstance(load(folder, data, rate), RefsPlan | InputError)


anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=6,
)


@FAST
@given(value=anything | start_value, rate=rates, start=start_timecodes)
def test_value_parsers_give_a_value_or_a_value_error(value, rate, start):
    for parse in (
        lambda: parse_start(value, rate, start),
        lambda: parse_keyframes(value, 2, rate, start),
        lambda: parse_weights(value, 2),
        lambda: parse_timecode(value, rate) if isinstance(value, str) else 0,
    ):
        try:
            parse()
        except ValueError as error:
            assert str(error)


@FAST
@given(rate=rates, data=st.data())
def test_format_then_parse_timecode_is_the_same_frame(rate, data):
    drop = rate.denominator == 1001 and round(rate) in (30, 60)
    last = parse_timecode(f"99:59:59{';' if drop else ':'}{round(rate) - 1:02d}", rate)
    frame = data.draw(st.integers(0, last))
    text = format_timecode(frame, rate)
    assert parse_timecode(text, rate) == frame
    # The timecode counts up with the frames: the next frame's is the next in the list.
    assert format_timecode(frame + 1, rate) > text or text.startswith("99:")


@pytest.mark.parametrize("name", ["29.97", "59.94"])
@FAST
@given(data=st.data())
def test_drop_frame_timecodes_that_exist_round_trip(name, data):
    rate = RATES[name]
    nominal = round(rate)
    hours, minutes = data.draw(st.integers(0, 23)), data.draw(st.integers(0, 59))
    seconds, frames = data.draw(st.integers(0, 59)), data.draw(st.integers(0, nominal - 1))
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d};{frames:02d}"
    if seconds == 0 and frames < nominal // 15 and minutes % 10:
        with pytest.raises(ValueError, match="does not exist in drop-frame"):
            parse_timecode(text, rate)
    else:
        assert format_timecode(parse_timecode(text, rate), rate) == text


@pytest.mark.parametrize("name", ["23.976", "29.97", "59.94"])
@FAST
@given(data=st.data())
def test_non_drop_timecodes_at_fractional_rates_count_nominal_frames(name, data):
    """At 23.976, 29.97 and 59.94 a non-drop timecode (':') counts 24, 30 or 60 frames a
    second of timecode: the same frame as the whole rate's timecode."""
    rate = RATES[name]
    nominal = round(rate)
    frame = data.draw(st.integers(0, HOURS_100 * nominal - 1))
    text = format_timecode(frame, Fraction(nominal))
    assert ";" not in text and parse_timecode(text, rate) == frame


cut_lists = st.integers(2, 600).flatmap(
    lambda count: st.tuples(
        st.just(count), st.lists(st.integers(1, count - 1), unique=True, max_size=12).map(sorted)
    )
)


@pytest.mark.parametrize("suffix", [".csv", ".edl", ".otio"])
@settings(max_examples=100, deadline=None)
@given(rate=rates, film=cut_lists)
def test_written_cut_lists_read_back_as_the_same_cuts(folder, suffix, rate, film):
    count, cuts = film
    path = folder / f"cuts{suffix}"
    write_cuts(path, cuts, count, rate, "film.mp4")
    assert read_cuts(path, rate, count) == cuts


CSV_PIECES = ["Start Frame", "Start Time (seconds)", "Scene Number", "Timecode List:", "1", "0",
              "-4", "abc", "2.5", '"', "", "١٢", "²", "99999999999999999999", "\x00"]  # fmt: skip
EDL_PIECES = ["TITLE: x", "FCM: DROP FRAME", "FCM: NON-DROP FRAME", "* comment",
              "001  AX       V     C        00:00:00:00 00:00:01:00 00:00:00:00 00:00:01:00",
              "002  AX       V     C        00:00:01:00 00:00:02:00 00:00:01:00 00:00:02:00",
              "003  AX       V     D    010 00:00:02:00 00:00:03:00 00:00:02:00 00:00:03:00",
              "004  AX       A     C        99:99:99:99 00:00:00:00 00:00:00:00 00:00:00:00",
              "005  BL V C 00:00:00;00 00:00:00;10 00:00:00;00 00:00:00;10",
              "* FROM CLIP NAME: a.mov", "M2   AX       050.0                00:00:00:00",
              "", "garbage"]  # fmt: skip
OTIO_PIECES = ['{"OTIO_SCHEMA": "Timeline.1", "tracks": {}}', "{}", "[]", "null", '{"a": ',
               '{"OTIO_SCHEMA": "Clip.2"}', '{"OTIO_SCHEMA": "Nope.1"}', "1"]  # fmt: skip


def cut_text(pieces: list[str], separator: str):
    return st.lists(st.sampled_from(pieces) | st.text(max_size=8), max_size=10).map(separator.join)


@pytest.mark.parametrize(
    ("suffix", "texts"),
    [
        (".csv", cut_text(CSV_PIECES, ",") | cut_text(CSV_PIECES, "\n")),
        (".edl", cut_text(EDL_PIECES, "\n")),
        (".otio", cut_text(OTIO_PIECES, "") | st.text(max_size=40)),
    ],
)
@FAST
@given(data=st.data(), rate=rates)
def test_any_cut_list_text_is_cuts_or_one_clean_error(folder, suffix, texts, data, rate):
    path = folder / f"cuts{suffix}"
    path.write_text(data.draw(texts), encoding="utf-8", errors="surrogatepass")
    try:
        cuts = read_cuts(path, rate, 1000)
    except InputError as error:
        assert str(error).startswith(str(path)) and "\n" not in str(error).strip(), str(error)
    else:
        assert cuts == sorted(set(cuts)) and all(0 < cut < 1000 for cut in cuts)
