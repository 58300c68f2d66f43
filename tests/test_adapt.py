"""Per-shot adaptation: a copy of the network learns its references; the original is untouched."""

import numpy as np
import torch

from model.adapt import adapt
from model.checkpoint import load_checkpoint
from model.color import rgb_to_lab
from model.colorizer import Colorizer
from tests.media import photo_like


def reconstruction_error(colorizer: Colorizer, rgb: np.ndarray) -> float:
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)
    ab = colorizer.colorize(lab[:, :1], colorizer.embed(rgb))
    return float((ab - lab[:, 1:]).square().sum(1).sqrt().mean())


def test_adapting_learns_the_references_and_leaves_the_network_alone(tiny_checkpoint):
    network, _ = load_checkpoint(tiny_checkpoint)
    colorizer = Colorizer(network, "cpu", working_short_side=64)
    before = {name: value.clone() for name, value in network.state_dict().items()}
    reference = photo_like(64, 96, seed=3)
    # An untrained network needs a livelier rate than the shipped one's gentle refinement.
    adapted = adapt(colorizer, [reference], steps=30, learning_rate=2e-3)
    assert adapted.loss_last < adapted.loss_first
    assert reconstruction_error(adapted.colorizer, reference) < 0.8 * reconstruction_error(
        colorizer, reference
    )
    for name, value in colorizer.network.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert not adapted.colorizer.network.training
