"""training_data.dedupe: the greyscale test, the difference hash and near-duplicates."""

from __future__ import annotations

import cv2
import numpy as np

from tests.media import photo_like
from training_data.dedupe import (
    DUPLICATE_DISTANCE,
    dedupe,
    dhash,
    hamming,
    is_greyscale,
    same_picture,
    thumbnail,
)
from training_data.photo import Photo


def bgr_photo(height: int, width: int, seed: int) -> np.ndarray:
    return np.ascontiguousarray(photo_like(height, width, seed)[..., ::-1])


def as_photo(name: str, image: np.ndarray) -> Photo:
    height, width = image.shape[:2]
    return Photo(
        name,
        b"",
        "pkg",
        name,
        "public-domain",
        width=width,
        height=height,
        dhash=dhash(image),
        thumb=thumbnail(image),
    )


def test_greyscale_detection():
    color = bgr_photo(120, 160, seed=0)
    grey = cv2.cvtColor(cv2.cvtColor(color, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert not is_greyscale(color)
    assert is_greyscale(grey)
    assert is_greyscale(grey[..., 0])
    faintly_tinted = np.clip(grey.astype(int) + [1, 0, -1], 0, 255).astype(np.uint8)
    assert is_greyscale(faintly_tinted)
    small_red_object = grey.copy()
    small_red_object[50:70, 70:90] = (0, 0, 255)  # 2% of the image, on a grey background
    assert not is_greyscale(small_red_object)


def test_dhash_survives_resizing_and_jpeg_but_tells_photos_apart():
    original = bgr_photo(480, 640, seed=1)
    small = cv2.resize(original, (320, 240), interpolation=cv2.INTER_AREA)
    recompressed = cv2.imdecode(
        cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 60])[1], cv2.IMREAD_COLOR
    )
    other = bgr_photo(480, 640, seed=2)
    assert hamming(dhash(original), dhash(recompressed)) <= DUPLICATE_DISTANCE
    assert hamming(dhash(original), dhash(other)) > DUPLICATE_DISTANCE
    assert same_picture(as_photo("a", original), as_photo("b", recompressed))
    assert not same_picture(as_photo("a", original), as_photo("c", other))


def test_dedupe_keeps_the_largest_copy():
    original = bgr_photo(480, 640, seed=3)
    copies = [
        as_photo("small.jpg", cv2.resize(original, (160, 120), interpolation=cv2.INTER_AREA)),
        as_photo("large.jpg", original),
        as_photo("medium.jpg", cv2.resize(original, (320, 240), interpolation=cv2.INTER_AREA)),
        as_photo("other.jpg", bgr_photo(480, 640, seed=4)),
    ]
    kept, dropped, lookalikes = dedupe(copies)
    assert [p.name for p in kept] == ["large.jpg", "other.jpg"]
    assert sorted((d.name, k.name) for d, k in dropped) == [
        ("medium.jpg", "large.jpg"),
        ("small.jpg", "large.jpg"),
    ]
    assert lookalikes == []


def test_dedupe_keeps_different_photos_whose_hashes_collide():
    first, second = (
        as_photo("a.jpg", bgr_photo(240, 320, 5)),
        as_photo("b.jpg", bgr_photo(240, 320, 6)),
    )
    second.dhash = first.dhash  # as two plain landscapes (sky over sea) can hash alike
    kept, dropped, lookalikes = dedupe([first, second])
    assert [p.name for p in kept] == ["a.jpg", "b.jpg"] and dropped == []
    assert [(a.name, b.name) for a, b in lookalikes] == [("a.jpg", "b.jpg")]
