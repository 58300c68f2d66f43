"""Image sequences out: `-o` a printf pattern (colour_%06d.png) or a folder.

Frames are written into the run's work folder, one folder per segment with a list of its
frames that the journal fsyncs, so `--resume` works as for video. They are moved under their
real names only when every frame is done: a folder that did not exist appears whole, by one
rename, and an interrupted run never leaves a partial sequence under the output's name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from model.files import write_atomically
from remaster.errors import OutputError
from remaster.media.frames import RgbFrame
from remaster.media.images import write_image
from remaster.media.sequences import PRINTF, Sequence
from remaster.media.video import Segment, encode_dpx

WRITABLE = (".png", ".tif", ".tiff", ".dpx")


def is_sequence_output(output: Path) -> bool:
    """A printf pattern, an existing folder, or a name without an extension (a new folder)."""
    return PRINTF.search(output.name) is not None or output.is_dir() or not output.suffix


@dataclass(frozen=True)
class SequenceTarget:
    folder: Path
    name: str  # printf pattern of the file names
    first: int  # the number of the first frame's file

    def path(self, index: int) -> Path:
        return self.folder / (self.name % (self.first + index))


def sequence_target(output: Path, source: Path, sequence: Sequence | None) -> SequenceTarget:
    """Where the frames go: the pattern given, or in a folder the input sequence's own names
    (SOURCE_%06d.png for a video). Numbering starts at the input sequence's first number, at 0
    for a video (frame numbers then match the refs file's)."""
    first = sequence.first if sequence else 0
    if PRINTF.search(output.name):
        folder, name = output.parent, output.name
        if Path(name).suffix.lower() not in WRITABLE:
            raise OutputError(f"{output}: write .png, .tif or .dpx frames")
    else:
        folder = output
        name = sequence.name if sequence else f"{source.stem}_%06d.png"
    if not folder.parent.is_dir():
        raise OutputError(f"{output}: folder {folder.parent} does not exist")
    if sequence and folder.resolve() == sequence.folder.resolve() and name == sequence.name:
        raise OutputError(f"{output}: would overwrite the input frames; choose another output")
    target = SequenceTarget(folder, name, first)
    existing = existing_frame(target)
    if existing:
        raise OutputError(
            f"{output}: {folder} already holds frames named like {existing.name}; remove them or "
            "choose another output, so that old and new frames never mix"
        )
    return target


def existing_frame(target: SequenceTarget) -> Path | None:
    if not target.folder.is_dir():
        return None
    field = PRINTF.search(target.name)
    digits = rf"\d{{{int(field[1])}}}" if field[1] else r"\d+"
    before, after = target.name[: field.start()], target.name[field.end() :]
    pattern = re.compile(re.escape(before) + digits + re.escape(after) + "$")
    return next((file for file in target.folder.iterdir() if pattern.match(file.name)), None)


def write_frame(path: Path, image: np.ndarray) -> None:
    """PNG/TIFF through OpenCV, DPX through FFmpeg; atomic either way."""
    if path.suffix.lower() == ".dpx":
        try:
            write_atomically(path, encode_dpx(image))
        except OSError as error:
            raise OutputError(f"{path}: cannot write: {error.strerror}") from None
    else:
        write_image(path, image)


class FrameWriter:
    """One segment of an image-sequence output; the same interface as media.SegmentWriter.

    `path` is the segment's frame list, written last, beside the folder of its frames."""

    def __init__(self, path: Path, target: SequenceTarget) -> None:
        self.path, self.target = path, target
        self.folder = path.with_suffix("")
        self.folder.mkdir(exist_ok=True)
        self.offset: int | None = None
        self.time_base = Fraction(1)
        self.frames = 0
        self.names: list[str] = []

    def write(self, frame: RgbFrame) -> None:
        if self.offset is None:
            self.offset, self.time_base = frame.pts or 0, frame.time_base
        name = self.target.path(frame.index).name
        write_frame(self.folder / name, frame.rgb)
        self.names.append(name)
        self.frames += 1

    def close(self) -> None:
        write_atomically(self.path, json.dumps(self.names).encode(), durable=True)

    def abort(self) -> None:
        """Frames already written stay in the work folder; the journal does not list them."""


def place_frames(segments: list[Segment], target: SequenceTarget) -> int:
    """Move every finished frame under its real name; returns how many. A new folder is
    assembled beside its name and renamed into place whole."""
    creating = not target.folder.exists()
    folder = target.folder.with_name(f".{target.folder.name}.partial") if creating else None
    destination = folder or target.folder
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    placed = 0
    for segment in segments:
        frames = segment.path.with_suffix("")
        for name in json.loads(segment.path.read_text()):
            os.replace(frames / name, destination / name)
            placed += 1
    if folder is not None:
        os.replace(folder, target.folder)
    return placed
