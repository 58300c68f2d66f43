"""Small generator stages of the film pipeline. Each takes an iterator and returns one.

    prefetch(decode) -> assign_entries -> batch_by_entry -> prefetch(predict_colour)
    -> chroma_planes (video) or rgb_frames (image sequence) -> (writer)

Decoding, colouring and encoding each run in a thread of their own, joined by bounded queues,
so the colorizer never waits for the others. No stage holds more than a batch or a queue's
worth, so memory does not grow with the film's length, and no batch ever mixes two refs
entries or two segments.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from model.color import lab_to_rgb
from remaster.frames import Picture
from remaster.planes import (
    chroma_from_rgb,
    grey_from_luma,
    lightness_from_luma,
    rgb_keeping_grey,
)
from remaster.shots import RefsPlan, ShotEntry

_DONE = object()


def prefetch(items: Iterable, depth: int = 8, name: str = "remaster-decode") -> Iterator:
    """Run `items` in a thread, `depth` ahead. Its exceptions re-raise here; the thread is
    always stopped and joined, even when the consumer stops early."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("done", _DONE))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            buffer.put(("error", error))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)


@dataclass
class Assigned:
    picture: Picture
    entry: ShotEntry  # the refs entry that colours this frame

    @property
    def references(self) -> tuple:
        return self.entry.references


def assign_entries(pictures: Iterable[Picture], plan: RefsPlan, rate: Fraction) -> Iterator:
    for picture in pictures:
        yield Assigned(picture, plan.entry_for(picture.index, picture.seconds, rate))


def batch_by_entry(
    items: Iterable[Assigned], batch_size: int, segment_frames: int
) -> Iterator[list[Assigned]]:
    """Consecutive frames in batches of at most `batch_size`, cut wherever the refs entry
    changes (one folded embedding and one track serve a whole batch), at every segment start
    (a batch's frame-to-frame state is then complete when its segment is) and at any gap."""
    batch: list[Assigned] = []
    for item in items:
        index = item.picture.index
        if batch and (
            len(batch) == batch_size
            or item.entry != batch[0].entry
            or index % segment_frames == 0
            or index != batch[-1].picture.index + 1
        ):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


@dataclass
class Prediction:
    """A batch of frames and the colour predicted for it (model side, before any planes)."""

    batch: list[Assigned]
    lightness: torch.Tensor  # (B, 1, H, W) CIE L of the frames' luma
    ab: torch.Tensor  # (B, 2, H, W)


def batch_lightness(
    lumas: list[np.ndarray], device: torch.device, full_range: bool, bits: int = 8
) -> torch.Tensor:
    """Luma planes of `bits` bits -> (B, 1, H, W) CIE L on `device`."""
    pin = device.type == "cuda"
    luma = np.stack(lumas)
    if bits > 8:  # torch's uint16 is a storage type with few operations, on GPUs fewer
        luma = luma.astype(np.int32)
    luma = torch.from_numpy(luma)
    if pin:
        luma = luma.pin_memory()
    return lightness_from_luma(luma.to(device, non_blocking=pin), full_range, bits)


def predict_colour(
    batches: Iterable[list[Assigned]],
    predict: Callable[[torch.Tensor, list[Assigned]], torch.Tensor],
    device: torch.device,
    full_range: bool,
    bits: int = 8,
) -> Iterator[Prediction]:
    """ab for each batch from `predict(lightness, batch)`; every frame of a batch shares one
    refs entry, so its guide and track are looked up once. `bits`: the luma's depth."""
    for batch in batches:
        lumas = [item.picture.y for item in batch]
        lightness = batch_lightness(lumas, device, full_range, bits)
        yield Prediction(batch, lightness, predict(lightness, batch))


BAND_ROWS = 256  # even, so no 2x2 chroma block straddles two bands


def chroma_planes(
    predictions: Iterable[Prediction],
    coefficients: tuple[float, float],
    full_range: bool,
    bits: int = 8,
    luma: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[Picture]:
    """New chroma planes of `bits` bits for each frame; the timestamps pass untouched, and so
    does the luma plane unless `luma` converts it to the output's depth and range (a scan
    written as video, 10-bit video written as 8-bit H.264)."""
    settings = (coefficients, full_range, bits)
    for prediction in predictions:
        # In bands of rows: every step is per pixel or per 2x2 block, so the planes are the
        # same, and an 8K frame's float RGB and its temporaries (3 GB) never exist whole.
        lab = torch.cat([prediction.lightness, prediction.ab], dim=1)
        bands = [
            chroma_from_rgb(lab_to_rgb(lab[..., top : top + BAND_ROWS, :]), *settings)
            for top in range(0, lab.shape[-2], BAND_ROWS)
        ]
        cb = np.concatenate([band[0] for band in bands], axis=1)
        cr = np.concatenate([band[1] for band in bands], axis=1)
        for item, u, v in zip(prediction.batch, cb, cr, strict=True):
            picture = item.picture
            y = picture.y if luma is None else luma(picture.y)
            yield Picture(picture.index, picture.pts, picture.time_base, y, u, v, bits)


@dataclass
class Still:
    """A coloured frame as whole RGB pixels, for an image-sequence output."""

    index: int
    pts: int | None
    time_base: Fraction
    rgb: np.ndarray  # (H, W, 3) uint8 or uint16


def rgb_frames(
    predictions: Iterable[Prediction],
    coefficients: tuple[float, float],
    full_range: bool,
    source_bits: int,
    bits: int,
) -> Iterator[Still]:
    """RGB of `bits` bits for each frame whose luma (by `coefficients`) is the input's grey:
    exactly, when the input is a scan of the same depth (planes.rgb_keeping_grey)."""
    for prediction in predictions:
        rgb = lab_to_rgb(torch.cat([prediction.lightness, prediction.ab], dim=1))
        luma = np.stack([item.picture.y for item in prediction.batch]).astype(np.int32)
        grey = grey_from_luma(torch.from_numpy(luma), full_range, source_bits)
        images = rgb_keeping_grey(rgb.cpu(), grey, coefficients, bits)
        for item, image in zip(prediction.batch, images, strict=True):
            picture = item.picture
            yield Still(picture.index, picture.pts, picture.time_base, image)
