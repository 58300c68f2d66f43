"""The refs file: which reference image colours which frames.

    default: refs/any.png          # optional: for frames no entry covers
    shots:
      - start: 0                   # a frame number, inclusive
        ref: refs/opening.png
      - start: "00:00:04:12"       # SMPTE timecode HH:MM:SS:FF (HH:MM:SS;FF drop-frame),
                                   # as the film's own timecode track counts (if it has one)
        ref: [refs/street1.png, refs/street2.png]   # several refs: embeddings averaged,
        weight: [3, 1]             # optionally weighted (the heaviest leads the matching)
      - start: 12.5s               # seconds
        ref: refs/car.png
      - start: 400
        ref: painted-0412.png
        keyframe: 412              # the frame the reference shows (number or timecode):
                                   # its colours are carried along the shot from there
      - start: 600
        ref: [first.png, last.png]
        keyframe: [600, 980]       # one per reference: each frame takes its colours from
                                   # the nearest keyframes, blended by distance
        approved: true             # a colorist has approved the shot (`remaster review`)

Each entry runs from its start to the next entry's start. Paths are relative to the YAML file.
A reference without `keyframe:` may still be a frame of its shot: propagation finds that out
by matching (remaster/color/propagation.py). Errors name the file and line and say what to do.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from remaster.errors import InputError

TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;])(\d{2})$")
SECONDS = re.compile(r"^(\d+(?:\.\d+)?)s$")


@dataclass(frozen=True)
class Start:
    """Where an entry starts: a frame number or a time in seconds (for timestamps)."""

    frame: int | None = None
    seconds: float | None = None

    def frame_at(self, rate: Fraction) -> float:
        """The start as a (possibly fractional) frame position at a constant `rate`."""
        return float(self.frame) if self.frame is not None else self.seconds * float(rate)

    def covers(self, index: int, seconds: float, rate: Fraction) -> bool:
        """True when a frame (its index and presentation time) is at or after this start."""
        if self.frame is not None:
            return index >= self.frame
        # Half a frame of tolerance: a start at 12.5 s takes the frame shown at 12.5 s even
        # when rounding puts its timestamp a hair earlier.
        return seconds >= self.seconds - 0.5 / float(rate)


@dataclass(frozen=True)
class ShotEntry:
    start: Start
    references: tuple[Path, ...]
    line: int
    # The film frame each reference shows, where the refs file says so (`keyframe:`).
    keyframes: tuple[int | None, ...] = ()
    # Which piece of its entry this is, where a cut list splits the entry into shots (0: the
    # first or only one): pieces share a line, and a saved track must not pass between them.
    part: int = 0
    # How much each reference counts (`weight:`, summing to 1); () for equal weights.
    weights: tuple[float, ...] = ()
    # A colorist's mark (`approved: true`): shown by `check`, and what "render approved" takes.
    approved: bool = False

    @property
    def palette(self) -> tuple[tuple[Path, ...], tuple[float, ...]]:
        """What the entry's guide is made from: its references and their weights. Entries
        with the same palette share one guide."""
        return self.references, self.weights

    def keyframe_of(self, position: int) -> int | None:
        return self.keyframes[position] if position < len(self.keyframes) else None

    def split_at(self, cuts: list[int], end: float) -> list[ShotEntry]:
        """The entry's pieces between `cuts` (frames inside it, in order) and `end` (the next
        entry's first frame). Each has the entry's references; a keyframe stays with the piece
        that holds it, and a piece without one finds its references' frames by matching, as
        an entry without `keyframe:` does."""
        pieces = []
        for part, (first, following) in enumerate(zip([None, *cuts], [*cuts, end], strict=True)):
            keyframes = tuple(
                None if k is None or (first is not None and k < first) or k >= following else k
                for k in self.keyframes
            )
            if all(k is None for k in keyframes):
                keyframes = ()
            start = self.start if first is None else Start(frame=first)
            pieces.append(
                ShotEntry(
                    start, self.references, self.line, keyframes, part, self.weights, self.approved
                )
            )
        return pieces


@dataclass(frozen=True)
class RefsPlan:
    """The parsed refs file: entries in order and an optional default."""

    entries: tuple[ShotEntry, ...]
    default: tuple[Path, ...] | None
    source: Path | None

    @staticmethod
    def single(reference: Path) -> RefsPlan:
        """`--ref one.png`: one reference for the whole film."""
        return RefsPlan((ShotEntry(Start(frame=0), (reference,), 0),), None, None)

    def palettes(self) -> list[tuple[tuple[Path, ...], tuple[float, ...]]]:
        """Every distinct (references, weights) of the plan, in first-use order: each is
        read, embedded and matched once per run (see ShotEntry.palette)."""
        palettes = [entry.palette for entry in self.entries]
        if self.default is not None:
            palettes.insert(0, (self.default, ()))
        return list(dict.fromkeys(palettes))

    def references_for(self, index: int, seconds: float, rate: Fraction) -> tuple[Path, ...]:
        return self.entry_for(index, seconds, rate).references

    def entry_for(self, index: int, seconds: float, rate: Fraction) -> ShotEntry:
        """The entry colouring a frame (the default's own entry before the first one)."""
        chosen = None
        for entry in self.entries:
            if entry.start.covers(index, seconds, rate):
                chosen = entry
            else:
                break
        if chosen is not None:
            return chosen
        if self.default is None:
            where = f"{self.source}: " if self.source else ""
            raise InputError(
                f"{where}frame {index} ({seconds:.3f} s) comes before the first entry and there is "
                "no 'default:' reference; add one or start the first entry at 0"
            )
        return ShotEntry(Start(frame=0), self.default, 0)

    def split_at(self, cuts: list[int], rate: Fraction) -> RefsPlan:
        """The plan with each entry split into shots at the cuts (first frames of shots)
        inside it, the default's frames too, so no batch and no track crosses a cut."""
        firsts = [first_frame(entry.start, rate) for entry in self.entries]
        pieces: list[ShotEntry] = []
        if self.default is not None:
            # Before the first entry the default colours; its first piece stays implicit.
            before = [cut for cut in cuts if 0 < cut < firsts[0]]
            pieces += [
                ShotEntry(Start(frame=cut), self.default, 0, (), part)
                for part, cut in enumerate(before, start=1)
            ]
        for entry, first, end in zip(self.entries, firsts, [*firsts[1:], math.inf], strict=True):
            pieces += entry.split_at([cut for cut in cuts if first < cut < end], end)
        return RefsPlan(tuple(pieces), self.default, self.source)

    def check_order(self, rate: Fraction) -> None:
        """Entries must start in increasing order (compared at the film's frame rate), and
        each keyframe must lie inside its own entry."""
        previous = None
        for entry in self.entries:
            position = entry.start.frame_at(rate)
            if previous is not None and position <= previous[0]:
                raise InputError(
                    f"{self.source}, line {entry.line}: this entry starts at frame "
                    f"{position:g}, not after the entry on line {previous[1]} (frame "
                    f"{previous[0]:g}); list entries in increasing order of start"
                )
            previous = (position, entry.line)
        for entry, following in zip(self.entries, [*self.entries[1:], None], strict=True):
            first = entry.start.frame_at(rate)
            end = following.start.frame_at(rate) if following else float("inf")
            for keyframe in entry.keyframes:
                if keyframe is not None and not first - 0.5 <= keyframe < end - 0.5:
                    raise InputError(
                        f"{self.source}, line {entry.line}: keyframe {keyframe} lies outside "
                        f"this entry (frames {first:g} to {end - 1:g}); a keyframe must be a "
                        "frame of its own entry"
                    )


def first_frame(start: Start, rate: Fraction) -> int:
    """The first frame an entry's start covers (a start in seconds takes the frame shown
    within half a frame of it, as `Start.covers` does)."""
    return start.frame if start.frame is not None else math.ceil(start.frame_at(rate) - 0.5)


def parse_timecode(text: str, rate: Fraction) -> int:
    """SMPTE HH:MM:SS:FF (or ;FF, drop-frame) -> frame number at `rate` frames per second."""
    match = TIMECODE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a timecode HH:MM:SS:FF")
    hours, minutes, seconds, separator, frames = match.groups()
    hours, minutes, seconds, frames = int(hours), int(minutes), int(seconds), int(frames)
    nominal = round(rate)  # 24 for 23.976, 30 for 29.97: timecode counts nominal frames
    if minutes > 59 or seconds > 59 or frames >= nominal:
        raise ValueError(f"{text!r} is out of range at {nominal} frames per second")
    total = ((hours * 60 + minutes) * 60 + seconds) * nominal + frames
    if separator == ";":
        if nominal not in (30, 60) or rate.denominator == 1:
            raise ValueError(
                f"{text!r} is drop-frame (';'), which exists only at 29.97 and 59.94 fps; "
                f"this film runs at {float(rate):.3f} fps: use ':'"
            )
        # Drop-frame skips frame numbers 0 and 1 (0-3 at 59.94) at the start of every minute
        # except each tenth, so the timecode keeps up with the clock.
        dropped_per_minute = nominal // 15
        total_minutes = hours * 60 + minutes
        if seconds == 0 and frames < dropped_per_minute and total_minutes % 10:
            raise ValueError(f"{text!r} does not exist in drop-frame timecode")
        total -= dropped_per_minute * (total_minutes - total_minutes // 10)
    return total


def format_timecode(frame: int, rate: Fraction) -> str:
    """Frame number -> SMPTE timecode at `rate`, as an editor's timeline shows it: drop-frame
    (HH:MM:SS;FF) at 29.97 and 59.94, non-drop elsewhere. The inverse of parse_timecode."""
    nominal = round(rate)
    drop = rate.denominator == 1001 and nominal in (30, 60)
    if drop:
        dropped = nominal // 15
        per_ten_minutes = nominal * 600 - dropped * 9
        per_minute = nominal * 60 - dropped
        tens, rest = divmod(frame, per_ten_minutes)
        frame += dropped * 9 * tens
        if rest > dropped:
            frame += dropped * ((rest - dropped) // per_minute)
    seconds, frames = divmod(frame, nominal)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{';' if drop else ':'}{frames:02d}"


def timecode_frame(text: str, rate: Fraction, start_timecode: str | None = None) -> int:
    """A timecode -> the frame an editor sees at it: with the film's own start timecode (its
    `tmcd` track or timecode metadata), counted from there: at 24 fps, 01:00:04:12 in a film
    that starts at 01:00:00:00 is frame 108."""
    frame = parse_timecode(text, rate)
    if start_timecode is None:
        return frame
    try:
        origin = parse_timecode(start_timecode, rate)
    except ValueError as error:
        raise ValueError(
            f"the film's start timecode cannot be used ({error}); give frame numbers or "
            "seconds instead"
        ) from None
    if (";" in text) != (";" in start_timecode):
        # Drop-frame and non-drop timecodes of one moment differ (by 18 frames an hour at
        # 29.97): the editor shows the film's kind, so the refs file must use the same.
        kind = "drop-frame (;FF)" if ";" in start_timecode else "non-drop (:FF)"
        raise ValueError(
            f"{text} is not written like the film's start timecode {start_timecode}, which is "
            f"{kind}; write it the same way"
        )
    if frame < origin:
        raise ValueError(
            f"{text} comes before the film's start timecode {start_timecode} (its first "
            "frame); give a timecode at or after it, or a frame number or seconds counted from "
            "the first frame"
        )
    return frame - origin


def parse_start(value: object, rate: Fraction, start_timecode: str | None = None) -> Start:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a start")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a start frame cannot be negative")
        return Start(frame=_frame_number(value))
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return Start(frame=_frame_number(int(text)))
        if seconds := SECONDS.match(text):
            if not math.isfinite(float(seconds.group(1))) or len(seconds.group(1)) > 20:
                raise ValueError(f"{text!r} is more seconds than any film runs")
            return Start(seconds=float(seconds.group(1)))
        if TIMECODE.match(text):
            return Start(frame=timecode_frame(text, rate, start_timecode))
    raise ValueError(
        f'{value!r} is not a start: use a frame number (120), a timecode ("00:00:04:12") '
        "or seconds (12.5s)"
    )


def _frame_number(frame: int) -> int:
    # Positions are compared as floats (seconds and frames mix): past 2**53 they stop being exact.
    if frame > 2**53:
        raise ValueError(f"{frame} is more frames than any film has")
    return frame


def parse_keyframes(
    value: object, count: int, rate: Fraction, start_timecode: str | None = None
) -> tuple[int, ...]:
    """`keyframe:` -> one frame number per reference (frame numbers, timecodes or seconds)."""
    values = value if isinstance(value, list) else [value]
    if len(values) != count:
        raise ValueError(
            f"'keyframe' gives {len(values)} frames for {count} references; give one per "
            "reference, in the same order"
        )
    frames = []
    for item in values:
        start = parse_start(item, rate, start_timecode)
        frames.append(start.frame if start.frame is not None else round(start.frame_at(rate)))
    return tuple(frames)


def parse_weights(value: object, count: int) -> tuple[float, ...]:
    """`weight:` -> one positive weight per reference, summing to 1: how much each one's
    palette counts in the entry's embedding (the first and heaviest also leads the matching)."""
    values = value if isinstance(value, list) else [value]
    if len(values) != count:
        raise ValueError(
            f"gives {len(values)} weights for {count} references; give one per reference, in "
            "the same order"
        )
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf for v in values
    ):
        raise ValueError(f"{value!r}: weights must be positive numbers, e.g. [3, 1]")
    total = float(sum(values))
    return tuple(float(v) / total for v in values)


def _references(
    value: object, folder: Path, where: str, missing_ok: bool = False
) -> tuple[Path, ...]:
    names = value if isinstance(value, list) else [value]
    if not names or not all(isinstance(name, str) and name for name in names):
        raise InputError(f"{where}: 'ref' must be an image path or a list of image paths")
    paths = tuple((folder / name).resolve() for name in names)
    for name, path in zip(names, paths, strict=True):
        if not path.is_file() and not missing_ok:
            raise InputError(f"{where}: reference {name!r} not found (looked for {path})")
    return paths


def scalar_texts(node: yaml.Node) -> object:
    """A scalar's text, or a list of them: YAML 1.1 would read 00:00:04:12 as a number."""
    if isinstance(node, yaml.SequenceNode):
        return [scalar_texts(item) for item in node.value]
    if isinstance(node, yaml.ScalarNode):
        return int(node.value) if node.value.isascii() and node.value.isdigit() else node.value
    raise ValueError("expected a frame number, a timecode or seconds, or a list of them")


def _plain(node: yaml.Node, where: str) -> object:
    """A node's value as safe YAML reads it (an empty value is None); a tag it cannot read,
    `!!python/object` say, is an error of the file, not of remaster."""
    try:
        return SafeConstructor().construct_document(node)
    except yaml.YAMLError as error:
        raise InputError(
            f"{where}: {getattr(error, 'problem', error)}; write plain paths and numbers"
        ) from None


def mapping_fields(node: yaml.MappingNode, path: Path) -> dict[str, yaml.Node]:
    """A mapping's keys and values; a key that is not plain text, or appears twice, is an
    error (YAML would keep the last of two silently)."""
    fields: dict[str, yaml.Node] = {}
    for key, value in node.value:
        line = f"{path}, line {key.start_mark.line + 1}"
        if not isinstance(key, yaml.ScalarNode):
            raise InputError(f"{line}: a key must be a plain word, such as 'start'")
        if key.value in fields:
            raise InputError(f"{line}: {key.value!r} is given twice; keep one")
        fields[key.value] = value
    return fields


def compose_yaml(path: Path, kind: str, empty: str) -> yaml.Node:
    """A YAML file's node tree, which keeps every line number; a missing, unreadable, invalid
    or empty file is one InputError naming the place (`kind`: "refs file", "jobs file";
    `empty`: what to write in an empty one)."""
    if not path.is_file():
        raise InputError(f"{path}: no such {kind}")
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
    except UnicodeDecodeError:
        raise InputError(f"{path}: is not UTF-8 text; save the {kind} as UTF-8") from None
    except yaml.reader.ReaderError as error:
        # A control character: the reader gives its position in the text, not a mark.
        before = text[: error.position]
        code = error.character if isinstance(error.character, int) else ord(error.character)
        at = f"line {before.count(chr(10)) + 1}, column {len(before.rsplit(chr(10), 1)[-1]) + 1}"
        raise InputError(
            f"{path}, {at}: character {code:#06x} is not allowed in YAML; remove it"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InputError(
            f"{path}{at}: not valid YAML ({getattr(error, 'problem', None) or error}); fix it there"
        ) from None
    if root is None:
        raise InputError(f"{path}: is empty; {empty}")
    return root


def load_refs(
    path: Path, rate: Fraction, start_timecode: str | None = None, missing_ok: bool = False
) -> RefsPlan:
    """Parse and check a refs YAML file for a film running at `rate` frames per second whose
    first frame is at `start_timecode` (None: 00:00:00:00). `missing_ok`: a reference file
    that is not there is left for the caller to report (the review room shows it on its shot,
    where a colorist can drop the picture that belongs there)."""
    root = compose_yaml(
        path,
        "refs file",
        "write 'shots:' with an entry (start: and ref:) per shot, or let `remaster shots` write it",
    )
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}: expected 'shots:' (and optionally 'default:') at the top level")
    fields = mapping_fields(root, path)
    unknown = set(fields) - {"shots", "default"}
    if unknown:
        raise InputError(
            f"{path}: unknown top-level keys {sorted(unknown)}; use 'shots' and 'default'"
        )
    folder = path.parent
    default = None
    if "default" in fields:
        node = fields["default"]
        where = f"{path}, line {node.start_mark.line + 1}"
        default = _references(_plain(node, where), folder, where, missing_ok)
    shots_node = fields.get("shots")
    if not isinstance(shots_node, yaml.SequenceNode) or not shots_node.value:
        raise InputError(f"{path}: 'shots:' must be a non-empty list of entries with start and ref")
    entries = []
    for node in shots_node.value:
        line = node.start_mark.line + 1
        where = f"{path}, line {line}"
        item = mapping_fields(node, path) if isinstance(node, yaml.MappingNode) else {}
        unknown = sorted(set(item) - {"start", "ref", "keyframe", "weight", "approved"})
        if unknown:
            raise InputError(
                f"{where}: unknown key {unknown[0]!r}; an entry has 'start:', 'ref:', and "
                "optionally 'keyframe:', 'weight:' and 'approved:'"
            )
        if not {"start", "ref"} <= set(item) or not isinstance(item["start"], yaml.ScalarNode):
            raise InputError(
                f"{where}: each entry needs 'start:' and 'ref:', and may have 'keyframe:' and "
                "'weight:'"
            )
        try:
            start = parse_start(scalar_texts(item["start"]), rate, start_timecode)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from None
        references = _references(_plain(item["ref"], where), folder, where, missing_ok)
        keyframes: tuple[int, ...] = ()
        if "keyframe" in item:
            try:
                keyframes = parse_keyframes(
                    scalar_texts(item["keyframe"]), len(references), rate, start_timecode
                )
            except ValueError as error:
                raise InputError(f"{where}: keyframe: {error}") from None
        weights: tuple[float, ...] = ()
        if "weight" in item:
            try:
                weights = parse_weights(_plain(item["weight"], where), len(references))
            except ValueError as error:
                raise InputError(f"{where}: weight: {error}") from None
        approved = _plain(item["approved"], where) if "approved" in item else False
        if not isinstance(approved, bool):
            raise InputError(f"{where}: approved: write true or false, not {approved!r}")
        entries.append(
            ShotEntry(start, references, line, keyframes, weights=weights, approved=approved)
        )
    plan = RefsPlan(tuple(entries), default, path)
    plan.check_order(rate)
    return plan
