"""Media that tests make for themselves: photo-like images and real encoded video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def photo_like(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth, colourful uint8 RGB image: low-frequency noise upsampled, like a soft photo."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((4, 6, 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_photos(
    folder: Path, count: int, size: tuple[int, int] = (96, 128), seed: int = 0
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image = photo_like(*size, seed=seed + index)
        cv2.imwrite(str(folder / f"photo{index:03d}.png"), image[..., ::-1])
    return folder


def write_video(
    path: Path, frames: int = 12, size: tuple[int, int] = (96, 128), fps: int = 10
) -> Path:
    """A real H.264 file encoded with PyAV, each frame a different photo-like image."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(photo_like(*size, seed=100 + index), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
