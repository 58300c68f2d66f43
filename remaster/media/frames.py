"""A decoded frame as the stages pass it along: planes and timing, with no codec attached.

Its own module so that stages, methods and benchmarks can handle frames without importing PyAV
(remaster/media/video.py is the only module that does).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


@dataclass
class Picture:
    """One decoded frame: planes of 4:2:0 YUV and its timing, untouched.

    Planes are uint8 at 8 bits; deeper pictures (10-bit video, 16-bit scans) hold their code
    values in uint16, unscaled, so the luma passes through at the depth it came in.
    """

    index: int
    pts: int | None
    time_base: Fraction
    y: np.ndarray  # (H, W) uint8, or uint16 when bits > 8
    u: np.ndarray  # (H/2, W/2), as y
    v: np.ndarray
    bits: int = 8

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base) if self.pts is not None else float("nan")


@dataclass
class Prediction:
    """A batch of pictures and the colour predicted for them, before any planes."""

    pictures: list[Picture]
    lightness: torch.Tensor  # (B, 1, H, W) CIE L of the pictures' luma
    ab: torch.Tensor  # (B, 2, H, W)


@dataclass
class RgbFrame:
    """A coloured frame as whole RGB pixels, for an image-sequence output."""

    index: int
    pts: int | None
    time_base: Fraction
    rgb: np.ndarray  # (H, W, 3) uint8 or uint16
