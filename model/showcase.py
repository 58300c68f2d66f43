"""A picture of what the weights do on held-out photos: grey | reference | output | truth.

    python -m model.showcase --weights W.safetensors --photos data/photos/val -o docs/showcase.png

The reference is made from the ground truth by the training augmentation (the paper's
protocol, and the one the validation numbers use), with a fixed seed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from model.color import rgb_to_lab
from model.colorizer import Colorizer
from model.data import IMAGE_SUFFIXES, list_media, validation_pairs
from model.metrics import color_with_ab, delta_e


def to_uint8(image: torch.Tensor) -> np.ndarray:
    return (image.permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)


def label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()
    cv2.putText(tile, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def showcase(weights: Path, photos: list[Path], output: Path, size: int = 192) -> None:
    colorizer = Colorizer.from_checkpoint(weights, device="cpu")
    truths, references = validation_pairs(photos, size=256)
    rows = []
    for truth, reference in zip(truths, references, strict=True):
        lightness = rgb_to_lab(truth[None])[:, :1]
        ab = colorizer.colorize(lightness, colorizer.embed(reference[None]))
        result = color_with_ab(lightness, ab)[0]
        mean_ab = rgb_to_lab(reference[None])[:, 1:].mean(dim=(2, 3), keepdim=True)
        baseline = color_with_ab(lightness, mean_ab)[0]
        grey = lightness.repeat(1, 3, 1, 1)[0] / 100
        score = delta_e(result[None], truth[None]).item()
        score_mean = delta_e(baseline[None], truth[None]).item()
        tiles = [
            (grey, "grey input"),
            (reference, "reference"),
            (baseline, f"mean colour dE {score_mean:.1f}"),
            (result, f"remaster dE {score:.1f}"),
            (truth, "ground truth"),
        ]
        row = [
            label(cv2.resize(to_uint8(t), (size, size), interpolation=cv2.INTER_AREA), text)
            for t, text in tiles
        ]
        rows.append(np.hstack(row))
    output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(output), np.vstack(rows)[..., ::-1])


def augmentation_pairs(
    photos: list[Path], output: Path, per_photo: int = 4, size: int = 160
) -> None:
    """Ground truth and a few self-references made from it, one row per photo."""
    from model.augment import AugmentConfig, make_reference
    from model.data import center_crop, read_rgb, to_tensor

    rows = []
    for index, path in enumerate(photos):
        truth = to_tensor(center_crop(read_rgb(path), 256))
        generator = torch.Generator().manual_seed(index)
        references = [make_reference(truth, AugmentConfig(), generator) for _ in range(per_photo)]
        tiles = [label(cv2.resize(to_uint8(truth), (size, size)), "ground truth")]
        tiles += [cv2.resize(to_uint8(r), (size, size)) for r in references]
        rows.append(np.hstack(tiles))
    output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(output), np.vstack(rows)[..., ::-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, help="checkpoint to show (or --augmentations)")
    parser.add_argument(
        "--augmentations", action="store_true", help="show self-reference pairs instead"
    )
    parser.add_argument("--photos", type=Path, required=True, help="folder of held-out photos")
    parser.add_argument("--names", nargs="*", help="file names to show (default: the first few)")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    photos = list_media([args.photos], IMAGE_SUFFIXES)
    if args.names:
        photos = [p for p in photos if p.name in set(args.names)]
    if args.augmentations:
        augmentation_pairs(photos[: args.count], args.output)
    elif args.weights is None:
        parser.error("--weights is needed unless --augmentations is given")
    else:
        showcase(args.weights, photos[: args.count], args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
