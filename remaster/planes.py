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
