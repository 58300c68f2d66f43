"""How steady a video's colour is: CDC and the flow warp error, never across a cut.

CDC (colour distribution consistency, Liu et al. 2021, used across the temporally consistent
video colorization literature): the Jensen-Shannon divergence between the per-channel colour
histograms of frames t and t + k, averaged over R, G, B and over all pairs inside a shot, for
k = 1, 2 and 4; the three means are averaged. 0 is a still picture; flicker raises it.

Warp error: frame t warped onto frame t + 1 along the *truth's* optical flow, and the mean CIE76
Delta-E to frame t + 1 over the pixels the flow can see in both (forward-backward consistent,
Sundaram et al. 2010). The truth's own warp error is the floor natural motion sets (lighting,
motion blur, flow mistakes); an output far above it flickers or swims.

Both are computed for the truth as well, so a reader can see how far from natural motion the
output's stability is. Optical flow is OpenCV's DIS on the truth's grey frames, medium preset.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from model.color import rgb_to_lab
from remaster.color.flow import Flow

CDC_STEPS = (1, 2, 4)
HISTOGRAM_BINS = 256


def color_histograms(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, 256) per-channel probability distributions."""
    counts = np.stack(
        [np.bincount(rgb[..., channel].ravel(), minlength=HISTOGRAM_BINS) for channel in range(3)]
    ).astype(np.float64)
    return counts / counts.sum(axis=1, keepdims=True)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits (0 to 1) between distributions along the last axis."""
    middle = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        terms = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / np.where(b > 0, b, 1)), 0.0)
        return terms.sum(axis=-1)

    return (kl(p, middle) + kl(q, middle)) / 2


def grey_of(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def lab_of(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)[0]


def warp_error(previous: np.ndarray, current: np.ndarray, flow: Flow) -> float:
    """Mean CIE76 Delta-E between `previous` warped onto `current` and `current`, on the
    pixels the flow sees in both; NaN when it sees none."""
    if not flow.visible.any():
        return float("nan")
    warped = flow.warp(torch.from_numpy(previous).permute(2, 0, 1)).clamp(0, 255)
    difference = rgb_to_lab(warped[None] / 255)[0] - lab_of(current)
    distance = difference.square().sum(dim=0).sqrt()
    return float(distance[flow.visible].mean())


@dataclass
class StreamStats:
    """CDC and warp error of one video, fed frame by frame."""

    histograms: deque = field(default_factory=lambda: deque(maxlen=max(CDC_STEPS)))
    divergences: dict[int, list[float]] = field(
        default_factory=lambda: {step: [] for step in CDC_STEPS}
    )
    warp_errors: list[float] = field(default_factory=list)
    previous: np.ndarray | None = None

    def add(self, rgb: np.ndarray, new_shot: bool, flow: Flow | None) -> float:
        """Take the next frame; returns its warp error from the previous frame (NaN at a cut)."""
        if new_shot:
            self.histograms.clear()
            self.previous = None
        histogram = color_histograms(rgb)
        for step in CDC_STEPS:
            if len(self.histograms) >= step:
                divergence = js_divergence(self.histograms[-step], histogram).mean()
                self.divergences[step].append(float(divergence))
        self.histograms.append(histogram)
        error = float("nan")
        if self.previous is not None and flow is not None:
            error = warp_error(self.previous, rgb, flow)
            self.warp_errors.append(error)
        self.previous = rgb
        return error

    def cdc(self) -> float:
        means = [np.mean(values) for values in self.divergences.values() if values]
        return float(np.mean(means)) if means else float("nan")

    def mean_warp_error(self) -> float:
        errors = [error for error in self.warp_errors if not np.isnan(error)]
        return float(np.mean(errors)) if errors else float("nan")
