"""Frame-to-frame state across a film's batches, and across an interruption.

One `ShotTrack` (remaster/propagation.py) follows each refs entry; it starts fresh at every
entry. When a segment's last frame has been coloured, its track's state is kept, and the
journal saves it beside the finished segment. A resumed run starts its first unfinished
segment from that saved state, so its frames are the ones an uninterrupted run makes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from remaster.methods import ColourPredictor, Guide
from remaster.propagation import FOUND, ShotTrack
from remaster.shots import ShotEntry

ENTRY_KEY = "entry_line"  # which refs entry a saved state belongs to
PART_KEY = "entry_part"  # and which of its shots, where a cut list splits it


class Continuity:
    def __init__(
        self,
        predictor: ColourPredictor,
        guides: dict[tuple, Guide],
        segment_frames: int,
        saved_state,  # segment number -> its saved state, or None
    ) -> None:
        self.predictor = predictor
        self.guides = guides
        self.segment_frames = segment_frames
        self.saved_state = saved_state
        self.entry: ShotEntry | None = None
        self.track: ShotTrack | None = None
        self.pending: dict[int, dict[str, np.ndarray]] = {}  # segment -> state at its end
        self.found: dict[ShotEntry, tuple[float, int]] = {}

    def track_for(self, entry: ShotEntry, first: int) -> ShotTrack:
        """The track that colours frames from `first` on, in `entry`."""
        if entry != self.entry or self.track is None:
            self.retire()
            self.entry, self.track = entry, self.fresh(entry)
        if self.track.last != first - 1 and first % self.segment_frames == 0 and first > 0:
            # Frames were skipped (finished segments): pick up where the last one ended.
            self.track = self.fresh(entry)
            state = self.saved_state(first // self.segment_frames - 1)
            if state is not None and self.belongs(state, entry):
                self.track.restore(state)
        return self.track

    @staticmethod
    def belongs(state: dict[str, np.ndarray], entry: ShotEntry) -> bool:
        """A saved state carries on only in its own entry and shot (a state without a part
        comes from a journal written before parts were saved: its entry was whole)."""
        part = int(state[PART_KEY]) if PART_KEY in state else 0
        return int(state[ENTRY_KEY]) == entry.line and part == entry.part

    def fresh(self, entry: ShotEntry) -> ShotTrack:
        return self.predictor.track(self.guides[entry.palette], entry.keyframes)

    def colour(self, lightness, batch):
        """ab for one batch (frames of one entry, in order, within one segment)."""
        indices = [item.picture.index for item in batch]
        entry = batch[0].entry
        track = self.track_for(entry, indices[0])
        ab = self.predictor.predict(lightness, self.guides[entry.palette], track, indices)
        if (indices[-1] + 1) % self.segment_frames == 0:
            state = {name: np.array(value, copy=True) for name, value in track.state().items()}
            state[ENTRY_KEY] = np.array(entry.line)
            state[PART_KEY] = np.array(entry.part)
            self.pending[indices[-1] // self.segment_frames] = state
        return ab

    def state_at_end_of(self, segment: int) -> dict[str, np.ndarray] | None:
        return self.pending.pop(segment, None)

    def retire(self) -> None:
        """Remember where the finished entry's first reference matched best, when the refs
        file did not say which frame it shows."""
        if self.track is not None and self.entry is not None and self.track.keyframes:
            self.found[self.entry] = self.track.found[0]

    def notes(self, source: Path | None) -> list[str]:
        """Which frame each unplaced reference turned out to show (a near-perfect match)."""
        self.retire()
        notes = []
        for entry, (share, index) in self.found.items():
            if entry.keyframe_of(0) is None and share >= FOUND:
                where = f"{source}, line {entry.line}" if source and entry.line else "reference"
                notes.append(
                    f"{where}: {entry.references[0].name} matches frame {index} "
                    f"({share:.0%} of it); its colour was carried from there"
                )
        return notes
