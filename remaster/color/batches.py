"""Frames assigned to their refs entries and cut into the batches the colour stage takes.

    assign_entries -> batch_by_entry -> ColorStage (stage.py)

No batch ever mixes two refs entries or two segments: one folded embedding and one track
serve a whole batch, and a segment's colour depends only on its own frames and its warm-up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

from remaster.media.frames import Picture
from remaster.refs.refs_file import RefsPlan, ShotEntry


@dataclass
class Assigned:
    picture: Picture
    entry: ShotEntry  # the refs entry that colours this frame
    wanted: bool = True  # coloured in this run; False: only the warm-up of a later segment

    @property
    def references(self) -> tuple:
        return self.entry.references


def assign_entries(pictures: Iterable[Picture], plan: RefsPlan, rate: Fraction) -> Iterator:
    for picture in pictures:
        yield Assigned(picture, plan.entry_for(picture.index, picture.seconds, rate))


@dataclass
class Batch:
    """Consecutive frames of one refs entry in one segment. A batch that starts a segment
    carries the frames just before it in the same entry (at most `WARM_UP`, coloured in this
    run or not), to rebuild the entry's track from (stage.py)."""

    items: list[Assigned]
    starts_segment: bool = False
    warm_up: list[Picture] = field(default_factory=list)

    @property
    def entry(self) -> ShotEntry:
        return self.items[0].entry

    @property
    def pictures(self) -> list[Picture]:
        return [item.picture for item in self.items]


WARM_UP = 8  # frames before a segment that rebuild its entry's track


def batch_by_entry(
    items: Iterable[Assigned], batch_size: int, segment_frames: int
) -> Iterator[Batch]:
    """The wanted frames in batches of at most `batch_size`, cut wherever the refs entry
    changes (one folded embedding and one track serve a whole batch), at every segment start
    (a batch's frame-to-frame state is then complete when its segment is) and at any gap."""
    batch: list[Assigned] = []
    recent: deque[Assigned] = deque(maxlen=WARM_UP)  # the frames before the batch
    for item in items:
        index = item.picture.index
        if batch and (
            len(batch) == batch_size
            or item.entry != batch[0].entry
            or index % segment_frames == 0
            or index != batch[-1].picture.index + 1
            or not item.wanted
        ):
            yield batched(batch, recent, segment_frames)
            batch = []
        if item.wanted:
            batch.append(item)
        else:
            recent.append(item)
    if batch:
        yield batched(batch, recent, segment_frames)


def batched(items: list[Assigned], recent: deque[Assigned], segment_frames: int) -> Batch:
    """A batch, with its warm-up where it starts a segment; `recent` then moves past it."""
    first = items[0].picture.index
    if first % segment_frames != 0:
        recent.extend(items)
        return Batch(items)
    warm_up: list[Picture] = []
    for item in reversed(recent):  # newest first, back to a gap or another entry
        if item.picture.index != first - 1 - len(warm_up) or item.entry != items[0].entry:
            break
        warm_up.insert(0, item.picture)
    recent.extend(items)
    return Batch(items, True, warm_up)
