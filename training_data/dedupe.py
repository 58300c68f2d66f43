"""Looking at the pixels: decoding, the greyscale test, and finding near-duplicate photos."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from training_data.photo import Photo  # noqa: E402

DUPLICATE_DISTANCE = 6  # dHash bits; the same photo re-encoded or resized stays well below
DUPLICATE_CORRELATION = 0.95  # and its 32x32 grey thumbnails correlate above this
GREY_CHROMA = 5.0  # 99th-percentile Lab chroma (8-bit units) of a greyscale image is below


def decode(data: bytes) -> np.ndarray | None:
    """Decoded as the training loader decodes (EXIF-rotated, alpha dropped); 2-D if grey."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_ANYCOLOR)
    return None if image is None or image.size == 0 else image


def chroma_p99(image: np.ndarray) -> float:
    """99th percentile of Lab chroma (8-bit units): how colourful the most colourful 1% is.

    A percentile, not the mean, so a coloured object on a large white or black background
    (a product shot, swans on dark water) counts as colour, while a greyscale or faintly
    tinted scan does not.
    """
    if image.ndim == 2:
        return 0.0
    scale = 256 / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB).astype(np.float32)
    return float(np.percentile(np.hypot(lab[..., 1] - 128, lab[..., 2] - 128), 99))


def is_greyscale(image: np.ndarray) -> bool:
    """Single-channel, channel-identical, or without visible colour anywhere."""
    if image.ndim == 2 or image.shape[2] == 1:
        return True
    if np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(
        image[..., 1], image[..., 2]
    ):
        return True
    return chroma_p99(image) < GREY_CHROMA


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash: is each pixel of a 9x8 grey thumbnail brighter than its left one.

    It depends on coarse structure only, so the same photo resized or re-encoded hashes within
    a few bits, while different photos differ in about half of them.
    """
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def thumbnail(image: np.ndarray) -> np.ndarray:
    """32x32 grey thumbnail with zero mean and unit norm, for a correlation check."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    small -= small.mean()
    return small / max(float(np.linalg.norm(small)), 1e-6)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def same_picture(a: Photo, b: Photo, distance: int = DUPLICATE_DISTANCE) -> bool:
    """Hashes within `distance` bits, confirmed by the thumbnails' correlation.

    A 64-bit dHash alone confuses different landscapes (sky over sea over shore gives most of
    the bits the same value), so the hash only nominates pairs; a resized or re-encoded copy
    correlates at about 1.0, the look-alike landscapes here at 0.8 or less.
    """
    if hamming(a.dhash, b.dhash) > distance:
        return False
    if a.thumb is None or b.thumb is None:
        return True
    return float((a.thumb * b.thumb).sum()) >= DUPLICATE_CORRELATION


def dedupe(
    photos: Sequence[Photo], distance: int = DUPLICATE_DISTANCE
) -> tuple[list[Photo], list[tuple[Photo, Photo]], list[tuple[Photo, Photo]]]:
    """Photos without near-duplicates, (dropped, kept instead) pairs, and look-alike pairs.

    Duplicates (see `same_picture`) are grouped transitively; each group keeps its largest
    image (ties: the first name in sort order), so a photo that ships both small and large
    survives as the large one. Look-alikes are pairs the hash nominated and the thumbnails
    rejected; they are all kept, and listed so the check can be seen to work.
    """
    parent = list(range(len(photos)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    lookalikes = []
    for i in range(len(photos)):
        for j in range(i + 1, len(photos)):
            if same_picture(photos[i], photos[j], distance):
                parent[root(i)] = root(j)
            elif hamming(photos[i].dhash, photos[j].dhash) <= distance:
                lookalikes.append((photos[i], photos[j]))
    groups: dict[int, list[Photo]] = defaultdict(list)
    for i, photo in enumerate(photos):
        groups[root(i)].append(photo)
    kept, dropped = [], []
    for group in groups.values():
        best = min(group, key=lambda p: (-p.pixels, p.name))
        kept.append(best)
        dropped += [(photo, best) for photo in group if photo is not best]
    by_name = sorted(kept, key=lambda p: p.name)
    return by_name, sorted(dropped, key=lambda pair: pair[0].name), lookalikes
