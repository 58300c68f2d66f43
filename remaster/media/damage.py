"""Damaged frames: what a film's frames become where the decoder rejects some.

The decoder hands over pictures and the packets it could not decode (`Damaged`), in decode
order. `mend` puts each damaged frame at its place in presentation order and, as the user
chose, stops there, repeats the frame before it (the film keeps its frame count and timing,
so the sound stays in sync), or skips it (the frames after keep their own timestamps). Past
`max_errors` it stops whatever was chosen: a file that damaged is better repaired.

No module here imports PyAV: media.py turns codec failures into `Damaged` records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from remaster.errors import InputError
from remaster.media.frames import Picture

ON_ERROR = ("stop", "repeat", "skip")


@dataclass(frozen=True)
class DecodePolicy:
    # stop by default: an archive copy should not hold invented frames unless asked for, and
    # the finished segments are kept, so a rerun with repeat and --resume costs only the rest.
    on_error: str = "stop"
    max_errors: int = 10
    deinterlace: bool = False  # FFmpeg's bwdif, one frame out per frame in


@dataclass
class DecodeReport:
    """What decoding met, filled in as the frames go by (read it when they are done)."""

    damaged: list[int] = field(default_factory=list)  # frame numbers the decoder rejected
    skipped: int = 0
    frames: int = 0  # pictures handed on, repeats included
    start: float = 0.0  # seconds at which the first picture handed on starts
    end: float | None = None  # seconds at which the last picture handed on ends


@dataclass(frozen=True)
class Damaged:
    """A packet the decoder rejected: where it belonged and why."""

    pts: int | None
    time_base: Fraction
    reason: str

    def before(self, picture: Picture) -> bool:
        return self.pts is None or self.pts * self.time_base < picture.pts * picture.time_base


def mend(
    events: Iterable[Picture | Damaged],
    path: Path,
    policy: DecodePolicy,
    report: DecodeReport,
    frame_seconds: Fraction,
) -> Iterator[Picture]:
    """Pictures in presentation order, numbered from 0, with the damage handled by `policy`."""
    index, last, pending = 0, None, []

    def handle(damage: Damaged, model: Picture) -> Picture | None:
        report.damaged.append(index)
        where = f"{path}: frame {index} cannot be decoded ({damage.reason})"
        if policy.on_error == "stop":
            raise InputError(
                f"{where}; the file is damaged there: repair or re-export it, or run again with "
                "--on-decode-error repeat (or skip) and --resume to go on past it"
            )
        if len(report.damaged) > policy.max_errors:
            raise InputError(
                f"{where}: {len(report.damaged)} damaged frames, more than "
                f"--max-decode-errors {policy.max_errors}; repair or re-export the file, or "
                "raise the limit"
            )
        if policy.on_error == "skip":
            report.skipped += 1
            return None
        if damage.pts is None:
            pts = model.pts + round(frame_seconds / model.time_base)
        else:
            pts = round(damage.pts * damage.time_base / model.time_base)
        return replace(model, index=index, pts=pts)

    def hand_on(picture: Picture) -> Picture:
        nonlocal index
        index += 1
        report.frames += 1
        if report.end is None:
            report.start = float(picture.pts * picture.time_base)
        report.end = float(picture.pts * picture.time_base + frame_seconds)
        return picture

    for event in events:
        if isinstance(event, Damaged):
            pending.append(event)
            continue
        due = [damage for damage in pending if damage.before(event)]
        pending = [damage for damage in pending if not damage.before(event)]
        for damage in sorted(due, key=lambda d: -1 if d.pts is None else d.pts * d.time_base):
            # A damaged first frame repeats the first good one after it.
            repeated = handle(damage, last or event)
            if repeated is not None:
                last = repeated
                yield hand_on(repeated)
        last = event
        yield hand_on(replace(event, index=index))
    for damage in pending:
        if last is None:
            break
        repeated = handle(damage, last)
        if repeated is not None:
            last = repeated
            yield hand_on(repeated)
