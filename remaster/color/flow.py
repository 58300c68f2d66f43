"""Dense optical flow between grey pictures (OpenCV DIS), and how far to trust it.

Shared by the colour methods (carrying a reference's colour onto a frame), `remaster eval`
(the warp error along the truth's motion) and the benchmark's flow baseline, so all three
follow motion the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Forward-backward check (Sundaram et al. 2010): following the flow there and back must land
# within 0.5 px plus 1% of the squared flow lengths.
LOOP_SLACK, LOOP_SHARE = 0.5, 0.01


def sampling_maps(displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 2) displacement -> the x and y maps cv2.remap samples along."""
    height, width = displacement.shape[:2]
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    return grid_x + displacement[..., 0], grid_y + displacement[..., 1]


def lands_inside(map_x: np.ndarray, map_y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Where sampling maps point inside a picture of `shape` (height, width)."""
    height, width = shape
    return (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)


def remap(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class Flow:
    """Where each pixel of a target picture shows in a source picture, and whether to trust it."""

    map_x: np.ndarray  # (H, W) float32: the source x each target pixel comes from
    map_y: np.ndarray
    consistent: np.ndarray  # (H, W) bool: passes the forward-backward check
    inside: np.ndarray  # (H, W) bool: lands inside the source

    @property
    def visible(self) -> np.ndarray:
        return self.consistent & self.inside

    def warp(self, source_image: np.ndarray) -> np.ndarray:
        """An image of the source brought onto the target's pixels."""
        return remap(source_image, self.map_x, self.map_y)


class FlowEstimator:
    """DIS optical flow, medium preset; `finest_scale=0` adds the full-resolution level (the
    preset stops at half resolution)."""

    def __init__(self, finest_scale: int | None = None) -> None:
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        if finest_scale is not None:
            self.dis.setFinestScale(finest_scale)

    def displacement(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(H, W, 2) displacement taking each pixel of grey `source` to `target`."""
        return self.dis.calc(source, target, None)

    def between(self, source: np.ndarray, target: np.ndarray) -> Flow:
        """Where each pixel of grey `target` shows in grey `source` (same size)."""
        backward = self.displacement(target, source)
        forward = self.displacement(source, target)
        map_x, map_y = sampling_maps(backward)
        # Follow the flow into the source, then the other flow back: it should return home.
        returned = remap(forward, map_x, map_y)
        loop = backward + returned
        scale = (backward**2).sum(-1) + (returned**2).sum(-1)
        consistent = (loop**2).sum(-1) < LOOP_SHARE * scale + LOOP_SLACK
        return Flow(map_x, map_y, consistent, lands_inside(map_x, map_y, source.shape))
