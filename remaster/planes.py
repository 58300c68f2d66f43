"""Between video planes and the colorizer: luma -> CIE L, and predicted colour -> chroma planes.

The output keeps the input's luma plane byte for byte; only Cb and Cr are computed, from the
colour the network predicts, with the matrix and range the output is tagged with.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from model.color import gray_to_lightness

# (Kr, Kb) of the luma equations. FFmpeg's colorspace codes: 1 = BT.709, 5/6 = BT.601.
BT709 = (0.2126, 0.0722)
BT601 = (0.299, 0.114)
COLORSPACE_BT709 = 1
COLORSPACE_BT601 = (5, 6)
COLOR_RANGE_FULL = 2  # AVCOL_RANGE_JPEG


def luma_coefficients(colorspace: int, height: int) -> tuple[float, float]:
    """The input's matrix; untagged video follows the usual convention (HD 709, SD 601)."""
    if colorspace == COLORSPACE_BT709:
        return BT709
    if colorspace in COLORSPACE_BT601:
        return BT601
    return BT709 if height >= 720 else BT601


def lightness_from_luma(luma: Tensor, full_range: bool) -> Tensor:
    """(B, H, W) uint8 luma -> (B, 1, H, W) CIE L in [0, 100] of the grey it displays as."""
    grey = luma.float() / 255 if full_range else (luma.float() - 16) / 219
    return gray_to_lightness(grey.clamp(0, 1).unsqueeze(1))


def chroma_from_rgb(
    rgb: Tensor, coefficients: tuple[float, float], full_range: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(B, 3, H, W) sRGB in [0, 1] -> Cb, Cr planes (B, H/2, W/2) uint8, 2x2 averaged (4:2:0)."""
    kr, kb = coefficients
    red, green, blue = rgb.unbind(dim=1)
    luma = kr * red + (1 - kr - kb) * green + kb * blue
    cb = (blue - luma) / (2 * (1 - kb))
    cr = (red - luma) / (2 * (1 - kr))
    chroma = F.avg_pool2d(torch.stack([cb, cr], dim=1), 2)
    scale = 255.0 if full_range else 224.0
    planes = (chroma * scale + 128).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
    return planes[:, 0], planes[:, 1]


def rgb_from_planes(
    y: np.ndarray, u: np.ndarray, v: np.ndarray, coefficients: tuple[float, float], full_range: bool
) -> np.ndarray:
    """4:2:0 planes (H, W), (H/2, W/2), (H/2, W/2) uint8 -> (H, W, 3) sRGB uint8.

    The inverse of `planes_from_rgb`, with the chroma upsampled bilinearly; the one conversion
    used wherever remaster turns video planes into pictures (scoring, references from frames).
    """
    kr, kb = coefficients
    luma = torch.from_numpy(y).float()
    chroma = torch.from_numpy(np.stack([u, v])).float()[None]
    chroma = F.interpolate(chroma, size=y.shape, mode="bilinear", align_corners=False)[0]
    if full_range:
        luma, chroma = luma / 255, (chroma - 128) / 255
    else:
        luma, chroma = (luma - 16) / 219, (chroma - 128) / 224
    cb, cr = chroma.unbind(0)
    red = luma + 2 * (1 - kr) * cr
    blue = luma + 2 * (1 - kb) * cb
    green = (luma - kr * red - kb * blue) / (1 - kr - kb)
    rgb = torch.stack([red, green, blue], dim=-1)
    return (rgb * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def planes_from_rgb(
    rgb: np.ndarray, coefficients: tuple[float, float], full_range: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, 3) sRGB uint8, H and W even -> Y (H, W), Cb and Cr (H/2, W/2) uint8 planes."""
    kr, kb = coefficients
    picture = torch.from_numpy(np.ascontiguousarray(rgb)).float().permute(2, 0, 1)[None] / 255
    red, green, blue = picture.unbind(dim=1)
    luma = kr * red + (1 - kr - kb) * green + kb * blue
    scale, offset = (255.0, 0.0) if full_range else (219.0, 16.0)
    y = (luma[0] * scale + offset).round().clamp(0, 255).to(torch.uint8).numpy()
    cb, cr = chroma_from_rgb(picture, coefficients, full_range)
    return y, cb[0], cr[0]
