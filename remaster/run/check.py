"""`remaster check`: everything about a job that can be known without the model.

    remaster check film.mp4 --refs shots.yaml [--cuts scenes.csv] [--fps 24]

The film opens, has frames (counted from its packets where its header does not say how many)
and frames large enough to follow; the refs file parses; every reference is readable, in
colour, opaque and not tiny; every entry and keyframe lies inside the film, in order. It prints
the shot table and any warnings; the first error stops it with one line naming the file and
line, as a run would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from remaster.errors import InputError
from remaster.media.forms import Source, open_source
from remaster.media.images import read_reference, reference_warnings
from remaster.media.video import count_frames
from remaster.refs.cut_lists import read_cuts
from remaster.refs.refs_file import (
    RefsPlan,
    ShotEntry,
    Start,
    first_frame,
    format_timecode,
    load_refs,
)

# The optical flow's smallest picture: OpenCV's DIS refuses one under 12 pixels a side (a 10x10
# film failed in the flow with a traceback; 12x12 ran with both flows, flow.py).
SMALLEST_FRAME = 12


@dataclass(frozen=True)
class ShotRow:
    number: int
    entry: ShotEntry
    first: int
    last: int  # inclusive

    @property
    def frames(self) -> int:
        return self.last - self.first + 1


@dataclass
class JobCheck:
    source: Source
    frames: int
    plan: RefsPlan
    cuts: list[int]
    rows: list[ShotRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def rate(self) -> Fraction:
        return self.source.info.rate

    def table(self) -> list[str]:
        """The shot table: one line per entry (per shot, where a cut list splits entries)."""
        lines = [
            f"{'shot':>4}  {'first':>7}  {'last':>7}  {'frames':>6}  {'timecode':<11}  "
            f"{'keyframe':<9}  {'approved':<8}  references"
        ]
        for row in self.rows:
            keyframes = ",".join(str(k) for k in row.entry.keyframes if k is not None) or "-"
            names = ", ".join(_short(path, self.plan.source) for path in row.entry.references)
            lines.append(
                f"{row.number:>4}  {row.first:>7}  {row.last:>7}  {row.frames:>6}  "
                f"{self.timecode(row.first):<11}  {keyframes:<9}  "
                f"{'yes' if row.entry.approved else '-':<8}  {names}"
            )
        return lines

    def timecode(self, frame: int) -> str:
        return format_timecode(frame, self.rate)

    def approved(self) -> int:
        return sum(row.entry.approved for row in self.rows)

    def headline(self) -> str:
        info = self.source.info
        start = f", starts at {info.start_timecode}" if info.start_timecode else ""
        return (
            f"{self.source.path}: {self.frames} frames at {float(self.rate):.3f} frames/s, "
            f"{info.width}x{info.height}{start}; {len(self.rows)} shots"
            + (f", {self.approved()} approved" if self.approved() else "")
            + (f" ({len(self.cuts)} cuts from the cut list)" if self.cuts else "")
        )


def _short(path: Path, refs: Path | None) -> str:
    if refs is not None:
        try:
            return path.relative_to(refs.resolve().parent).as_posix()
        except ValueError:
            pass
    return str(path)


def check_job(
    source_path: Path,
    refs: Path | None,
    ref: Path | None,
    cuts_path: Path | None = None,
    fps: Fraction | None = None,
    lenient: bool = False,
    examine: Callable[[Path], list[str]] | None = None,
) -> JobCheck:
    """Open and check everything a run needs; raise InputError at the first problem."""
    if (refs is None) == (ref is None):
        raise InputError("give either --refs FILE.yaml or --ref IMAGE (one of them)")
    source = open_source(source_path, fps)
    width, height = source.info.width, source.info.height
    if min(width, height) < SMALLEST_FRAME:
        raise InputError(
            f"{source_path}: {width}x{height} is too small to follow from frame to frame; "
            f"scale it to at least {SMALLEST_FRAME} pixels a side first"
        )
    frames = source.info.frame_count or count_frames(source_path)
    if frames <= 0:
        raise InputError(f"{source_path}: has no video frames")
    return check_refs(source, frames, refs, ref, cuts_path, lenient, examine)


def examine_reference(path: Path) -> list[str]:
    """A reference's warnings; InputError where it cannot be used at all."""
    return reference_warnings(path, read_reference(path))


def check_refs(
    source: Source,
    frames: int,
    refs: Path | None,
    ref: Path | None,
    cuts_path: Path | None = None,
    lenient: bool = False,
    examine: Callable[[Path], list[str]] | None = None,
) -> JobCheck:
    """The refs file (or one reference) and cut list against an opened film of `frames`
    frames. `lenient`: a reference that is missing or unusable is a warning (starting with its
    path) instead, for the review room, which shows it on its shot. `examine`: how a reference
    is judged (the review room remembers each file's verdict until the file changes)."""
    info = source.info
    examine = examine or examine_reference
    if refs:
        plan = load_refs(refs, info.rate, info.start_timecode, missing_ok=lenient)
    else:
        plan = RefsPlan.single(ref)
    cuts = read_cuts(cuts_path, info.rate, frames) if cuts_path else []
    plan = plan.split_at(cuts, info.rate)
    rows = shot_rows(plan, frames, info.rate)
    warnings: list[str] = []
    # A reference that cannot be used is reported at the first entry naming it: the line to fix.
    lines: dict[Path, int] = {}
    for entry in plan.entries:
        for path in entry.references:
            lines.setdefault(path, entry.line)
    for references, _ in plan.palettes():
        for path in references:
            try:
                warnings += examine(path)
            except InputError as error:
                if lenient:
                    warnings.append(str(error))
                    continue
                if plan.source is None:
                    raise
                where = f"line {lines[path]}" if lines.get(path) else "'default:'"
                raise InputError(f"{plan.source}, {where}: {error}") from None
    return JobCheck(source, frames, plan, cuts, rows, warnings)


def shot_rows(plan: RefsPlan, frames: int, rate: Fraction) -> list[ShotRow]:
    """Each entry's frames; an entry or keyframe past the film's end is an error."""
    entries = list(plan.entries)
    if plan.default is not None and first_frame(entries[0].start, rate) > 0:
        entries.insert(0, ShotEntry(Start(frame=0), plan.default, 0))  # the default's frames
    firsts = [first_frame(entry.start, rate) for entry in entries]
    rows = []
    for number, (entry, first) in enumerate(zip(entries, firsts, strict=True), 1):
        where = f"{plan.source}, line {entry.line}" if plan.source else "--ref"
        if first >= frames:
            raise InputError(
                f"{where}: this entry starts at frame {first}, past the film's last frame "
                f"{frames - 1} ({format_timecode(frames - 1, rate)}); remove it or fix its start"
            )
        for keyframe in entry.keyframes:
            if keyframe is not None and keyframe >= frames:
                raise InputError(
                    f"{where}: keyframe {keyframe} is past the film's last frame {frames - 1}"
                )
        last = (firsts[number] if number < len(firsts) else frames) - 1
        rows.append(ShotRow(number, entry, first, last))
    return rows
