"""Training losses (paper section 3.4): smooth-L1 on ab plus a VGG perceptual L1."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.pretrained import vgg_features

# torchvision VGG-16 `features` indices of the ReLUs the perceptual loss can read.
VGG16_RELU = {"relu1_2": 3, "relu2_2": 8, "relu3_2": 13, "relu4_2": 20, "relu5_2": 27}
# The paper: relu5_2 alone. The authors' code: relu1_2 .. relu5_2 weighted 1/32 .. 1.
PERCEPTUAL_LAYERS = {
    "paper": {"relu5_2": 1.0},
    "authors": {
        "relu1_2": 1 / 32,
        "relu2_2": 1 / 16,
        "relu3_2": 1 / 8,
        "relu4_2": 1 / 4,
        "relu5_2": 1.0,
    },
}


def reconstruction_loss(predicted_ab: Tensor, true_ab: Tensor, ab_scale: float = 110.0) -> Tensor:
    """Smooth-L1 on ab in units of `ab_scale`, quadratic below one ab unit, linear above.

    Linear for visible errors, so uncertain pixels are not pulled to the average (grey)."""
    return F.smooth_l1_loss(predicted_ab / ab_scale, true_ab / ab_scale, beta=1 / ab_scale)


class PerceptualLoss(nn.Module):
    """Mean L1 between frozen ImageNet VGG-16 features of the prediction and the ground truth.

    The paper uses VGG-19 relu5_2; VGG-16 is the ImageNet VGG available offline.
    """

    def __init__(
        self, layers: dict[str, float] | str = "paper", vgg_weights: str | Path | None = None
    ) -> None:
        super().__init__()
        from model.pretrained import load_vgg_backbone

        self.layers = PERCEPTUAL_LAYERS[layers] if isinstance(layers, str) else dict(layers)
        unknown = set(self.layers) - set(VGG16_RELU)
        if unknown:
            raise ValueError(f"unknown perceptual layers {sorted(unknown)}")
        features = vgg_features("vgg16")
        load_vgg_backbone(features, "vgg16", vgg_weights)
        last = max(VGG16_RELU[name] for name in self.layers)
        self.features = features[: last + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        return super().train(False)  # frozen: always in eval mode

    def _taps(self, rgb: Tensor) -> dict[int, Tensor]:
        wanted = {VGG16_RELU[name] for name in self.layers}
        taps, x = {}, (rgb - self.mean) / self.std
        for index, layer in enumerate(self.features):
            # The ReLUs work in place, but each acts on a fresh conv output, never on a tap.
            x = layer(x)
            if index in wanted:
                taps[index] = x
        return taps

    def forward(self, predicted_rgb: Tensor, true_rgb: Tensor) -> Tensor:
        predicted = self._taps(predicted_rgb)
        with torch.no_grad():
            true = self._taps(true_rgb)
        return sum(
            weight * F.l1_loss(predicted[VGG16_RELU[name]], true[VGG16_RELU[name]])
            for name, weight in self.layers.items()
        )
