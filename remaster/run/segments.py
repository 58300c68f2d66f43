"""One process's share of a film, from decode to journaled segment files.

    source frames (decode thread) -> assign_entries -> unfinished -> batch_by_entry
    -> ColorStage (colour thread) -> sink.pictures -> one file per segment, journaled

A segment is `segment_frames` frames; the journal lists each finished one, so `--resume`
redoes only the rest, and under torchrun each rank colours its own whole segments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from tqdm import tqdm

from remaster.color.batches import WARM_UP, Assigned, assign_entries, batch_by_entry
from remaster.color.stage import ColorStage
from remaster.errors import InputError, OutputError
from remaster.media.damage import DecodePolicy, DecodeReport
from remaster.media.forms import SequenceSink, Source, VideoSink
from remaster.media.frames import Picture
from remaster.media.planes import luma_coefficients
from remaster.refs.refs_file import RefsPlan
from remaster.run.journal import Journal
from remaster.run.ranks import Ranks
from remaster.run.stages import prefetch


@dataclass(frozen=True)
class FrameShare:
    """The frames one process colours: `first` to `end - 1`, whole segments, read from
    `read_from` on (the warm-up frames before its first segment); the whole film in one
    process."""

    first: int
    end: int
    read_from: int
    whole: bool


def rank_frames(frames: int, segment_frames: int, ranks: Ranks) -> FrameShare:
    if not ranks.spread:
        return FrameShare(0, frames, 0, True)
    segments = ranks.segments(-(-frames // segment_frames))
    first = segments.start * segment_frames
    end = min(segments.stop * segment_frames, frames)
    return FrameShare(first, end, max(0, first - WARM_UP), False)


@dataclass
class Share:
    """What one process needs to colour its share of a film into segment files."""

    source: Source
    plan: RefsPlan
    journal: Journal
    sink: VideoSink | SequenceSink
    frames: FrameShare
    segment_frames: int
    batch_size: int
    policy: DecodePolicy  # what damaged frames become (the whole film in one process only)
    # Told (frames done, frames in all) as the bar moves: the review page's progress bar.
    listener: Callable[[int, int | None], None] | None = None

    def pictures(self, report: DecodeReport) -> Iterator[Picture]:
        if self.frames.whole:
            return self.source.frames(self.policy, report)
        return self.source.frames_between(self.frames.read_from, self.frames.end)

    def encode(self, stage: ColorStage, report: DecodeReport, quiet: bool) -> int:
        """Decode, colour and encode every frame of the share not in a finished segment, each
        stage in its own thread. Returns the number of frames decoded (the film's, in one
        process)."""
        share, info = self.frames, self.source.info
        if not share.whole and share.first >= share.end:
            return 0  # more ranks than segments: nothing left for this one
        done = set(self.journal.segments)
        total = share.end - share.first if not share.whole else info.frame_count
        progress = Progress(total=total, unit="frame", disable=quiet, dynamic_ncols=True)
        progress.listener = self.listener
        pictures = prefetch(self.pictures(report))
        items = assign_entries(pictures, self.plan, info.rate)
        items = unfinished(items, share.first, done, self.segment_frames, progress)
        batches = batch_by_entry(items, self.batch_size, self.segment_frames)
        predictions = prefetch(stage(batches), depth=2, name="remaster-colour")
        coefficients = luma_coefficients(info.colorspace, info.height)
        try:
            written = self.write(self.sink.pictures(predictions, coefficients), progress)
        finally:
            progress.close()
            # Where writing failed, its traceback holds both threads' generators suspended and
            # their threads run on, into the interpreter's exit: an encoder's error ended the
            # process in an abort there, not in its message. Stop them now, the colour thread
            # first (it reads the decoded frames). After a whole film: nothing left to stop.
            predictions.close()
            pictures.close()
        ours = range(share.first // self.segment_frames, -(-share.end // self.segment_frames))
        decoded = written + sum(self.journal.segments[n]["frames"] for n in done if n in ours)
        if decoded == 0:
            raise InputError(f"{self.source.path}: no video frame could be decoded")
        self.check(decoded)
        return decoded

    def write(self, pictures: Iterable, progress: tqdm) -> int:
        """Each picture into its segment's file; a segment is journaled as soon as its last
        frame is written (not when the next segment's first arrives, which a damaged frame
        further on may stop: batches are handed on whole), and a half-written one is removed
        on any failure. Returns the pictures written."""
        per_segment, journal = self.segment_frames, self.journal
        writer, number, path, written = None, None, None, 0

        def finish() -> None:
            """Close the segment open now, if any, and journal it."""
            nonlocal writer
            if writer is not None:
                writer.close()
                journal.record(number, path, writer.frames, writer.offset, writer.time_base)
                writer = None

        try:
            for picture in pictures:
                if picture.index // per_segment != number:
                    finish()  # open still only if the segment's last frame never came
                    number = picture.index // per_segment
                    path = journal.segment_path(number, self.sink.suffix)
                    writer = self.sink.writer(path)
                writer.write(picture)
                written += 1
                progress.update()
                if (picture.index + 1) % per_segment == 0:
                    finish()
            finish()
        finally:
            if writer is not None:
                writer.abort()
        return written

    def check(self, decoded: int) -> None:
        """Every segment of the share is journaled (a frame lost between decoding and writing
        would otherwise pass unnoticed)."""
        per_segment, share = self.segment_frames, self.frames
        end = share.first + decoded if share.whole else share.end
        expected = set(range(share.first // per_segment, -(-end // per_segment)))
        missing = expected - set(self.journal.segments)
        if missing:
            raise OutputError(
                f"{self.sink.output}: segments {sorted(missing)} are missing after decoding; "
                "run again with --resume"
            )


class Progress(tqdm):
    """tqdm's bar, also telling a listener (a disabled bar counts nothing: hence `done`)."""

    listener: Callable[[int, int | None], None] | None = None
    done = 0

    def update(self, n: int = 1) -> bool | None:
        self.done += n
        if self.listener is not None:
            self.listener(self.done, self.total)
        return super().update(n)


def unfinished(
    items: Iterable[Assigned], first: int, done: set[int], segment_frames: int, progress: tqdm
) -> Iterator[Assigned]:
    """Each frame marked wanted, or not: a frame before the share or in a finished segment is
    not coloured here, but passes on for the warm-up of the segment after it."""
    for item in items:
        index = item.picture.index
        if index < first or index // segment_frames in done:
            item = replace(item, wanted=False)
            if index >= first:
                progress.update()
        yield item
