"""The colour path on tensors from luma to ab (flows, warps, checks, stabilisation on the
colorizer's device) gives what the numpy and OpenCV path gave before it.

tests/data/propagation-numpy.npz holds that path's ab for 8 real frames of the example reel
(frames 40-47, 128x72, the shipped weights at a working size of 64, cockatoo.jpg as the
reference, in batches of 4 with a track, stabilisation 0.5), for `auto` and `embed`: what
`ColorPredictor.predict` returned when propagation still ran in numpy with cv2.remap."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import model.colorizer
from model.checkpoint import DEFAULT_WEIGHTS
from model.colorizer import Colorizer
from remaster.color.predictor import ColorPredictor
from remaster.media.images import read_reference
from remaster.media.planes import lightness_from_luma

ROOT = Path(__file__).resolve().parent.parent
BEFORE = ROOT / "tests" / "data" / "propagation-numpy.npz"
# How far the device path may land from the numpy one, in ab units (of about +-110; measured
# mean 0.013 for auto, 0.0025 for embed, 99.99% within 1): cv2.remap
# rounds positions to 1/32 pixel and 8-bit pictures to whole levels, grid_sample does not.
MEAN_TOLERANCE, CLOSE_SHARE = 0.05, 0.999


@pytest.fixture(scope="module")
def before():
    return np.load(BEFORE)


@pytest.fixture(autouse=True)
def float32(monkeypatch):
    """The snapshot was made with the network and VGG in float32; on a CPU with AMX they run in
    bf16 (half_precision), whose own difference tests/test_shipped_weights.py holds."""
    monkeypatch.setattr(model.colorizer, "cpu_has_amx", lambda: False)


@pytest.mark.parametrize("method", ["auto", "embed"])
def test_the_device_path_gives_the_numpy_paths_colour(before, method):
    colorizer = Colorizer.from_checkpoint(DEFAULT_WEIGHTS, "cpu", working_short_side=64)
    lightness = lightness_from_luma(torch.from_numpy(before["luma"]), full_range=False)
    predictor = ColorPredictor(colorizer, method)
    reference = read_reference(ROOT / "examples" / "film" / "refs" / "cockatoo.jpg")
    guide = predictor.guide(cv2.resize(reference, (128, 72), interpolation=cv2.INTER_AREA))
    track = predictor.track(guide, (), 0.5)
    abs_, sources = [], []
    for k in range(0, len(lightness), 4):
        coloring = predictor.predict(
            lightness[k : k + 4], guide, track, list(range(40 + k, 44 + k))
        )
        track = coloring.track
        abs_.append(coloring.ab)
        sources += coloring.sources
    difference = (torch.cat(abs_).numpy() - before[method].astype(np.float32)).__abs__()
    assert sources == ["propagate" if method == "auto" else "embed"] * 8
    assert difference.mean() < MEAN_TOLERANCE
    assert (difference < 1.0).mean() > CLOSE_SHARE
