"""The forms a film comes in and goes out in: a video file or an image sequence, 8 to 16 bits.

The pipeline sees one kind of input (a VideoInfo and Pictures) and one kind of output (a
writer per segment, then a finish), whatever the forms. Which depth the output is written at
follows from the input's and what the output can hold:

    input              video output                               sequence output
    8-bit video        8-bit (ProRes: 10-bit, as always)          8-bit RGB
    10-bit video       10-bit (H.264: High 10)                    16-bit RGB
    8/16-bit scans     8-bit, or 10-bit from 16-bit scans         RGB of the scan's depth

Where the depth and range carry over, the output's luma is the input's exactly; a scan written
as video is converted to limited-range BT.709 luma at the video's depth.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from model.files import atomic_output
from remaster.errors import InputError, OutputError
from remaster.media.damage import DecodePolicy, DecodeReport
from remaster.media.frames import Picture, Prediction
from remaster.media.planes import (
    COLOR_RANGE_FULL,
    COLORSPACE_BT709,
    chroma_planes,
    grey_from_luma,
    luma_from_grey,
    rgb_frames,
)
from remaster.media.sequence_output import (
    FrameWriter,
    SequenceTarget,
    is_sequence_output,
    place_frames,
    sequence_target,
)
from remaster.media.sequences import (
    Sequence,
    find_sequence,
    is_sequence,
    read_sequence,
    sequence_identity,
    sequence_info,
)
from remaster.media.video import (
    CODECS,
    Segment,
    SegmentWriter,
    VideoInfo,
    audio_seconds,
    codec_for,
    count_frames,
    decode,
    decode_range,
    frame_timestamps,
    mux,
    picture_bits,
    probe,
)

SEGMENT_SUFFIX = {"mp4": ".mp4", "mov": ".mov", "matroska": ".mkv"}
COLOR_RANGE_LIMITED = 1  # AVCOL_RANGE_MPEG


@dataclass(frozen=True)
class Source:
    path: Path
    info: VideoInfo
    sequence: Sequence | None = None

    def frames(
        self, policy: DecodePolicy | None = None, report: DecodeReport | None = None
    ) -> Iterator[Picture]:
        if self.sequence is not None:
            return read_sequence(self.sequence, self.info.rate)
        return decode(self.path, self.info.bits, policy, report)

    def frames_between(self, first: int, end: int) -> Iterator[Picture]:
        """Frames `first` to `end - 1` only, without reading those before (ranks.py)."""
        if self.sequence is not None:
            return read_sequence(self.sequence, self.info.rate, first, end)
        timestamps = frame_timestamps(self.path)
        if timestamps is None:
            raise InputError(
                f"{self.path}: its frames carry no timestamps to find them by; colour it in "
                "one process"
            )
        if end > len(timestamps):
            raise InputError(
                f"{self.path}: its header announces {self.info.frame_count} frames but "
                f"{len(timestamps)} are stored; colour it in one process"
            )
        return decode_range(self.path, self.info.bits, first, end, timestamps)

    @property
    def full_range(self) -> bool:
        return self.info.color_range == COLOR_RANGE_FULL


def open_source(path: Path, rate: Fraction | None) -> Source:
    """A video file, or a sequence (a folder or printf pattern) at `rate` frames per second."""
    if is_sequence(path):
        if rate is None:
            raise InputError(
                f"{path}: an image sequence carries no frame rate; give it with --fps "
                "(e.g. --fps 24 or --fps 24000/1001)"
            )
        sequence = find_sequence(path)
        return Source(path, sequence_info(sequence, rate), sequence)
    if rate is not None:
        raise InputError(
            f"{path}: is a video, which has its own frame rate; --fps is for sequences"
        )
    return Source(path, probe(path))


def input_identity(path: Path, rate: Fraction | None) -> list:
    """What a resumed run checks is the same input. A sequence is its names and count, not
    its files' dates: a damaged frame replaced after a failed run may be resumed past."""
    if is_sequence(path):
        return [*sequence_identity(path), str(rate)]
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def output_codec(output: Path, codec: str | None) -> str | None:
    """The video codec for `output`, or None for an image-sequence output."""
    if is_sequence_output(output):
        if codec is not None:
            raise OutputError(f"{output}: is an image sequence; --codec is for video output")
        return None
    return codec_for(output, codec)


class VideoSink:
    """Segments encoded with a codec, then muxed with the sound into one file."""

    def __init__(
        self,
        output: Path,
        codec: str,
        source: Source,
        crf: int,
        preset: str,
        audio: Path | None,
        shares_cores: bool = False,
    ) -> None:
        self.output, self.codec, self.source, self.audio = output, codec, source, audio
        self.crf, self.preset = crf, preset
        self.shares_cores = shares_cores  # the colour is computed on the encoder's CPU cores
        self.suffix = SEGMENT_SUFFIX[CODECS[codec][2]]
        self.bits = picture_bits(codec, source.info.bits)
        self.info = source.info
        if source.sequence is not None:
            if source.info.width % 2 or source.info.height % 2:
                raise InputError(
                    f"{source.path}: {source.info.width}x{source.info.height} has an odd side; "
                    "video needs even sizes: crop the scans, or write a sequence (-o FOLDER)"
                )
            # Video players expect limited-range luma; scans are full range.
            self.info = dataclasses.replace(
                source.info, colorspace=COLORSPACE_BT709, color_range=COLOR_RANGE_LIMITED
            )
        self.notes: list[str] = []

    def writer(self, path: Path) -> SegmentWriter:
        return SegmentWriter(
            path, self.info, self.codec, self.crf, self.preset, self.bits, self.shares_cores
        )

    def pictures(self, predictions: Iterable[Prediction], coefficients) -> Iterator[Picture]:
        full_range = self.info.color_range == COLOR_RANGE_FULL
        return chroma_planes(predictions, coefficients, full_range, self.bits, self._luma())

    def _luma(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """None where the input's luma planes go out as they are."""
        source, bits = self.source, self.source.info.bits
        full_range = self.info.color_range == COLOR_RANGE_FULL
        if bits == self.bits and source.full_range == full_range:
            return None

        def convert(y: np.ndarray) -> np.ndarray:
            grey = grey_from_luma(torch.from_numpy(y.astype(np.int32)), source.full_range, bits)
            return luma_from_grey(grey, full_range, self.bits)

        return convert

    def finish(self, segments: list[Segment], frames: int) -> list[str]:
        """Mux the finished segments, in order, into a temporary file beside the output, check
        it, then rename it into place."""
        notes = self.notes + self._audio_notes(frames)
        source = None if self.source.sequence is not None else self.source.path
        with atomic_output(self.output) as temporary:
            notes += mux(segments, source, temporary, self.audio, self.info.rotation)
            written = count_frames(temporary)
            if written != frames:
                raise OutputError(
                    f"{self.output}: the encoded film has {written} frames, the input {frames}; "
                    "nothing was written (please report this)"
                )
        return notes

    def _audio_notes(self, frames: int) -> list[str]:
        if self.audio is None:
            return []
        sound, picture = audio_seconds(self.audio), float(frames / self.info.rate)
        if abs(sound - picture) <= float(1 / self.info.rate):
            return []
        return [
            f"{self.audio}: lasts {sound:.2f} s, the picture {picture:.2f} s; it was muxed as it "
            "is, from the first frame"
        ]


class SequenceSink:
    """Frames written as image files, moved under their names when all are done."""

    def __init__(self, output: Path, source: Source) -> None:
        self.output = output
        self.target: SequenceTarget = sequence_target(output, source.path, source.sequence)
        self.source = source
        self.suffix = ".frames"
        # A scan keeps its depth; 10-bit video needs 16-bit files to keep its 10 bits.
        self.bits = 8 if source.info.bits == 8 else 16

    def writer(self, path: Path) -> FrameWriter:
        return FrameWriter(path, self.target)

    def pictures(self, predictions: Iterable[Prediction], coefficients) -> Iterator:
        info = self.source.info
        return rgb_frames(predictions, coefficients, self.source.full_range, info.bits, self.bits)

    def finish(self, segments: list[Segment], frames: int) -> list[str]:
        placed = place_frames(segments, self.target)
        if placed != frames:
            raise OutputError(
                f"{self.output}: {placed} frames were written, the input has {frames} "
                "(please report this)"
            )
        return []


def open_sink(
    output: Path,
    codec: str | None,
    source: Source,
    crf: int = 18,
    preset: str = "medium",
    audio: Path | None = None,
    shares_cores: bool = False,
) -> VideoSink | SequenceSink:
    if codec is None:
        if audio is not None:
            raise OutputError(
                f"{output}: is an image sequence, which holds no sound; --audio "
                "needs a video output (.mov, .mkv, .mp4)"
            )
        return SequenceSink(output, source)
    if audio is not None:
        audio_seconds(audio)  # a missing or silent file fails now, not after the work
    return VideoSink(output, codec, source, crf, preset, audio, shares_cores)
