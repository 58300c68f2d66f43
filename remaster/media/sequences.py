"""Image sequences in: a folder of frames or a printf pattern (scan_%06d.dpx), as scans arrive.

A sequence is checked whole before any work (numbering without gaps, one size, one depth, from
each file's header), so a bad reel fails in seconds, not hours in. Each frame becomes a Picture
whose luma is the frame's grey at the file's own depth (8 or 16 bits, full range): a grey scan's
values as they are, a colour scan's BT.709 luma (sRGB's primaries). Its chroma is never read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from remaster.errors import InputError
from remaster.media.frames import Picture
from remaster.media.headers import Header, read_header
from remaster.media.images import read_image
from remaster.media.planes import BT709, COLOR_RANGE_FULL, COLORSPACE_BT709
from remaster.media.video import VideoInfo, read_dpx

SUFFIXES = (".png", ".tif", ".tiff", ".dpx")
PRINTF = re.compile(r"%(0\d+)?d")
NUMBERED = re.compile(r"^(.*?)(\d+)(\.[A-Za-z]+)$")


@dataclass(frozen=True)
class Sequence:
    folder: Path
    name: str  # the files' printf pattern, e.g. scan_%06d.dpx
    first: int  # the first file's number
    count: int
    width: int
    height: int
    bits: int  # 8, or 16 (deeper DPX files are read at 16)

    def path(self, index: int) -> Path:
        """The file of frame `index` (0 is the first file)."""
        return self.folder / (self.name % (self.first + index))

    @property
    def pattern(self) -> Path:
        return self.folder / self.name


def is_sequence(path: Path) -> bool:
    return path.is_dir() or PRINTF.search(path.name) is not None


def parse_rate(text: str) -> Fraction:
    """--fps: 24, 25, 23.976 (read as 24000/1001, as 29.97 and 59.94 are), or 24000/1001."""
    try:
        rate = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--fps {text}: give frames per second, e.g. 24 or 24000/1001") from None
    if rate <= 0:
        raise InputError(f"--fps {text}: frames per second must be more than 0")
    if rate.denominator != 1 and "/" not in text:
        nominal = round(rate * Fraction(1001, 1000))
        if abs(rate - Fraction(nominal * 1000, 1001)) < Fraction(1, 200):
            return Fraction(nominal * 1000, 1001)  # the NTSC rates, which decimals only round
    return rate


def find_sequence(path: Path) -> Sequence:
    """The sequence a folder or pattern names, checked: InputError naming the first bad file."""
    folder, name, numbered = _numbered_files(path)
    if not numbered:
        raise InputError(
            f"{path}: holds no PNG, TIFF or DPX frames"
            if path.is_dir()
            else f"{path}: no file matches this pattern in {folder}"
        )
    numbers = sorted(numbered)
    first = numbers[0]
    for expected, number in enumerate(numbers, start=first):
        if number != expected:
            raise InputError(
                f"{folder / (name % expected)}: missing from the sequence (frames {first}-"
                f"{expected - 1} are there, then {number}); fill the gap, with a repeated or "
                "black frame where the scan lacks one, so that the timing stays right"
            )
    files = [numbered[number] for number in numbers]
    image = read_frame(files[0])
    height, width = image.shape[:2]
    bits = 8 if image.dtype == np.uint8 else 16
    for file in files[1:]:
        found = _header(file)
        if found != Header(width, height, bits):
            raise InputError(
                f"{file}: is {found.describe()}, but {files[0].name} is "
                f"{Header(width, height, bits).describe()}; a sequence needs one size and "
                "depth: re-export it"
            )
    return Sequence(folder, name, first, len(files), width, height, bits)


def sequence_identity(path: Path) -> list:
    """The sequence's pattern, first number and length, from its names alone (for --resume)."""
    folder, name, numbered = _numbered_files(path)
    return [str((folder / name).resolve()), min(numbered, default=0), len(numbered)]


def _numbered_files(path: Path) -> tuple[Path, str, dict[int, Path]]:
    """(folder, printf pattern of the names, {number: file})."""
    if path.is_dir():
        groups: dict[tuple[str, str, int], dict[int, Path]] = {}
        for file in path.iterdir():
            match = NUMBERED.match(file.name)
            if file.name.startswith(".") or not match or match[3].lower() not in SUFFIXES:
                continue
            prefix, digits, suffix = match.groups()
            width = len(digits) if digits.startswith("0") else 0
            groups.setdefault((prefix, suffix, width), {})[int(digits)] = file
        if not groups:
            return path, "", {}
        if len(groups) > 1:
            names = sorted(_printf(*key) for key in groups)
            raise InputError(
                f"{path}: holds more than one sequence ({', '.join(names[:3])}); give the one "
                f"to colour as a pattern, e.g. {path / names[0]}"
            )
        ((key, numbered),) = groups.items()
        return path, _printf(*_padding(key, numbered)), numbered
    folder, name = path.parent, path.name
    if not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InputError(f"{path}: sequences are .png, .tif, .tiff or .dpx frames")
    field = PRINTF.search(name)
    digits = rf"\d{{{int(field[1])}}}" if field[1] else r"\d+"
    pattern = re.compile(
        re.escape(name[: field.start()]) + f"({digits})" + re.escape(name[field.end() :]) + "$"
    )
    numbered = {}
    for file in folder.iterdir():
        match = pattern.match(file.name)
        if match:
            number = int(match[1])
            if number in numbered:
                raise InputError(
                    f"{file}: has the same number as {numbered[number].name}; remove one"
                )
            numbered[number] = file
    return folder, name, numbered


def _padding(key: tuple[str, str, int], numbered: dict[int, Path]) -> tuple[str, str, int]:
    """Unpadded names of one length (100-199) may as well be padded: output keeps their look."""
    prefix, suffix, width = key
    if width == 0:
        lengths = {len(str(number)) for number in numbered}
        width = lengths.pop() if len(lengths) == 1 else 0
    return prefix, suffix, width


def _printf(prefix: str, suffix: str, width: int) -> str:
    field = f"%0{width}d" if width else "%d"
    return prefix.replace("%", "%%") + field + suffix


def _header(file: Path) -> Header:
    """Size and depth as the frame will be read (deeper than 8 bits is read at 16); a file
    whose header this does not know is decoded, so a damaged one is found now all the same."""
    try:
        header = read_header(file)
    except OSError as error:
        raise InputError(f"{file}: cannot be read ({error.strerror}); replace it") from None
    if header is None:
        image = read_frame(file)
        return Header(image.shape[1], image.shape[0], 8 if image.dtype == np.uint8 else 16)
    return Header(header.width, header.height, 8 if header.bits <= 8 else 16)


def read_frame(file: Path) -> np.ndarray:
    """(H, W) grey or (H, W, 3) RGB, uint8 or uint16."""
    if file.suffix.lower() == ".dpx":
        return read_dpx(file)
    return read_image(file)


def grey_of(image: np.ndarray) -> np.ndarray:
    """A frame's grey at its own depth: grey values as they are, RGB by its BT.709 luma."""
    if image.ndim == 2:
        return image
    kr, kb = BT709
    weights = np.array([kr, 1 - kr - kb, kb], np.float32)
    luma = (image.astype(np.float32) @ weights).round()
    return luma.clip(0, np.iinfo(image.dtype).max).astype(image.dtype)


def sequence_info(sequence: Sequence, rate: Fraction) -> VideoInfo:
    """The sequence as the pipeline sees a video: full-range BT.709 luma, one tick a frame."""
    return VideoInfo(
        path=sequence.pattern,
        width=sequence.width,
        height=sequence.height,
        rate=rate,
        time_base=1 / rate,
        frame_count=sequence.count,
        sample_aspect_ratio=None,
        colorspace=COLORSPACE_BT709,
        color_range=COLOR_RANGE_FULL,
        audio_streams=0,
        subtitle_streams=0,
        bits=sequence.bits,
    )


def read_sequence(
    sequence: Sequence, rate: Fraction, first: int = 0, end: int | None = None
) -> Iterator[Picture]:
    """Every frame in order (or frames `first` to `end - 1`); a frame unlike the first (the
    header missed it) or unreadable raises InputError naming it."""
    neutral = np.uint8(128) if sequence.bits == 8 else np.uint16(32768)
    chroma = np.broadcast_to(neutral, ((sequence.height + 1) // 2, (sequence.width + 1) // 2))
    expected = np.uint8 if sequence.bits == 8 else np.uint16
    for index in range(first, sequence.count if end is None else end):
        file = sequence.path(index)
        try:
            image = read_frame(file)
        except InputError as error:  # the run is far along: say how not to lose it
            raise InputError(f"{error}; replace it, then run again with --resume") from None
        if image.shape[:2] != (sequence.height, sequence.width) or image.dtype != expected:
            found = f"{image.shape[1]}x{image.shape[0]} {image.dtype.itemsize * 8}-bit"
            raise InputError(
                f"{file}: is {found}, but the sequence's first frame is {sequence.width}x"
                f"{sequence.height} {sequence.bits}-bit; re-export it to match, then --resume"
            )
        yield Picture(index, index, 1 / rate, grey_of(image), chroma, chroma, sequence.bits)
