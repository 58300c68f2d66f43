"""Regenerate the pictures the README and docs show of the shipped weights at work.

    .venv/bin/python docs/make_pictures.py     (after `make demo`, which writes out/reel-colour.mp4)

docs/camera.jpg: skimage's camera.png | the reference | `remaster image` with the shipped weights.
docs/film-frames.jpg: a frame of each shot of the example reel, before and after.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from remaster.media.images import read_image
from remaster.media.video import decode

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
STILL = ROOT / "examples" / "still"
FRAMES = (45, 135, 200)  # one per shot of examples/film/reel.mp4


def fit(image: np.ndarray, height: int) -> np.ndarray:
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    width = round(image.shape[1] * height / image.shape[0])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def camera() -> None:
    output = ROOT / "out" / "camera-colour.png"
    output.parent.mkdir(exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "remaster",
            "image",
            str(STILL / "camera.png"),
            "--ref",
            str(STILL / "fields.jpg"),
            "-o",
            str(output),
        ],
        check=True,
    )
    tiles = [fit(read_image(p), 256) for p in (STILL / "camera.png", STILL / "fields.jpg", output)]
    cv2.imwrite(
        str(DOCS / "camera.jpg"), np.hstack(tiles)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88]
    )


def yuv_to_rgb(picture) -> np.ndarray:
    height, width = picture.y.shape
    planes = np.concatenate([picture.y.ravel(), picture.u.ravel(), picture.v.ravel()])
    return cv2.cvtColor(planes.reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_I420)


def film_frames() -> None:
    before = {
        p.index: yuv_to_rgb(p) for p in decode(ROOT / "examples/film/reel.mp4") if p.index in FRAMES
    }
    after = {
        p.index: yuv_to_rgb(p) for p in decode(ROOT / "out/reel-colour.mp4") if p.index in FRAMES
    }
    rows = [
        np.hstack([fit(before[i], 180) for i in FRAMES]),
        np.hstack([fit(after[i], 180) for i in FRAMES]),
    ]
    cv2.imwrite(
        str(DOCS / "film-frames.jpg"), np.vstack(rows)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88]
    )


if __name__ == "__main__":
    camera()
    film_frames()
    print(f"wrote {DOCS / 'camera.jpg'} and {DOCS / 'film-frames.jpg'}")
