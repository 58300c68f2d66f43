"""Size and bit depth of a PNG, TIFF or DPX frame from its first bytes, without decoding it.

A scanned reel may hold a hundred thousand frames: checking that they agree from their headers
takes seconds, where decoding them would take as long as the job.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    bits: int  # bits per sample as stored: 1-16

    def describe(self) -> str:
        return f"{self.width}x{self.height} {self.bits}-bit"


def read_header(path: Path) -> Header | None:
    """The frame's header, or None where it is not one this module reads (the frame is then
    checked when it is decoded). OSError if the file cannot be read."""
    with path.open("rb") as handle:
        start = handle.read(8)
        if start.startswith(b"\x89PNG\r\n\x1a\n"):
            return _png(handle)
        if start[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff(handle, "<" if start[:2] == b"II" else ">", start)
        if start[:4] in (b"SDPX", b"XPDS"):
            return _dpx(handle, ">" if start[:4] == b"SDPX" else "<")
    return None


def _png(handle: BinaryIO) -> Header | None:
    chunk = handle.read(17)  # length, "IHDR", width, height, depth
    if len(chunk) < 17 or chunk[4:8] != b"IHDR":
        return None
    width, height, bits = struct.unpack(">IIB", chunk[8:17])
    return Header(width, height, bits)


def _dpx(handle: BinaryIO, order: str) -> Header | None:
    handle.seek(772)  # the image information header: pixels per line, lines per element
    block = handle.read(32)
    if len(block) < 32:
        return None
    width, height = struct.unpack(order + "II", block[:8])
    return Header(width, height, block[31])  # the first image element's bit size, at 803


_TIFF_TYPES = {3: ("H", 2), 4: ("I", 4)}  # SHORT, LONG


def _tiff(handle: BinaryIO, order: str, start: bytes) -> Header | None:
    (offset,) = struct.unpack(order + "I", start[4:8])
    handle.seek(offset)
    raw = handle.read(2)
    if len(raw) < 2:
        return None
    (count,) = struct.unpack(order + "H", raw)
    entries = handle.read(12 * count)
    tags = {}
    for position in range(0, len(entries) - 11, 12):
        tag, kind, number = struct.unpack(order + "HHI", entries[position : position + 8])
        if tag in (256, 257, 258) and kind in _TIFF_TYPES:
            code, size = _TIFF_TYPES[kind]
            value = entries[position + 8 : position + 12]
            if number * size > 4:  # stored elsewhere; every sample has the same depth here
                (pointer,) = struct.unpack(order + "I", value)
                handle.seek(pointer)
                value = handle.read(size)
            tags[tag] = struct.unpack(order + code, value[:size])[0]
    if 256 not in tags or 257 not in tags:
        return None
    return Header(tags[256], tags[257], tags.get(258, 1))
