"""Soft masks: where one source of colour gives way to another, without a seam.

Each is what OpenCV does to a float32 picture, on any device and for a batch of pictures at
once ((H, W) or (N, H, W)): on a CPU OpenCV itself, elsewhere torch operations that give the
same (tests/test_masks.py), few of them, since on a GPU a frame's cost after its flows is the
number of operations launched (docs/speed.md).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from model.planes import each_plane


def gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    """(H, W) float, or a batch (N, H, W), blurred as cv2.GaussianBlur(image, (0, 0), sigma)
    does a float32 picture: a kernel of 8 sigma + 1 taps, the border reflected (101). On a CPU
    OpenCV's own does it, 5x faster than the convolution (0.37 against 1.96 ms at 640x360)."""
    if image.device.type != "cpu":
        return convolved_blur(image, sigma)
    return each_plane(image, torch.float32, lambda plane: cv2.GaussianBlur(plane, (0, 0), sigma))


@functools.lru_cache(maxsize=8)
def gaussian_taps(sigma: float, device: torch.device) -> Tensor:
    """cv2.GaussianBlur's kernel for `sigma`: 8 sigma + 1 taps (made once per device)."""
    radius = int(round(sigma * 8 + 1)) // 2
    taps = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def convolved_blur(image: Tensor, sigma: float) -> Tensor:
    """gaussian_blur on any device: two passes of a 1D kernel over every picture at once."""
    kernel = gaussian_taps(sigma, image.device)
    radius = len(kernel) // 2
    mode = "reflect" if min(image.shape[-2:]) > radius else "replicate"
    planes = image.float().reshape(-1, 1, *image.shape[-2:])
    planes = F.pad(planes, (radius, radius, 0, 0), mode=mode)
    planes = F.conv2d(planes, kernel.view(1, 1, 1, -1))
    planes = F.pad(planes, (0, 0, radius, radius), mode=mode)
    return F.conv2d(planes, kernel.view(1, 1, -1, 1)).view(image.shape)


def eroded(mask: Tensor) -> Tensor:
    """A bool mask (H, W), or a batch (N, H, W), eroded by a 3x3 square, as float 0 and 1;
    nothing outside the picture erodes it. On a CPU OpenCV's erosion; elsewhere the largest of
    each neighbourhood of the complement (max pooling ignores what lies outside), one kernel
    where shifted ANDs took eleven. On a CPU OpenCV's is 20x faster than the pooling (0.05
    against 1.0 ms a 256x256 mask)."""
    if mask.device.type != "cpu":
        return pooled_erosion(mask)
    square = np.ones((3, 3), np.uint8)
    return each_plane(mask, torch.uint8, lambda plane: cv2.erode(plane, square)).float()


def pooled_erosion(mask: Tensor) -> Tensor:
    """eroded on any device, by max pooling."""
    outside = 1 - mask.float().reshape(-1, 1, *mask.shape[-2:])
    return (1 - F.max_pool2d(outside, 3, stride=1, padding=1)).view(mask.shape)


def soft(mask: Tensor) -> Tensor:
    """A hard mask (H, W), or a batch (N, H, W), with softened edges: a hard seam between
    sources shows as a line. Eroded by a 3x3 square first, then blurred."""
    return gaussian_blur(eroded(mask), 2)
