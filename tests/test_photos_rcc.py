"""training_data.rcc: Qt resource bundles written here, read back."""

from __future__ import annotations

import struct
import zlib

import pytest

from training_data.rcc import image_kind, read_rcc


def write_rcc(files: dict[str, bytes], compressed: set[str], version: int = 3) -> bytes:
    """A minimal Qt .rcc: entries breadth first like rcc does, payload, names, then the tree."""
    root: dict = {}
    for path in files:
        *folders, leaf = path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder, {})
        node[leaf] = path
    order: list[tuple[str, object]] = [("", root)]
    first_child: dict[int, int] = {}
    index = 0
    while index < len(order):
        node = order[index][1]
        if isinstance(node, dict):
            first_child[index] = len(order)
            order += sorted(node.items())
        index += 1

    names, payload, tree = bytearray(), bytearray(), bytearray()
    for index, (name, node) in enumerate(order):
        name_offset = len(names)
        encoded = name.encode("utf-16-be")
        names += struct.pack(">HI", len(encoded) // 2, 0) + encoded
        if isinstance(node, dict):
            tree += struct.pack(">IHII", name_offset, 0x02, len(node), first_child[index])
        else:
            data = files[node]
            flags = 0
            if node in compressed:
                data, flags = struct.pack(">I", len(data)) + zlib.compress(data), 0x01
            tree += struct.pack(">IHHHI", name_offset, flags, 0, 0, len(payload))
            payload += struct.pack(">I", len(data)) + data
        if version >= 2:
            tree += struct.pack(">Q", 0)  # last modified
    header_size = 4 + 16 + (4 if version >= 3 else 0)
    data_offset = header_size
    names_offset = data_offset + len(payload)
    tree_offset = names_offset + len(names)
    header = b"qres" + struct.pack(">IIII", version, tree_offset, data_offset, names_offset)
    if version >= 3:
        header += struct.pack(">I", 0)
    return header + bytes(payload) + bytes(names) + bytes(tree)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_rcc_round_trips_names_and_bytes(version):
    files = {
        "gcompris/src/activities/erase/resource/README": b"Copyright: me\n" * 40,
        "gcompris/src/activities/erase/resource/caf\u00e9.webp": b"RIFF\x00\x00\x00\x00WEBPxyz",
        "top.txt": b"",
    }
    bundle = write_rcc(
        files, compressed={"gcompris/src/activities/erase/resource/README"}, version=version
    )
    assert dict(read_rcc(bundle)) == files


def test_rcc_rejects_other_files_and_truncation():
    with pytest.raises(ValueError, match="magic"):
        read_rcc(b"PK\x03\x04 not a bundle")
    bundle = write_rcc({"a/b.bin": b"0123456789"}, compressed=set())
    with pytest.raises(ValueError):
        read_rcc(bundle[:-10])


def test_image_kind_from_signature():
    assert image_kind(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "webp"
    assert image_kind(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "jpeg"
    assert image_kind(b"\x89PNG\r\n\x1a\n\x00") == "png"
    assert image_kind(b"RIFF\x10\x00\x00\x00WAVEfmt ") is None
    assert image_kind(b"<svg") is None
