"""The pipeline's stages: batches never mix entries or segments, a segment's first batch carries
its warm-up, and `prefetch` hands on, re-raises and stops its thread."""

import itertools
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from remaster.color.batches import WARM_UP, assign_entries, batch_by_entry
from remaster.media.frames import Picture
from remaster.refs.refs_file import RefsPlan, ShotEntry, Start
from remaster.run.stages import prefetch


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
    batches = [[p.index for p in batch.pictures] for batch in batch_by_entry(items, 3, 5)]
    assert batches == [[0, 1, 2], [3], [6], [7, 8, 9], [10, 11, 12]]
    assert [b.entry.line for b in batch_by_entry(
        assign_entries(pictures(range(9)), plan, Fraction(10)), 4, 100
    )] == [2, 2, 4]  # fmt: skip


def test_a_segment_start_carries_the_frames_before_it_of_its_own_entry():
    """Frames before a segment, coloured in this run or not (a finished segment on resume), are
    its warm-up, back to the last WARM_UP of them and never into another entry."""
    entries = (
        ShotEntry(Start(frame=0), (Path("a.png"),), 2),
        ShotEntry(Start(frame=18), (Path("b.png"),), 4),
    )
    plan = RefsPlan(entries, None, None)
    items = list(assign_entries(pictures(range(30)), plan, Fraction(10)))
    for item in items[:10]:  # segment 0 finished earlier
        item.wanted = False
    batches = list(batch_by_entry(iter(items), 4, 10))
    assert [p.index for p in batches[0].pictures] == [10, 11, 12, 13]
    assert batches[0].starts_segment
    assert [p.index for p in batches[0].warm_up] == list(range(10 - WARM_UP, 10))
    later = [b for b in batches if b.pictures[0].index == 20][0]
    assert later.starts_segment and [p.index for p in later.warm_up] == [18, 19]
    assert not any(b.warm_up for b in batches if not b.starts_segment)
    assert all(p.index >= 10 for b in batches for p in b.pictures)


def threads_named(name: str) -> list:
    return [thread for thread in threading.enumerate() if thread.name == name]


def test_prefetch_hands_on_the_items_in_order_and_re_raises_the_producers_error():
    def items():
        yield from range(20)
        raise ValueError("frame 20 is damaged")

    received = []
    with pytest.raises(ValueError, match="frame 20"):
        for item in prefetch(items(), depth=2, name="remaster-test-error"):
            received.append(item)
    assert received == list(range(20))
    assert not threads_named("remaster-test-error")


def test_a_prefetch_closed_early_stops_its_producer_waiting_on_a_full_queue():
    made = []

    def items():
        for index in itertools.count():
            made.append(index)
            yield index

    ahead = prefetch(items(), depth=3, name="remaster-test-close")
    assert next(ahead) == 0
    while len(made) < 5:  # the producer fills the queue (3 items) and waits with the next one
        time.sleep(0.01)
    assert threads_named("remaster-test-close")
    ahead.close()
    assert not threads_named("remaster-test-close")
    assert len(made) == 5  # nothing was made after it stopped
