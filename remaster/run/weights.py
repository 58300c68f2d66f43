"""Which checkpoint a run uses: the one given, or the weights shipped with remaster."""

from __future__ import annotations

from pathlib import Path

from model.checkpoint import DEFAULT_WEIGHTS
from remaster.errors import InputError


def resolve_weights(weights: Path | None) -> Path:
    if weights is not None:
        return weights
    if not DEFAULT_WEIGHTS.is_file():
        raise InputError(
            f"no --weights given and no shipped weights at {DEFAULT_WEIGHTS}; "
            "pass --weights PATH (python -m model.checkpoint init writes an untrained one)"
        )
    return DEFAULT_WEIGHTS
