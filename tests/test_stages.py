"""The small generator stages: batches never mix entries or segments, the prefetch thread."""

from fractions import Fraction
from pathlib import Path

import numpy as np

from remaster.frames import Picture
from remaster.shots import RefsPlan, ShotEntry, Start
from remaster.stages import assign_entries, batch_by_entry


def pictures(indices):
    plane = np.zeros((4, 4), np.uint8)
    half = np.zeros((2, 2), np.uint8)
    return [Picture(i, i, Fraction(1, 10), plane, half, half) for i in indices]


def test_batches_break_at_entries_segments_and_gaps():
    entries = (
        ShotEntry(Start(frame=0), (Path("a.png"),), 2),
        ShotEntry(Start(frame=7), (Path("b.png"),), 4, (8,)),
    )
    plan = RefsPlan(entries, None, None)
    # Frames 0-12 but 4 and 5 (a finished segment skipped on resume), segments of 5 frames.
    items = assign_entries(pictures([0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12]), plan, Fraction(10))
    batches = [[item.picture.index for item in batch] for batch in batch_by_entry(items, 3, 5)]
    assert batches == [[0, 1, 2], [3], [6], [7, 8, 9], [10, 11, 12]]
    assert [b[0].entry.line for b in batch_by_entry(
        assign_entries(pictures(range(9)), plan, Fraction(10)), 4, 100
    )] == [2, 2, 4]  # fmt: skip
