"""Validation metrics: mean CIE76 Delta-E and PSNR, for the model and two simple baselines."""

from __future__ import annotations

import torch
from torch import Tensor

from model.color import lab_to_rgb, rgb_to_lab
from model.network import Color2Embed


def delta_e(predicted_rgb: Tensor, true_rgb: Tensor) -> Tensor:
    """Mean CIE76 colour difference per image, (N,), both (N, 3, H, W) sRGB in [0, 1]."""
    difference = rgb_to_lab(predicted_rgb) - rgb_to_lab(true_rgb)
    return difference.square().sum(dim=1).sqrt().mean(dim=(1, 2))


def psnr(predicted_rgb: Tensor, true_rgb: Tensor) -> Tensor:
    """PSNR in dB per image, (N,), on sRGB in [0, 1]."""
    mse = (predicted_rgb - true_rgb).square().mean(dim=(1, 2, 3)).clamp(min=1e-10)
    return -10 * torch.log10(mse)


def colour_with_ab(lightness: Tensor, ab: Tensor) -> Tensor:
    return lab_to_rgb(torch.cat([lightness, ab.expand(-1, -1, *lightness.shape[-2:])], dim=1))


@torch.no_grad()
def evaluate(
    network: Color2Embed, truths: Tensor, references: Tensor, batch_size: int = 8
) -> dict[str, dict[str, float]]:
    """Mean Delta-E and PSNR over (truth, reference) pairs for the network and two baselines:
    "grey" (ab = 0) and "reference mean" (the reference's mean ab everywhere)."""
    network.eval()
    device = next(network.parameters()).device
    scores: dict[str, dict[str, list[Tensor]]] = {}
    for start in range(0, len(truths), batch_size):
        truth = truths[start : start + batch_size].to(device)
        reference = references[start : start + batch_size].to(device)
        lightness = rgb_to_lab(truth)[:, :1]
        mean_ab = rgb_to_lab(reference)[:, 1:].mean(dim=(2, 3), keepdim=True)
        outputs = {
            "model": colour_with_ab(lightness, network(lightness, reference)),
            "grey": colour_with_ab(lightness, torch.zeros_like(mean_ab)),
            "reference mean": colour_with_ab(lightness, mean_ab),
        }
        for name, output in outputs.items():
            entry = scores.setdefault(name, {"delta_e": [], "psnr": []})
            entry["delta_e"].append(delta_e(output, truth).cpu())
            entry["psnr"].append(psnr(output, truth).cpu())
    return {
        name: {metric: torch.cat(values).mean().item() for metric, values in entry.items()}
        for name, entry in scores.items()
    }
