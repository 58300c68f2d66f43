"""A shot's colour proxy for the review page: its first seconds, before/after, small, H.264 in
MP4 (what a browser plays).

The frames go the film's way (colour stage, chroma planes) and become before/after pictures by
the code of `--side-by-side` (media/side_by_side.py); only then are they made small and 8-bit,
so the proxy shows the film's colour. No sound: a few seconds of a shot are judged by eye, and
the film's sound would have to be cut to the shot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np

from model.files import atomic_output
from remaster.color.batches import Batch
from remaster.color.stage import ColorStage
from remaster.media.forms import Source
from remaster.media.frames import Picture
from remaster.media.planes import chroma_planes, luma_coefficients
from remaster.media.side_by_side import side_by_side
from remaster.media.video import SegmentWriter

PROXY_SECONDS = 4.0  # "a few seconds": enough to judge motion, made in under a minute on a CPU
PROXY_HEIGHT = 270  # each half; side by side a 16:9 film makes 960x270
PROXY_CRF, PROXY_PRESET = 28, "veryfast"


def proxy_size(width: int, height: int) -> tuple[int, int]:
    """Each half's (width, height): at most PROXY_HEIGHT high, aspect kept, even sides."""
    if height <= PROXY_HEIGHT:
        return width - width % 2, height - height % 2
    scaled = round(width * PROXY_HEIGHT / height)
    return scaled - scaled % 2, PROXY_HEIGHT


def small(picture: Picture, width: int, height: int) -> Picture:
    """8-bit 4:2:0 planes at (width, height). Limited-range codes keep their meaning when
    shifted from 10 to 8 bits (64-940 -> 16-235)."""
    planes = [picture.y, picture.u, picture.v]
    if picture.bits > 8:
        planes = [(plane >> (picture.bits - 8)).astype(np.uint8) for plane in planes]
    sizes = [(width, height), (width // 2, height // 2), (width // 2, height // 2)]
    y, u, v = (
        plane
        if plane.shape[::-1] == size
        else cv2.resize(plane, size, interpolation=cv2.INTER_AREA)
        for plane, size in zip(planes, sizes, strict=True)
    )
    return dataclasses.replace(picture, y=y, u=u, v=v, bits=8)


def write_proxy(
    path: Path,
    source: Source,
    stage: ColorStage,
    batches: Iterable[Batch],
    progress: Callable[[int, int | None], None],
    lock,
) -> None:
    """Colour `batches` (one shot's first frames) and write them, before/after, to `path`."""
    info = source.info
    coefficients = luma_coefficients(info.colorspace, info.height)
    width, height = proxy_size(info.width, info.height)
    proxy_info = dataclasses.replace(info, width=2 * width, height=height, bits=8)

    def predictions():
        for batch in batches:
            with lock:  # the model is shared with the page's frames
                yield stage.color(batch)

    pictures = chroma_planes(predictions(), coefficients, source.full_range, info.bits)
    with atomic_output(path) as temporary:
        writer = SegmentWriter(
            temporary, proxy_info, "h264", PROXY_CRF, PROXY_PRESET, bits=8,
            shares_cores=stage.predictor.colorizer.device.type == "cpu",
        )  # fmt: skip
        try:
            for done, picture in enumerate(pictures, 1):
                writer.write(side_by_side(small(picture, width, height), 8))
                progress(done, None)
            writer.close()
        except BaseException:
            writer.abort()
            raise
