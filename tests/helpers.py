"""Small networks for tests, built on the fly."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import torch

from model.config import SMALL, ModelConfig
from model.network import Color2Embed

# A few-thousand-parameter network with the small preset's shape, for fast unit tests.
TINY = dataclasses.replace(
    SMALL,
    preset="tiny",
    plain_backbone_channels=(8, 8, 16, 16),
    color_head_channels=16,
    mlp_hidden=16,
    z_dim=16,
    content_channels=(8, 8, 16, 16, 16),
    decoder_channels=(16, 8, 8, 8),
    head_channels=8,
)


def randomise_modulation(network: Color2Embed, seed: int = 0) -> Color2Embed:
    """Give z a real effect and the head a non-zero output.

    A fresh network starts with identity modulation and a zero head, where z cannot matter and
    tests comparing two ways of applying z could not fail."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in network.decoder.blocks:
            affine = block.modulated.affine
            affine.weight.copy_(torch.randn(affine.weight.shape, generator=generator) * 0.5)
        last = network.decoder.head[-1]
        last.weight.copy_(torch.randn(last.weight.shape, generator=generator) * 0.1)
    return network


def make_network(config: ModelConfig = TINY, seed: int = 0) -> Color2Embed:
    torch.manual_seed(seed)
    return randomise_modulation(Color2Embed(config), seed).eval()


def run_remaster(*args) -> subprocess.CompletedProcess:
    """`remaster ARGS` in a real process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "remaster", *map(str, args)], capture_output=True, text=True
    )
