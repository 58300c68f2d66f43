"""A decoded frame as the stages pass it along: planes and timing, with no codec attached.

Its own module so that stages, methods and benchmarks can handle frames without importing PyAV
(remaster/media.py is the only module that does).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass
class Picture:
    """One decoded frame: planes of 4:2:0 8-bit YUV and its timing, untouched."""

    index: int
    pts: int | None
    time_base: Fraction
    y: np.ndarray  # (H, W) uint8
    u: np.ndarray  # (H/2, W/2) uint8
    v: np.ndarray

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base) if self.pts is not None else float("nan")
