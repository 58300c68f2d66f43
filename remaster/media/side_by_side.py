"""A before/after video beside the film: grey on the left, colour on the right.

It is made from the pictures the film's own segments are encoded from, not from a second
decode: the left half is the coloured picture's luma with neutral chroma, which is exactly the
grey of the film (the luma is never changed), and every frame keeps its pts. Its segments
are encoded next to the film's in the work folder and muxed with the same offsets and the same
source sound, so the two files play in step. The film's own segments are written from the
untouched pictures first, so its bytes are those of a run without a side-by-side video.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from model.files import atomic_output
from remaster.errors import OutputError
from remaster.media.codecs import CODECS
from remaster.media.forms import SEGMENT_SUFFIX, VideoSink
from remaster.media.frames import Picture
from remaster.media.video import Segment, SegmentWriter, VideoInfo, codec_for, count_frames, mux


def side_by_side(picture: Picture, bits: int) -> Picture:
    """`picture` twice as wide: its luma with neutral chroma on the left, itself on the right."""
    neutral = 1 << (bits - 1)  # zero colour difference: 128 at 8 bits, 512 at 10
    grey = np.full_like(picture.u, neutral)
    return dataclasses.replace(
        picture,
        y=np.hstack([picture.y, picture.y]),
        u=np.hstack([grey, picture.u]),
        v=np.hstack([grey, picture.v]),
    )


def side_segment_path(segment: Path, codec: str) -> Path:
    """The side-by-side segment beside a film segment: segment-000003.mkv ->
    segment-000003.side.mp4 (its container is its own codec's)."""
    return segment.with_name(f"{segment.stem}.side{SEGMENT_SUFFIX[CODECS[codec][2]]}")


class PairWriter:
    """A film segment and its side-by-side segment, written from the same pictures; the
    interface of SegmentWriter, whose timing (frames, offset, time_base) is the film's."""

    def __init__(
        self, main: SegmentWriter, side: SegmentWriter, side_path: Path, bits: int
    ) -> None:
        self.main, self.side, self.side_path, self.bits = main, side, side_path, bits

    @property
    def frames(self) -> int:
        return self.main.frames

    @property
    def offset(self) -> int | None:
        return self.main.offset

    @property
    def time_base(self) -> Fraction:
        return self.main.time_base

    def write(self, picture: Picture) -> None:
        self.main.write(picture)
        self.side.write(side_by_side(picture, self.bits))

    def close(self) -> None:
        self.main.close()
        self.side.close()
        # The journal fsyncs the film segment before recording it; the side one must be as
        # safe, since a resumed run takes both as finished.
        with self.side_path.open("rb") as handle:
            os.fsync(handle.fileno())

    def abort(self) -> None:
        try:
            self.main.abort()
        finally:
            self.side.abort()


class SideBySideSink:
    """A VideoSink that also writes the side-by-side video at `path` (H.264, or what its
    extension takes first), at the film's depth, crf and preset."""

    def __init__(self, sink: VideoSink, path: Path) -> None:
        self.sink, self.path = sink, path
        self.codec = codec_for(path, None)
        self.info: VideoInfo = dataclasses.replace(sink.info, width=2 * sink.info.width)

    @property
    def output(self) -> Path:
        return self.sink.output

    @property
    def suffix(self) -> str:
        return self.sink.suffix

    @property
    def bits(self) -> int:
        return self.sink.bits

    def pictures(self, predictions: Iterable, coefficients) -> Iterator[Picture]:
        return self.sink.pictures(predictions, coefficients)

    def writer(self, path: Path) -> PairWriter:
        side_path = side_segment_path(path, self.codec)
        sink = self.sink
        main = sink.writer(path)
        try:
            side = SegmentWriter(
                side_path, self.info, self.codec, sink.crf, sink.preset, sink.bits,
                sink.shares_cores,
            )  # fmt: skip
        except BaseException:
            main.abort()
            raise
        return PairWriter(main, side, side_path, sink.bits)

    def finish(self, segments: list[Segment], frames: int) -> list[str]:
        """The film, then the side-by-side video from the side segments, with the same offsets
        and sound: both before the caller removes the work folder that holds the segments."""
        sides = [
            dataclasses.replace(segment, path=side_segment_path(segment.path, self.codec))
            for segment in segments
        ]
        missing = [segment.path.name for segment in sides if not segment.path.is_file()]
        if missing:  # only by hand: a job without the option is never resumed with it
            raise OutputError(
                f"{self.path}: side-by-side segments {', '.join(missing)} are missing from the "
                "work folder; run again without --resume"
            )
        notes = self.sink.finish(segments, frames)
        source = None if self.sink.source.sequence is not None else self.sink.source.path
        with atomic_output(self.path) as temporary:
            notes += mux(sides, source, temporary, self.sink.audio, self.info.rotation)
            written = count_frames(temporary)
            if written != frames:
                raise OutputError(
                    f"{self.path}: the side-by-side video has {written} frames, the input "
                    f"{frames}; it was not written (please report this)"
                )
        return notes
