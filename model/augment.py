"""Self-augmented self-reference (paper section 3.2): a reference made from the ground truth.

The reference keeps the ground truth's colours but not their places: additive noise, a random
thin-plate-spline warp, flips and a rotation. A network trained this way must read *which*
colours the reference holds, not *where*, which is what a colour embedding should carry.

Everything runs in torch on the CPU, so it works inside DataLoader workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class AugmentConfig:
    noise: float = 5 / 255  # uniform +-noise on [0, 1] RGB, as in the authors' code
    tps_inner_points: int = 2  # an n x n grid of inner control points (corners stay fixed)
    # Largest displacement of an inner point, as a fraction of the size. Beyond about 0.2 the
    # control points cross and the warp folds the picture into swirls.
    tps_shift: float = 0.15
    rotation_degrees: float = 30.0  # uniform in +-rotation_degrees
    flips: bool = True  # horizontal and vertical, each with probability 1/2


def _tps_kernel(distance_squared: Tensor) -> Tensor:
    """U(r) = r^2 log r^2, with U(0) = 0."""
    return distance_squared * torch.log(distance_squared.clamp(min=1e-12))


def thin_plate_spline(source: Tensor, target: Tensor, points: Tensor) -> Tensor:
    """The TPS f with f(source_i) = target_i exactly, smoothest elsewhere, evaluated at points.

    source, target: (K, 2); points: (N, 2); returns (N, 2). Float64 inside: the system is
    small but ill-conditioned in float32.
    """
    source, target, points = source.double(), target.double(), points.double()
    count = source.shape[0]
    kernel = _tps_kernel(torch.cdist(source, source).square())
    affine = torch.cat([torch.ones(count, 1, dtype=torch.float64), source], dim=1)  # (K, 3)
    system = torch.zeros(count + 3, count + 3, dtype=torch.float64)
    system[:count, :count] = kernel
    system[:count, count:] = affine
    system[count:, :count] = affine.T
    rhs = torch.cat([target, torch.zeros(3, 2, dtype=torch.float64)])
    coefficients = torch.linalg.solve(system, rhs)  # (K + 3, 2): weights, then affine part
    point_kernel = _tps_kernel(torch.cdist(points, source).square())
    point_affine = torch.cat([torch.ones(points.shape[0], 1, dtype=torch.float64), points], dim=1)
    return (point_kernel @ coefficients[:count] + point_affine @ coefficients[count:]).float()


def _uniform(generator: torch.Generator, low: float, high: float, *shape: int) -> Tensor:
    return low + (high - low) * torch.rand(shape or (1,), generator=generator)


def random_warp_grid(
    height: int, width: int, config: AugmentConfig, generator: torch.Generator
) -> Tensor:
    """A sampling grid (1, H, W, 2) in grid_sample's [-1, 1] coordinates: TPS, rotation, flips."""
    ys = torch.linspace(-1, 1, height)
    xs = torch.linspace(-1, 1, width)
    points = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).view(-1, 2)

    corners = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0], [1.0, 1.0]])
    n = config.tps_inner_points
    inner_axis = torch.linspace(-1, 1, n + 2)[1:-1]
    inner = torch.stack(torch.meshgrid(inner_axis, inner_axis, indexing="xy"), -1).view(-1, 2)
    # A fraction of the size is twice that in [-1, 1] coordinates.
    shift = _uniform(generator, -2 * config.tps_shift, 2 * config.tps_shift, n * n, 2)
    source = torch.cat([corners, inner])
    target = torch.cat([corners, inner + shift])
    warped = thin_plate_spline(source, target, points)

    angle = math.radians(float(_uniform(generator, -1, 1)) * config.rotation_degrees)
    # Rotate in pixel units, so a non-square crop is rotated, not sheared.
    scale = torch.tensor([width / 2, height / 2])
    cos, sin = math.cos(angle), math.sin(angle)
    rotation = torch.tensor([[cos, -sin], [sin, cos]])
    warped = ((warped * scale) @ rotation.T) / scale
    if config.flips:
        flip = torch.where(torch.rand(2, generator=generator) < 0.5, -1.0, 1.0)
        warped = warped * flip
    return warped.view(1, height, width, 2)


def make_reference(image: Tensor, config: AugmentConfig, generator: torch.Generator) -> Tensor:
    """(3, H, W) RGB in [0, 1] -> a warped, rotated, flipped, noisy copy (3, H, W) in [0, 1]."""
    height, width = image.shape[-2:]
    grid = random_warp_grid(height, width, config, generator)
    # Reflection, not zeros: black corners would add a colour the ground truth does not have.
    warped = F.grid_sample(
        image[None], grid, mode="bilinear", padding_mode="reflection", align_corners=True
    )[0]
    noise = _uniform(generator, -config.noise, config.noise, *warped.shape)
    return (warped + noise).clamp(0, 1)
