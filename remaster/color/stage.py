"""The colour stage of a film: the one owner of its colour state. Batches in, predictions out.

    for each batch (frames of one refs entry, in order, within one segment):
        luma planes -> lightness (on the device)
        the entry's track: kept, or fresh (a new entry, a segment start) and warmed up
        predictor.predict(lightness, guide, track) -> ab, what coloured each frame, the track
        -> Prediction (pictures, lightness, ab)

State, and only here: the track of the current entry, the frames coloured by each method, and
where each reference not placed by the refs file was found.

Every segment start inside an entry starts a fresh track, first warmed up on the WARM_UP frames
before the segment (of the same entry; batches.py hands them over with the batch):
their colour is predicted, and thrown away, only to build the chain of flows and the stabilised
colour the segment's first frame follows. So a segment's frames depend only on the segment and
its warm-up frames:

- a resumed run, which starts at its first unfinished segment, makes the frames an
  uninterrupted run made;
- ranks that each colour their own range of segments (remaster/run/ranks.py) make the frames
  one process makes, each decoding only its range and the warm-up before it.

What it costs: WARM_UP extra predictions per segment (0.8% at the default 1000 frames), and in
a shot longer than a segment, a keyframe chain that the direct flow can no longer start at the
warm-up's first frame is lost from that segment on (the frames then take the exemplar path's
colour, as frames the flow cannot follow do). Stabilisation forgets the previous output by
half a step per frame, so after 8 frames what came before weighs 0.4%.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from remaster.color.batches import Batch
from remaster.color.predictor import ColorPredictor, Guide
from remaster.color.propagation import FOUND, STEADY, ShotTrack
from remaster.media.frames import Picture, Prediction
from remaster.media.planes import lightness_from_luma
from remaster.refs.refs_file import ShotEntry


class ColorStage:
    """Colours a film's batches in film order (see the module's docstring)."""

    def __init__(
        self,
        predictor: ColorPredictor,
        guides: dict[tuple, Guide],
        full_range: bool,
        bits: int = 8,
        steady: float = STEADY,
        only_approved: bool = False,
    ) -> None:
        self.predictor = predictor
        self.guides = guides  # by palette (references, weights): computed once per run
        self.full_range, self.bits = full_range, bits  # the luma planes' range and depth
        self.steady = steady  # stabilisation strength (0: off)
        self.only_approved = only_approved  # shots not approved stay grey
        self.entry: ShotEntry | None = None
        self.track: ShotTrack | None = None
        self.counts: Counter = Counter()  # frames coloured, by the source of most of their pixels
        self.found: dict[ShotEntry, tuple[float, int]] = {}  # best direct match, per entry

    def __call__(self, batches: Iterable[Batch]) -> Iterator[Prediction]:
        for batch in batches:
            yield self.color(batch)

    def color(self, batch: Batch) -> Prediction:
        pictures = batch.pictures
        lightness = self.lightness(pictures)
        if self.only_approved and not batch.entry.approved:
            # A shot still in review: its own grey (zero ab keeps the luma), and no track.
            self.retire()
            self.entry, self.track = None, None
            self.counts["grey"] += len(pictures)
            ab = lightness.new_zeros((len(pictures), 2, *lightness.shape[-2:]))
            return Prediction(pictures, lightness, ab)
        guide = self.guides[batch.entry.palette]
        if batch.entry != self.entry or self.track is None or batch.starts_segment:
            self.start(batch.entry, batch.warm_up)
        indices = [picture.index for picture in pictures]
        coloring = self.predictor.predict(lightness, guide, self.track, indices)
        self.track = coloring.track
        self.counts.update(coloring.sources)
        return Prediction(pictures, lightness, coloring.ab)

    def start(self, entry: ShotEntry, warm_up: list[Picture]) -> None:
        """A fresh track for `entry`, run over the warm-up frames (their colour thrown away)."""
        self.retire()
        guide = self.guides[entry.palette]
        self.entry = entry
        self.track = self.predictor.track(guide, entry.keyframes, self.steady)
        if warm_up:
            indices = [picture.index for picture in warm_up]
            lightness = self.lightness(warm_up)
            self.track = self.predictor.predict(lightness, guide, self.track, indices).track

    def lightness(self, pictures: list[Picture]) -> torch.Tensor:
        """Luma planes -> (B, 1, H, W) CIE L on the colorizer's device."""
        device = self.predictor.colorizer.device
        pin = device.type == "cuda"
        luma = np.stack([picture.y for picture in pictures])
        if self.bits > 8:  # torch's uint16 is a storage type with few operations, on GPUs fewer
            luma = luma.astype(np.int32)
        luma = torch.from_numpy(luma)
        if pin:
            luma = luma.pin_memory()
        return lightness_from_luma(luma.to(device, non_blocking=pin), self.full_range, self.bits)

    def retire(self) -> None:
        """Remember where the entry's first reference matched best, when the refs file did
        not say which frame it shows (over all the entry's tracks)."""
        if self.track is not None and self.entry is not None and self.track.keyframes:
            best = max(self.found.get(self.entry, (0.0, -1)), self.track.found[0])
            self.found[self.entry] = best

    def summary(self) -> str:
        return summary(self.counts)

    def notes(self, source: Path | None) -> list[str]:
        """Which frame each unplaced reference turned out to show (a near-perfect match), and
        what the optical flow has to say (flow.py)."""
        self.retire()
        self.track = None
        notes = list(self.predictor.flows.notes)
        for entry, (share, index) in self.found.items():
            if entry.keyframe_of(0) is None and share >= FOUND:
                where = f"{source}, line {entry.line}" if source and entry.line else "reference"
                notes.append(
                    f"{where}: {entry.references[0].name} matches frame {index} "
                    f"({share:.0%} of it); its colour was carried from there"
                )
        return notes


def summary(counts: Counter) -> str:
    """Frames coloured by each method, e.g. "120 propagate, 96 exemplar"."""
    return ", ".join(f"{count} {name}" for name, count in sorted(counts.items()) if count > 0)
