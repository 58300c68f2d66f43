"""Training data: colour images (and video frames) as (ground truth, self-reference) pairs.

The order of samples is a pure function of (seed, position in the sample stream), and so is
every random choice made for a sample. A run resumed at step s therefore sees exactly the
samples an uninterrupted run would have seen from step s on, on any number of workers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import Dataset, Sampler  # noqa: E402

from model.augment import AugmentConfig, make_reference  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}
DEFAULT_AUGMENT = AugmentConfig()


def list_media(roots: Sequence[str | Path], suffixes: set[str]) -> list[Path]:
    """Every file under `roots` (files or folder trees) with one of `suffixes`, sorted."""
    found: list[Path] = []
    for root in map(Path, roots):
        if root.is_file():
            found.append(root)
        elif root.is_dir():
            found += [p for p in root.rglob("*") if p.suffix.lower() in suffixes and p.is_file()]
        else:
            raise FileNotFoundError(f"{root}: no such file or folder")
    return sorted(found)


def read_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) float32 RGB in [0, 1]; grey files are repeated to three channels."""
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image is None:
        raise ValueError(f"{path}: cannot be decoded as an image")
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return image[..., 2::-1].astype(np.float32) / scale


def read_video_frame(path: Path, rng: np.random.Generator) -> np.ndarray:
    """A random frame of a video as (H, W, 3) float32 RGB in [0, 1].

    decord gives random access; where it cannot open a file, PyAV decodes from the start
    (seeking is unreliable in some files) up to the chosen frame.
    """
    try:
        import decord

        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        frame = reader[int(rng.integers(len(reader)))].asnumpy()
    except Exception:  # noqa: BLE001 - decord raises its own error types
        import av

        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            count = stream.frames or 1
            wanted = int(rng.integers(count))
            frame = None
            for index, decoded in enumerate(container.decode(stream)):
                frame = decoded.to_ndarray(format="rgb24")
                if index >= wanted:
                    break
        if frame is None:
            raise ValueError(f"{path}: no video frames could be decoded") from None
    return frame.astype(np.float32) / 255


def random_crop(image: np.ndarray, crop: int, rng: np.random.Generator) -> np.ndarray:
    """Resize so the short side is random in [crop, 2*crop], then cut a random crop x crop.

    At inference the short side is 256 and the whole frame is seen; with crop 128 this
    range shows objects at the scales the network meets at inference.
    """
    height, width = image.shape[:2]
    short = int(rng.integers(crop, 2 * crop + 1))
    scale = short / min(height, width)
    size = (max(crop, round(width * scale)), max(crop, round(height * scale)))
    resized = cv2.resize(
        image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    )
    top = int(rng.integers(resized.shape[0] - crop + 1))
    left = int(rng.integers(resized.shape[1] - crop + 1))
    return resized[top : top + crop, left : left + crop]


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = size / min(height, width)
    resized = cv2.resize(
        image,
        (max(size, round(width * scale)), max(size, round(height * scale))),
        interpolation=cv2.INTER_AREA,
    )
    top = (resized.shape[0] - size) // 2
    left = (resized.shape[1] - size) // 2
    return resized[top : top + size, left : left + size]


def to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous()


def _seed_of(*parts: int) -> int:
    digest = hashlib.sha256(",".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class SelfReferenceDataset(Dataset):
    """Item i of an endless stream: (ground truth (3, c, c), reference (3, c, c)) in [0, 1].

    Each video counts as `video_weight` sources, so a few long videos are not drowned by many
    photos or the reverse.
    """

    def __init__(
        self,
        images: Sequence[Path],
        videos: Sequence[Path] = (),
        crop: int = 128,
        augment: AugmentConfig = DEFAULT_AUGMENT,
        seed: int = 0,
        video_weight: int = 20,
    ) -> None:
        self.sources: list[tuple[str, Path]] = [("image", p) for p in images]
        self.sources += [("video", p) for p in videos for _ in range(video_weight)]
        if not self.sources:
            raise ValueError("no training images or videos found")
        self.crop = crop
        self.augment = augment
        self.seed = seed

    def __len__(self) -> int:
        return len(self.sources)

    def source_at(self, stream_index: int) -> tuple[str, Path]:
        epoch, position = divmod(stream_index, len(self.sources))
        order = np.random.default_rng(_seed_of(self.seed, epoch)).permutation(len(self.sources))
        return self.sources[order[position]]

    def __getitem__(self, stream_index: int) -> tuple[torch.Tensor, torch.Tensor]:
        kind, path = self.source_at(stream_index)
        seed = _seed_of(self.seed, stream_index, 1)
        rng = np.random.default_rng(seed)
        image = read_rgb(path) if kind == "image" else read_video_frame(path, rng)
        ground_truth = to_tensor(random_crop(image, self.crop, rng))
        reference = make_reference(ground_truth, self.augment, torch.Generator().manual_seed(seed))
        return ground_truth, reference


class StreamBatchSampler(Sampler[list[int]]):
    """Batches of stream positions for one rank, from `start_step` to `end_step`.

    Step s takes positions [s * B * world, (s + 1) * B * world); rank r its r-th slice of B.
    """

    def __init__(
        self, batch_size: int, start_step: int, end_step: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.batch_size = batch_size
        self.start_step = start_step
        self.end_step = end_step
        self.rank = rank
        self.world_size = world_size

    def __len__(self) -> int:
        return max(0, self.end_step - self.start_step)

    def __iter__(self) -> Iterator[list[int]]:
        global_batch = self.batch_size * self.world_size
        for step in range(self.start_step, self.end_step):
            first = step * global_batch + self.rank * self.batch_size
            yield list(range(first, first + self.batch_size))


def validation_pairs(
    images: Sequence[Path], size: int = 256, augment: AugmentConfig = DEFAULT_AUGMENT, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed validation set: a centre crop of each image and its self-reference, as two
    (N, 3, size, size) tensors. The same seed always gives the same pairs."""
    truths, references = [], []
    for index, path in enumerate(images):
        truth = to_tensor(center_crop(read_rgb(path), size))
        generator = torch.Generator().manual_seed(_seed_of(seed, index, 2))
        truths.append(truth)
        references.append(make_reference(truth, augment, generator))
    return torch.stack(truths), torch.stack(references)
