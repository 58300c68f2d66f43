"""Edits of a refs file as a colorist makes them in `remaster review`, written back in place.

The refs file stays the contract: an edit changes the YAML the command line reads, and nothing
else. It is read and written with ruamel.yaml's round trip, so comments, key order, quoting and
the way each start is written (frame, timecode or seconds) survive; only the entries an edit
touches change.

Every edit is made against the version of the file the page was showing (`version`, a digest
of its bytes). If the file changed since (another tab, another person, an editor), the edit is
refused, never merged. A new text is checked as the run would check it (`check`), then the old
one is kept as a numbered backup (shots.yaml.~1~, ~2~, ...: Emacs's and GNU cp's names) and the
new one is renamed into place.

Edits act on a shot: frames `first` to `end - 1` as `remaster check` lists them. A shot that is
not yet an entry of its own (part of an entry a cut list splits, or the default's frames)
becomes one first, by adding entries at its bounds that repeat the references around them:
what every frame is coloured from stays the same until the edit itself.
"""

from __future__ import annotations

import copy
import hashlib
import io
import os
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from model.files import atomic_output, write_atomically
from remaster.errors import InputError
from remaster.refs.refs_file import first_frame, parse_keyframes, parse_start


class StaleEdit(InputError):
    """The refs file changed on disk after the page read it."""


class RefusedEdit(InputError):
    """An edit that cannot be made (the page says why)."""


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def round_trip() -> YAML:
    yaml = YAML()  # round trip: comments, order and quotes kept
    yaml.preserve_quotes = True
    # The layout `remaster shots` writes and the examples use: "  - start: 0".
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # never fold a long path onto two lines
    return yaml


def numbered_backup(path: Path) -> Path:
    """The next free backup name: shots.yaml.~N~ after the highest N there."""
    numbers = [
        int(p.name[len(path.name) + 2 : -1])
        for p in path.parent.glob(f"{path.name}.~*~")
        if p.name[len(path.name) + 2 : -1].isdigit()
    ]
    return path.with_name(f"{path.name}.~{max(numbers, default=0) + 1}~")


class RefsEditor:
    """The one writer of a refs file for a review room. `check(path)` raises InputError
    when a text (written at `path`, beside the refs file) would not run."""

    def __init__(
        self,
        path: Path,
        rate: Fraction,
        start_timecode: str | None,
        check: Callable[[Path], None],
    ) -> None:
        self.path, self.rate, self.start_timecode, self.check = path, rate, start_timecode, check
        self.lock = threading.Lock()  # one edit at a time: each reads what the last wrote

    def version(self) -> str:
        return version_of(self.path.read_bytes())

    def edit(self, version: str, change: Callable[[CommentedMap], None]) -> str:
        """Apply `change` to the file as of `version`; returns the new version."""
        with self.lock:
            data = self.path.read_bytes()
            if version_of(data) != version:
                raise StaleEdit(
                    f"{self.path}: changed on disk since this page read it (another tab, another "
                    "person or an editor); nothing was changed: reload to see it, then edit again"
                )
            yaml = round_trip()
            try:
                document = yaml.load(data.decode("utf-8"))
            except (YAMLError, UnicodeDecodeError) as error:
                raise RefusedEdit(f"{self.path}: cannot be read for editing ({error})") from None
            change(document)
            stream = io.StringIO()
            yaml.dump(document, stream)
            text = stream.getvalue().encode("utf-8")
            with atomic_output(self.path) as candidate:
                candidate.write_bytes(text)
                try:
                    self.check(candidate)
                except InputError as error:
                    # Said of the file the user knows, not of the candidate beside it.
                    raise RefusedEdit(str(error).replace(str(candidate), str(self.path))) from None
                write_atomically(numbered_backup(self.path), data)
            return version_of(text)

    # The edits. Each takes the shot's frames as `check` lists them: first, and end (the
    # next shot's first frame, None for the last shot).

    def set_reference(self, version: str, first: int, end: int | None, name: str) -> str:
        """The shot coloured from one reference, `name` (relative to the refs file). A
        keyframe it had stays (a painted keyframe replaces its grey export); weights go."""

        def change(document: CommentedMap) -> None:
            entry = self._own_entry(document, first, end)
            entry["ref"] = name
            entry.pop("weight", None)
            if isinstance(entry.get("keyframe"), list):
                entry.pop("keyframe")  # one per reference no longer holds
            entry.pop("approved", None)  # the colour changed: approve it again

        return self.edit(version, change)

    def set_keyframe(self, version: str, first: int, end: int | None, frame: int | None) -> str:
        """The frame the shot's reference shows (None: none, found by matching)."""

        def change(document: CommentedMap) -> None:
            entry = self._own_entry(document, first, end)
            if isinstance(entry["ref"], list) and len(entry["ref"]) > 1:
                raise RefusedEdit(
                    f"{self.path}: this shot has {len(entry['ref'])} references; give one "
                    "keyframe per reference in the refs file (keyframe: [a, b])"
                )
            if frame is None:
                entry.pop("keyframe", None)
            else:
                entry["keyframe"] = frame
            entry.pop("approved", None)

        return self.edit(version, change)

    def approve(self, version: str, first: int, end: int | None, approved: bool) -> str:
        def change(document: CommentedMap) -> None:
            entry = self._own_entry(document, first, end)
            if approved:
                entry["approved"] = True
            else:
                entry.pop("approved", None)

        return self.edit(version, change)

    def split(self, version: str, frame: int) -> str:
        """A new shot from `frame` on, with the references of the one it was part of."""

        def change(document: CommentedMap) -> None:
            if frame in self._starts(document):
                raise RefusedEdit(f"frame {frame} already starts a shot; pick a frame inside one")
            index = self._boundary(document, frame)
            for entry in document["shots"][max(0, index - 1) : index + 1]:
                entry.pop("approved", None)  # both halves are coloured anew

        return self.edit(version, change)

    def merge(self, version: str, following: int, cut: bool = False) -> str:
        """The shot starting at `following` joined to the one before: its entry goes, and the
        entry before colours both. `cut`: a cut list splits there, which no refs edit undoes."""

        def change(document: CommentedMap) -> None:
            if cut:
                raise RefusedEdit(
                    f"the cut list splits the film at frame {following}; merge these shots "
                    "there, or run without it"
                )
            starts = self._starts(document)
            if following not in starts:
                raise RefusedEdit(f"no shot of the refs file starts at frame {following}")
            index = starts.index(following)
            shots = document["shots"]
            if index == 0:
                if "default" not in document:
                    raise RefusedEdit("the first shot has no shot before it to merge with")
                shots[0]["start"] = 0  # the default's frames join it: it colours both
            else:
                del shots[index]
                shots[index - 1].pop("approved", None)

        return self.edit(version, change)

    # Helpers on the round-trip document.

    def _starts(self, document: CommentedMap) -> list[int]:
        return [
            first_frame(parse_start(entry["start"], self.rate, self.start_timecode), self.rate)
            for entry in document["shots"]
        ]

    def _keyframes(self, entry: CommentedMap) -> list[int]:
        if "keyframe" not in entry:
            return []
        count = len(entry["ref"]) if isinstance(entry["ref"], list) else 1
        return list(parse_keyframes(entry["keyframe"], count, self.rate, self.start_timecode))

    def _own_entry(self, document: CommentedMap, first: int, end: int | None) -> CommentedMap:
        """The entry that colours exactly frames first..end-1, made where needed."""
        if end is not None:
            self._boundary(document, end)
        return document["shots"][self._boundary(document, first)]

    def _boundary(self, document: CommentedMap, frame: int) -> int:
        """The index of an entry starting at `frame`, added where none does: a copy of the
        entry (or default) covering `frame`. A keyframe goes with the side it lies on; a list
        of keyframes split between the sides goes from both (matching finds them instead)."""
        shots: CommentedSeq = document["shots"]
        starts = self._starts(document)
        if frame in starts:
            return starts.index(frame)
        index = sum(start < frame for start in starts)  # where the new entry goes
        if index == 0:
            if "default" not in document:
                raise RefusedEdit(f"frame {frame} comes before the first shot and no default")
            entry = CommentedMap([("start", frame), ("ref", copy.deepcopy(document["default"]))])
            shots.insert(0, entry)
            return 0
        before = shots[index - 1]
        entry = CommentedMap([("start", frame)])
        # Everything that decides the frames' colour, and the approval of that colour: a
        # piece made its own entry is coloured, and approved, as it was.
        for key in ("ref", "weight", "approved"):
            if key in before:
                entry[key] = copy.deepcopy(before[key])
        keyframes = self._keyframes(before)
        if keyframes and all(k >= frame for k in keyframes):
            entry["keyframe"] = before.pop("keyframe")
        elif keyframes and any(k >= frame for k in keyframes):
            before.pop("keyframe")
        shots.insert(index, entry)
        return index


def store_reference(folder: Path, stem: str) -> Path:
    """A free name for a new reference in `folder`: stem.png, else stem-2.png, ...; an
    existing file is never overwritten."""
    candidate, number = folder / f"{stem}.png", 1
    while os.path.lexists(candidate):  # a dangling link too
        number += 1
        candidate = folder / f"{stem}-{number}.png"
    return candidate
