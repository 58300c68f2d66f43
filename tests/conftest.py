"""Shared fixtures: checkpoints made on the fly, never downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.checkpoint import DEFAULT_WEIGHTS, save_checkpoint
from model.colorizer import Colorizer
from model.config import SMALL
from remaster.media.images import write_image
from tests.helpers import TINY, make_network
from tests.media import photo_like


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


@pytest.fixture(scope="module")
def small_frame_colorizer():
    """The shipped weights at a working size of 64: for tests of media forms, not of colour."""
    return Colorizer.from_checkpoint(DEFAULT_WEIGHTS, device="cpu", working_short_side=64)


@pytest.fixture(scope="module")
def photo_reference(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "ref.png"
    write_image(path, photo_like(144, 192, seed=9))
    return path
