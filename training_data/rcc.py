"""Qt binary resource bundles (.rcc), which is how gcompris ships its images, and the image
types found inside them."""

from __future__ import annotations

import struct
import zlib

RCC_MAGIC = b"qres"
RCC_DIRECTORY, RCC_ZLIB, RCC_ZSTD = 0x02, 0x01, 0x04


def read_rcc(data: bytes) -> list[tuple[str, bytes]]:
    """(path, uncompressed bytes) of every file in a Qt binary resource bundle.

    Layout (qtbase rcc.cpp): b"qres", big-endian uint32 version, tree, data and names offsets,
    and from version 3 a uint32 flags word. Tree entries (14 bytes, 22 from version 2 with a
    trailing uint64 modification time) are uint32 name offset, uint16 flags, then for a
    directory uint32 child count and first child index, for a file uint16 country, uint16
    language and uint32 data offset. A name is uint16 length, uint32 hash, UTF-16BE text; data
    is uint32 size then bytes, zlib data prefixed with its uint32 uncompressed length.
    """
    if data[:4] != RCC_MAGIC:
        raise ValueError("not a Qt resource bundle (no 'qres' magic)")
    try:
        version, tree, payload, names = struct.unpack_from(">IIII", data, 4)
        if not 1 <= version <= 3:
            raise ValueError(f"unsupported rcc version {version}")
        entry_size = 14 if version == 1 else 22

        def name_at(offset: int) -> str:
            length = struct.unpack_from(">H", data, names + offset)[0]
            start = names + offset + 6  # after the length and the uint32 hash
            if start + 2 * length > len(data):
                raise ValueError("name runs past the end of the file")
            return data[start : start + 2 * length].decode("utf-16-be")

        def content_at(offset: int, flags: int, path: str) -> bytes:
            size = struct.unpack_from(">I", data, payload + offset)[0]
            start = payload + offset + 4
            if start + size > len(data):
                raise ValueError(f"{path}: data runs past the end of the file")
            blob = data[start : start + size]
            if flags & RCC_ZSTD:
                raise ValueError(f"{path}: zstd-compressed entries are not supported")
            return zlib.decompress(blob[4:]) if flags & RCC_ZLIB else blob

        files: list[tuple[str, bytes]] = []
        pending = [(0, "")]  # (entry index, parent path); entry 0 is the unnamed root
        seen: set[int] = set()
        while pending:
            index, parent = pending.pop()
            if index in seen:
                raise ValueError("directory tree has a cycle")
            seen.add(index)
            base = tree + index * entry_size
            name_offset, flags = struct.unpack_from(">IH", data, base)
            path = f"{parent}/{name_at(name_offset)}" if index else ""
            if flags & RCC_DIRECTORY:
                count, first = struct.unpack_from(">II", data, base + 6)
                pending += [(child, path) for child in reversed(range(first, first + count))]
            else:
                offset = struct.unpack_from(">I", data, base + 10)[0]
                files.append((path.lstrip("/"), content_at(offset, flags, path)))
        return files
    except (struct.error, zlib.error, UnicodeDecodeError) as error:
        raise ValueError(f"corrupt Qt resource bundle: {error}") from error


def image_kind(data: bytes) -> str | None:
    """'jpeg', 'png' or 'webp' from the file signature; None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None
