"""Between video planes and the colorizer: luma -> CIE L, and predicted colour -> chroma planes.

The output keeps the input's luma plane byte for byte; only Cb and Cr are computed, from the
colour the network predicts, with the matrix and range the output is tagged with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from model.color import gray_to_lightness, lab_to_rgb
from remaster.media.frames import Picture, Prediction, RgbFrame

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


def grey_from_luma(luma: Tensor, full_range: bool, bits: int = 8) -> Tensor:
    """Luma code values (uint8, or uint16 holding `bits` bits) -> the grey in [0, 1] they
    display as. Limited range scales with depth: 16-235 at 8 bits is 64-940 at 10."""
    if full_range:
        return luma.float() / (2**bits - 1)
    step = 2 ** (bits - 8)
    return (luma.float() - 16 * step) / (219 * step)


def luma_from_grey(grey: Tensor, full_range: bool, bits: int) -> np.ndarray:
    """The inverse of grey_from_luma, rounded: uint8 planes at 8 bits, uint16 above."""
    if full_range:
        codes = grey * (2**bits - 1)
    else:
        step = 2 ** (bits - 8)
        codes = grey * (219 * step) + 16 * step
    dtype = torch.uint8 if bits == 8 else torch.int32
    codes = codes.round().clamp(0, 2**bits - 1).to(dtype).cpu().numpy()
    return codes if bits == 8 else codes.astype(np.uint16)


def lightness_from_luma(luma: Tensor, full_range: bool, bits: int = 8) -> Tensor:
    """(B, H, W) luma of `bits` bits -> (B, 1, H, W) CIE L in [0, 100] of the grey it shows."""
    return gray_to_lightness(grey_from_luma(luma, full_range, bits).clamp(0, 1).unsqueeze(1))


def chroma_from_rgb(
    rgb: Tensor, coefficients: tuple[float, float], full_range: bool, bits: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """(B, 3, H, W) sRGB in [0, 1] -> Cb, Cr planes (B, H/2, W/2), 2x2 averaged (4:2:0):
    uint8 at 8 bits, uint16 holding `bits` bits above."""
    kr, kb = coefficients
    red, green, blue = rgb.unbind(dim=1)
    luma = kr * red + (1 - kr - kb) * green + kb * blue
    cb = (blue - luma) / (2 * (1 - kb))
    cr = (red - luma) / (2 * (1 - kr))
    chroma = F.avg_pool2d(torch.stack([cb, cr], dim=1), 2)
    if bits == 8:
        scale = 255.0 if full_range else 224.0
        planes = (chroma * scale + 128).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        return planes[:, 0], planes[:, 1]
    step = 2 ** (bits - 8)
    scale = (2**bits - 1) if full_range else 224.0 * step
    codes = (chroma * scale + 128 * step).round().clamp(0, 2**bits - 1)
    planes = codes.to(torch.int32).cpu().numpy().astype(np.uint16)
    return planes[:, 0], planes[:, 1]


def rgb_keeping_grey(
    rgb: Tensor, grey: Tensor, coefficients: tuple[float, float], bits: int
) -> np.ndarray:
    """(B, 3, H, W) predicted sRGB in [0, 1] and (B, H, W) grey in [0, 1] -> (B, H, W, 3)
    integer RGB of `bits` bits whose luma, Kr R + Kg G + Kb B rounded, is grey x (2^bits - 1)
    exactly wherever that is a whole number (a grey read from a file of the same depth).

    The colour's own luma is replaced by the grey (shifting all three channels alike keeps
    Cb and Cr), a colour outside the cube is desaturated toward its grey until it fits, then
    red and blue are rounded and green is solved for the grey: green's rounding moves the luma
    by at most Kg / 2 < 0.5 of a code value. Rounding red and blue moves green's solution by at
    most (Kr + Kb) / (2 Kg) < 0.5, so it stays inside the cube once rounded.
    """
    kr, kb = coefficients
    kg = 1 - kr - kb
    maximum = 2**bits - 1
    rgb, grey = rgb.double(), grey.double().clamp(0, 1).unsqueeze(1)
    luma = kr * rgb[:, :1] + kg * rgb[:, 1:2] + kb * rgb[:, 2:]
    rgb = rgb + (grey - luma)
    excess = rgb - grey
    room = torch.where(excess > 0, 1 - grey, grey)
    fit = torch.where(excess.abs() > 1e-12, room / excess.abs().clamp(min=1e-12), 1.0)
    rgb = grey + excess * fit.amin(dim=1, keepdim=True).clamp(max=1)
    target = grey[:, 0] * maximum
    red = (rgb[:, 0] * maximum).round().clamp(0, maximum)
    blue = (rgb[:, 2] * maximum).round().clamp(0, maximum)
    green = ((target - kr * red - kb * blue) / kg).round().clamp(0, maximum)
    codes = torch.stack([red, green, blue], dim=-1).to(torch.int32).cpu().numpy()
    return codes.astype(np.uint8 if bits == 8 else np.uint16)


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


BAND_ROWS = 256  # even, so no 2x2 chroma block straddles two bands


def chroma_planes(
    predictions: Iterable[Prediction],
    coefficients: tuple[float, float],
    full_range: bool,
    bits: int = 8,
    luma: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Iterator[Picture]:
    """New chroma planes of `bits` bits for each frame; the timestamps pass untouched, and so
    does the luma plane unless `luma` converts it to the output's depth and range (a scan
    written as video, 10-bit video written as 8-bit H.264)."""
    settings = (coefficients, full_range, bits)
    for prediction in predictions:
        # In bands of rows: every step is per pixel or per 2x2 block, so the planes are the
        # same, and an 8K frame's float RGB and its temporaries (3 GB) never exist whole.
        lab = torch.cat([prediction.lightness, prediction.ab], dim=1)
        bands = [
            chroma_from_rgb(lab_to_rgb(lab[..., top : top + BAND_ROWS, :]), *settings)
            for top in range(0, lab.shape[-2], BAND_ROWS)
        ]
        cb = np.concatenate([band[0] for band in bands], axis=1)
        cr = np.concatenate([band[1] for band in bands], axis=1)
        for picture, u, v in zip(prediction.pictures, cb, cr, strict=True):
            y = picture.y if luma is None else luma(picture.y)
            yield Picture(picture.index, picture.pts, picture.time_base, y, u, v, bits)


def rgb_frames(
    predictions: Iterable[Prediction],
    coefficients: tuple[float, float],
    full_range: bool,
    source_bits: int,
    bits: int,
) -> Iterator[RgbFrame]:
    """RGB of `bits` bits for each frame whose luma (by `coefficients`) is the input's grey:
    exactly, when the input is a scan of the same depth (planes.rgb_keeping_grey)."""
    for prediction in predictions:
        rgb = lab_to_rgb(torch.cat([prediction.lightness, prediction.ab], dim=1))
        luma = np.stack([picture.y for picture in prediction.pictures]).astype(np.int32)
        grey = grey_from_luma(torch.from_numpy(luma), full_range, source_bits)
        images = rgb_keeping_grey(rgb.cpu(), grey, coefficients, bits)
        for picture, image in zip(prediction.pictures, images, strict=True):
            yield RgbFrame(picture.index, picture.pts, picture.time_base, image)


def grey_rgb(picture: Picture, full_range: bool) -> np.ndarray:
    """The frame as the grey it shows, in three channels: what a colorist paints over."""
    luma = torch.from_numpy(picture.y.astype(np.int32))
    grey = grey_from_luma(luma, full_range, picture.bits).clamp(0, 1)
    grey8 = (grey * 255).round().to(torch.uint8).numpy()
    return np.repeat(grey8[..., None], 3, axis=2)
