"""Dense optical flow between grey pictures (DIS), and how far to trust it.

Shared by the colour methods (carrying a reference's colour onto a frame), `remaster eval`
(the warp error along the truth's motion) and the benchmark's flow baseline, so all three
follow motion the same way.

Two implementations of the same algorithm: OpenCV's (`opencv`), and ours in PyTorch
(`torch`, dis.py), which runs many pairs at once on any device. On the CPU OpenCV's is 20-30
times faster (640x360: 50-180 ms against 1.3-3.4 s a flow), so `auto` takes it there and ours
on a GPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from remaster.color.dis import DisSettings, dis_flow
from remaster.color.methods import FLOWS

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


def flow_for(flow: str, device) -> str:
    """`auto` -> the faster implementation on `device` (see the module's docstring)."""
    if flow == "auto":
        return "torch" if torch.device(device).type == "cuda" else "opencv"
    return flow


class FlowEstimator:
    """DIS optical flow, medium preset; `finest_scale=0` adds the full-resolution level (the
    preset stops at half resolution). `flow`: which implementation, on which `device`."""

    def __init__(
        self, finest_scale: int | None = None, flow: str = "opencv", device: str = "cpu"
    ) -> None:
        if flow not in FLOWS[1:]:
            raise ValueError(f"unknown flow {flow!r}; choose from {', '.join(FLOWS[1:])}")
        self.flow, self.device = flow, torch.device(device)
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        if finest_scale is not None:
            self.dis.setFinestScale(finest_scale)
        self.settings = DisSettings(finest_scale=1 if finest_scale is None else finest_scale)

    def displacements(self, sources: list[np.ndarray], targets: list[np.ndarray]) -> list:
        """(H, W, 2) displacements taking each pixel of each grey source to its target; ours
        computes all the pairs in one call."""
        if self.flow == "opencv":
            return [self.dis.calc(s, t, None) for s, t in zip(sources, targets, strict=True)]
        first = torch.from_numpy(np.stack(sources)).to(self.device)
        second = torch.from_numpy(np.stack(targets)).to(self.device)
        flows = dis_flow(first, second, self.settings).permute(0, 2, 3, 1).cpu().numpy()
        return list(flows)

    def displacement(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(H, W, 2) displacement taking each pixel of grey `source` to `target`."""
        return self.displacements([source], [target])[0]

    def between(self, source: np.ndarray, target: np.ndarray) -> Flow:
        """Where each pixel of grey `target` shows in grey `source` (same size)."""
        backward, forward = self.displacements([target, source], [source, target])
        map_x, map_y = sampling_maps(backward)
        # Follow the flow into the source, then the other flow back: it should return home.
        returned = remap(forward, map_x, map_y)
        loop = backward + returned
        scale = (backward**2).sum(-1) + (returned**2).sum(-1)
        consistent = (loop**2).sum(-1) < LOOP_SHARE * scale + LOOP_SLACK
        return Flow(map_x, map_y, consistent, lands_inside(map_x, map_y, source.shape))
