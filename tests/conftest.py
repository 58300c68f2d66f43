"""Shared fixtures: checkpoints made on the fly, never downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.checkpoint import save_checkpoint
from model.config import SMALL
from tests.helpers import TINY, make_network


@pytest.fixture(scope="session")
def small_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised small-preset checkpoint on disk (until trained weights exist)."""
    path = tmp_path_factory.mktemp("weights") / "small.safetensors"
    save_checkpoint(path, make_network(SMALL), {"trained": False})
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_checkpoint(path, make_network(TINY), {"trained": False})
    return path
