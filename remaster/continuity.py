"""Frame-to-frame state across a film's batches, rebuilt at every segment from its warm-up.

One `ShotTrack` (remaster/propagation.py) follows each refs entry; it starts fresh at every
entry. At every segment start inside an entry it starts fresh too, and is first warmed up on
the WARM_UP frames before the segment (of the same entry): their colour is predicted, and
thrown away, only to build the chain of flows and the stabilised colour the segment's first
frame follows. So a segment's frames depend only on the segment and its warm-up frames:

- a resumed run, which starts at its first unfinished segment, makes the frames an
  uninterrupted run made;
- ranks that each colour their own range of segments (remaster/ranks.py) make the frames one
  process makes, each decoding only its range and the warm-up before it.

What it costs: WARM_UP extra predictions per segment (0.8% at the default 1000 frames), and in
a shot longer than a segment, a keyframe chain that the direct flow can no longer start at the
warm-up's first frame is lost from that segment on (the frames then take the exemplar path's
colour, as frames the flow cannot follow do). Stabilisation forgets the previous output by
half a step per frame, so after 8 frames what came before weighs 0.4%.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from remaster.methods import ColourPredictor, Guide
from remaster.propagation import FOUND, ShotTrack
from remaster.shots import ShotEntry

WARM_UP = 8  # frames before a segment that rebuild its entry's track


class Continuity:
    def __init__(
        self,
        predictor: ColourPredictor,
        guides: dict[tuple, Guide],
        segment_frames: int,
        lightness_of: Callable[[list[np.ndarray]], torch.Tensor],
    ) -> None:
        self.predictor = predictor
        self.guides = guides
        self.segment_frames = segment_frames
        self.lightness_of = lightness_of  # luma planes -> (B, 1, H, W) L, as for a batch
        self.entry: ShotEntry | None = None
        self.track: ShotTrack | None = None
        # The latest frames seen, coloured or skipped: index -> (entry, luma plane).
        self.recent: dict[int, tuple[ShotEntry, np.ndarray]] = {}
        self.found: dict[ShotEntry, tuple[float, int]] = {}

    def remember(self, index: int, entry: ShotEntry, luma: np.ndarray) -> None:
        """A decoded frame, coloured or not (a finished segment's), for the next warm-up."""
        self.recent[index] = (entry, luma)
        for old in [k for k in self.recent if k < index - 4 * WARM_UP]:
            del self.recent[old]

    def colour(self, lightness, batch):
        """ab for one batch (frames of one entry, in order, within one segment)."""
        indices = [item.picture.index for item in batch]
        for item in batch:
            self.remember(item.picture.index, item.entry, item.picture.y)
        entry = batch[0].entry
        track = self.track_for(entry, indices[0])
        return self.predictor.predict(lightness, self.guides[entry.palette], track, indices)

    def track_for(self, entry: ShotEntry, first: int) -> ShotTrack:
        """The track that colours frames from `first` on, in `entry`."""
        starts_segment = first % self.segment_frames == 0
        if entry != self.entry or self.track is None or starts_segment:
            self.retire()
            self.entry, self.track = entry, self.fresh(entry)
            if starts_segment:
                self.warm_up(entry, first)
        return self.track

    def warm_up(self, entry: ShotEntry, first: int) -> None:
        """Run the fresh track over the frames just before `first` that belong to `entry`."""
        indices = []
        for index in range(first - 1, first - 1 - WARM_UP, -1):
            if index not in self.recent or self.recent[index][0] != entry:
                break
            indices.insert(0, index)
        if not indices:
            return
        lightness = self.lightness_of([self.recent[index][1] for index in indices])
        counts = self.predictor.counts.copy()  # warm-up frames are not the run's frames
        self.predictor.predict(lightness, self.guides[entry.palette], self.track, indices)
        self.predictor.counts = counts

    def fresh(self, entry: ShotEntry) -> ShotTrack:
        return self.predictor.track(self.guides[entry.palette], entry.keyframes)

    def retire(self) -> None:
        """Remember where the entry's first reference matched best, when the refs file did
        not say which frame it shows (over all the entry's tracks)."""
        if self.track is not None and self.entry is not None and self.track.keyframes:
            best = max(self.found.get(self.entry, (0.0, -1)), self.track.found[0])
            self.found[self.entry] = best

    def notes(self, source: Path | None) -> list[str]:
        """Which frame each unplaced reference turned out to show (a near-perfect match)."""
        self.retire()
        self.track = None
        notes = []
        for entry, (share, index) in self.found.items():
            if entry.keyframe_of(0) is None and share >= FOUND:
                where = f"{source}, line {entry.line}" if source and entry.line else "reference"
                notes.append(
                    f"{where}: {entry.references[0].name} matches frame {index} "
                    f"({share:.0%} of it); its colour was carried from there"
                )
        return notes
