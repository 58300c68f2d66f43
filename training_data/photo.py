"""The record every step of the preparation passes along: one candidate photo."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Photo:
    """One candidate photo: its bytes, where it came from, and what it looks like."""

    name: str  # output file name, unique and stable across runs
    data: bytes
    source_package: str
    source_path: str
    licence: str
    credits: dict[str, object] = field(default_factory=dict)  # copyright holder, notes
    excluded_as: str = ""  # a reason the source gives to leave it out, e.g. "painting"
    width: int = 0
    height: int = 0
    dhash: int = 0
    thumb: np.ndarray | None = field(default=None, repr=False)

    @property
    def pixels(self) -> int:
        return self.width * self.height
