"""Building blocks: the modulated convolution (paper Eq. 4-7), the residual block, and the stack
that runs a convolution and its leaky ReLU as one operation where that pays."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def leaky_relu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class ConvStack(nn.Sequential):
    """An nn.Sequential (the same layers under the same names, so the same checkpoints) that,
    in bf16 inference on a CPU, runs each convolution followed by a leaky ReLU as one oneDNN
    operation: the activation is applied as the convolution writes its output, not in a pass of
    its own over bf16, which torch runs at about a third of float32's speed. The network's
    decoding of four of the example reel's frames (455x256, 19 such pairs) took 64.6 / 49.4 ms a
    frame with the two apart, 44.2 / 43.3 as one, alternating (this 2-core CPU with AMX; the ab
    within bf16's rounding, 0.004 apart on average). Anywhere else (training, float32, a GPU)
    it is the plain nn.Sequential."""

    def forward(self, x: Tensor) -> Tensor:
        if not pairs_fuse(x):
            return super().forward(x)
        layers, index = list(self), 0
        while index < len(layers):
            layer = layers[index]
            following = layers[index + 1] if index + 1 < len(layers) else None
            if isinstance(following, nn.LeakyReLU) and plain_conv(layer):
                x = conv_leaky_relu(x, layer, following.negative_slope)
                index += 2
            else:
                x = layer(x)
                index += 1
        return x


def pairs_fuse(x: Tensor) -> bool:
    """Whether ConvStack runs its pairs fused here: bf16 autocast on a CPU, no gradient,
    oneDNN's operation at hand."""
    return (
        x.device.type == "cpu"
        and not torch.is_grad_enabled()
        and torch.is_autocast_enabled("cpu")
        and torch.get_autocast_dtype("cpu") == torch.bfloat16
        and fused_operation_runs()
    )


def plain_conv(layer: nn.Module) -> bool:
    """A 2-D convolution with numeric zero padding, as oneDNN's fused operation takes it."""
    return (
        type(layer) is nn.Conv2d
        and layer.padding_mode == "zeros"
        and not isinstance(layer.padding, str)
    )


def conv_leaky_relu(x: Tensor, conv: nn.Conv2d, slope: float) -> Tensor:
    """leaky_relu(conv(x)) in bf16, as one oneDNN operation (the one torch.compile's CPU backend
    emits for the pair)."""
    dtype = torch.bfloat16
    bias = None if conv.bias is None else conv.bias.to(dtype)
    return torch.ops.mkldnn._convolution_pointwise(
        x.to(dtype),
        conv.weight.to(dtype),
        bias,
        list(conv.padding),
        list(conv.stride),
        list(conv.dilation),
        conv.groups,
        "leaky_relu",
        [slope],
        "",
    )


@functools.cache
def fused_operation_runs() -> bool:
    """Whether this torch has oneDNN's fused convolution and it runs on this CPU (tried once on
    a small input; without it ConvStack runs the layers apart)."""
    try:
        conv = nn.Conv2d(2, 2, 3, padding=1)
        with torch.no_grad():
            conv_leaky_relu(torch.ones(1, 2, 4, 4), conv, 0.2)
    except (AttributeError, RuntimeError, NotImplementedError):
        return False
    return True


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
        self.body = ConvStack(
            nn.Conv2d(channels, channels, 3, padding=1),
            leaky_relu(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.act = leaky_relu()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(x + self.body(x))
