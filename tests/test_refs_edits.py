"""Edits of a refs file (remaster/refs/edits.py) on a real encoded clip, read back by the same
code the command line uses."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import pytest

from remaster.errors import InputError
from remaster.refs.edits import RefsEditor, RefusedEdit, StaleEdit, store_reference
from remaster.run.check import check_job
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip

RATE = Fraction(30000, 1001)
TEXT = """\
# The reel's references (a comment the edits must keep).
shots:
  - start: 0          # opening
    ref: refs/a.png
  - start: "00:00:00:20"  # a timecode start stays a timecode
    ref: refs/b.png
    keyframe: 25
"""


@pytest.fixture()
def film(tmp_path: Path) -> Path:
    (tmp_path / "refs").mkdir()
    for name, seed in (("a", 1), ("b", 2), ("c", 3)):
        cv2.imwrite(str(tmp_path / "refs" / f"{name}.png"), photo_like(128, 160, seed))
    (tmp_path / "shots.yaml").write_text(TEXT)
    return write_clip(tmp_path / "film.mp4", frames=40, shots=2)


def editor(film: Path, cuts: Path | None = None) -> RefsEditor:
    refs = film.with_name("shots.yaml")
    return RefsEditor(refs, RATE, None, lambda candidate: check_job(film, candidate, None, cuts))


def rows(film: Path, cuts: Path | None = None) -> list[tuple]:
    job = check_job(film, film.with_name("shots.yaml"), None, cuts)
    return [
        (r.first, r.last, [p.name for p in r.entry.references], r.entry.keyframes, r.entry.approved)
        for r in job.rows
    ]


def test_split_keeps_comments_and_the_keyframe_on_its_side(film: Path) -> None:
    edits = editor(film)
    edits.split(edits.version(), 30)
    text = film.with_name("shots.yaml").read_text()
    assert "# The reel's references (a comment the edits must keep)." in text
    assert '  - start: "00:00:00:20"  # a timecode start stays a timecode' in text
    assert "  - start: 0          # opening" in text
    assert rows(film) == [
        (0, 19, ["a.png"], (), False),
        (20, 29, ["b.png"], (25,), False),
        (30, 39, ["b.png"], (), False),
    ]
    # A split before the keyframe moves it to the new shot.
    edits.split(edits.version(), 22)
    assert rows(film)[1:3] == [(20, 21, ["b.png"], (), False), (22, 29, ["b.png"], (25,), False)]


def test_merge_and_approve_and_reference(film: Path) -> None:
    edits = editor(film)
    version = edits.approve(edits.version(), 20, None, True)
    assert rows(film)[1][4] is True
    result = run_remaster("check", str(film), "--refs", str(film.with_name("shots.yaml")))
    assert result.returncode == 0, result.stderr
    assert "2 shots, 1 approved" in result.stdout
    assert "yes" in result.stdout.splitlines()[-2]  # shot 2's row: approved
    # A new reference keeps the keyframe (a painted keyframe replaces its grey export) and
    # needs approving again: the colour changed.
    version = edits.set_reference(version, 20, None, "refs/c.png")
    assert rows(film)[1] == (20, 39, ["c.png"], (25,), False)
    version = edits.set_keyframe(version, 20, None, None)
    assert rows(film)[1] == (20, 39, ["c.png"], (), False)
    version = edits.set_keyframe(version, 0, 20, 7)
    version = edits.merge(version, 20)
    assert rows(film) == [(0, 39, ["a.png"], (7,), False)]


def test_a_stale_or_invalid_edit_changes_nothing(film: Path) -> None:
    refs = film.with_name("shots.yaml")
    edits = editor(film)
    old = edits.version()
    refs.write_text(TEXT.replace("# opening", "# edited in another window"))
    before = refs.read_bytes()
    with pytest.raises(StaleEdit, match="changed on disk since this page read it"):
        edits.split(old, 30)
    with pytest.raises(RefusedEdit, match=r"shots.yaml, line \d+: keyframe 99 is past the film"):
        edits.set_keyframe(edits.version(), 20, None, 99)
    with pytest.raises(RefusedEdit, match="already starts a shot"):
        edits.split(edits.version(), 20)
    assert refs.read_bytes() == before
    assert not list(refs.parent.glob("shots.yaml.~*~"))
    assert not list(refs.parent.glob(".*partial*"))


def test_each_edit_keeps_the_version_before_as_a_numbered_backup(film: Path) -> None:
    refs = film.with_name("shots.yaml")
    edits = editor(film)
    versions = [refs.read_bytes()]
    version = edits.version()
    for frame in (10, 30):
        version = edits.split(version, frame)
        versions.append(refs.read_bytes())
    assert refs.with_name("shots.yaml.~1~").read_bytes() == versions[0]
    assert refs.with_name("shots.yaml.~2~").read_bytes() == versions[1]
    assert refs.read_bytes() == versions[2]


def test_a_shot_of_the_default_or_of_a_cut_list_becomes_its_own_entry(film: Path) -> None:
    refs = film.with_name("shots.yaml")
    refs.write_text("default: refs/c.png\nshots:\n  - start: 10\n    ref: refs/a.png\n")
    edits = editor(film)
    edits.approve(edits.version(), 0, 10, True)
    assert rows(film) == [(0, 9, ["c.png"], (), True), (10, 39, ["a.png"], (), False)]
    # A cut list splits the second entry at 25: approving its second piece adds entries at
    # the piece's bounds, and every frame keeps its reference.
    cuts = film.with_name("cuts.csv")
    cuts.write_text("Scene Number,Start Frame,End Frame\n1,1,25\n2,26,40\n")
    pieces = editor(film, cuts)
    before = [row[:3] for row in rows(film, cuts)]
    pieces.approve(pieces.version(), 25, None, True)
    after = rows(film, cuts)
    assert [row[:3] for row in after] == before
    assert [row[4] for row in after] == [True, False, True]
    with pytest.raises(RefusedEdit, match="the cut list splits the film at frame 25"):
        pieces.merge(pieces.version(), 25, cut=True)


def test_approved_must_be_true_or_false(film: Path) -> None:
    refs = film.with_name("shots.yaml")
    refs.write_text(TEXT + "    approved: yes please\n")
    with pytest.raises(InputError, match=r"line 5: approved: write true or false"):
        check_job(film, refs, None)


def test_a_new_reference_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "painted.png").write_bytes(b"taken")
    (tmp_path / "painted-2.png").write_bytes(b"taken")
    assert store_reference(tmp_path, "painted") == tmp_path / "painted-3.png"
    assert store_reference(tmp_path, "new") == tmp_path / "new.png"


def test_a_piece_made_its_own_entry_keeps_its_approval(film: Path) -> None:
    """An approved entry split by a cut list: editing one piece leaves the others approved."""
    refs = film.with_name("shots.yaml")
    refs.write_text("shots:\n  - start: 0\n    ref: refs/a.png\n    approved: true\n")
    cuts = film.with_name("cuts.csv")
    cuts.write_text("Scene Number,Start Frame,End Frame\n1,1,10\n2,11,30\n3,31,40\n")
    pieces = editor(film, cuts)
    assert [row[4] for row in rows(film, cuts)] == [True, True, True]
    pieces.set_keyframe(pieces.version(), 10, 30, 12)
    assert [row[3:] for row in rows(film, cuts)] == [((), True), ((12,), False), ((), True)]
