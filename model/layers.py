"""Building blocks: the modulated convolution (paper Eq. 4-7) and the residual block."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def leaky_relu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class ModulatedConv2d(nn.Module):
    """A StyleGAN2 modulated, demodulated convolution driven by a colour embedding z.

    w' = w * s * Linear(z) scales each input channel (Eq. 4); w'' = w' / sqrt(sum w'^2 + eps)
    normalises each output filter over (input channels, kH, kW) (Eq. 5-6).

    Two ways to run it, with the same result:
    - per sample (`forward(x, z=z)`): every sample has its own z, as in training; done as one
      grouped convolution with a filter bank per sample.
    - folded (`forward(x, weight=fold(z))`): one z for a whole shot; the weights are modulated
      once and every frame goes through an ordinary convolution, which is faster and lets a
      batch be any size.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, z_dim: int, eps: float
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.eps = eps
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        # s in Eq. 4: the equalised learning-rate constant, so the weights start at unit scale.
        self.scale = 1 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.affine = nn.Linear(z_dim, in_channels)
        # Start as the identity modulation (every channel scaled by 1), as StyleGAN2 does.
        nn.init.zeros_(self.affine.weight)
        nn.init.ones_(self.affine.bias)

    def modulated_weights(self, z: Tensor) -> Tensor:
        """z (B, z_dim) -> per-sample weights (B, out, in, k, k)."""
        style = self.affine(z).view(-1, 1, self.in_channels, 1, 1)
        weight = self.weight.unsqueeze(0) * self.scale * style
        demod = torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + self.eps)
        return weight * demod

    def fold(self, z: Tensor) -> Tensor:
        """z (1, z_dim) or (z_dim,) -> one weight tensor (out, in, k, k) for a whole shot."""
        return self.modulated_weights(z.reshape(1, -1))[0]

    def forward(self, x: Tensor, z: Tensor | None = None, weight: Tensor | None = None) -> Tensor:
        """x (B, in, H, W) with either z (B, z_dim) or a folded weight -> (B, out, H, W)."""
        padding = self.kernel_size // 2
        if weight is not None:
            return F.conv2d(x, weight.to(x.dtype), self.bias.to(x.dtype), padding=padding)
        if z is None:
            raise ValueError("ModulatedConv2d needs either z or a folded weight")
        batch, _, height, width = x.shape
        if z.shape[0] != batch:
            raise ValueError(
                f"per-sample modulation needs one z per sample: {z.shape[0]} != {batch}"
            )
        weights = self.modulated_weights(z).to(x.dtype)
        weights = weights.reshape(batch * self.out_channels, self.in_channels, *weights.shape[-2:])
        out = F.conv2d(x.reshape(1, -1, height, width), weights, padding=padding, groups=batch)
        out = out.view(batch, self.out_channels, height, width)
        return out + self.bias.to(x.dtype).view(1, -1, 1, 1)


class ResidualBlock(nn.Module):
    """conv3x3 - LeakyReLU - conv3x3, added to the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            leaky_relu(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.act = leaky_relu()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.body(x))
