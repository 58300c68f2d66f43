"""Color2Embed: colour encoder E_c, content encoder E_s and the PFFN decoder (paper Fig. 2-3).

The network's two halves are separate methods, because a film shot shares one reference:
`embed(reference)` runs once per shot and `decode(L, embedding)` once per frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.color import lightness_to_gray, rgb_to_lab
from model.config import ModelConfig
from model.efficientnet import load_pretrained
from model.layers import ConvStack, ModulatedConv2d, ResidualBlock, leaky_relu
from model.pretrained import load_vgg_backbone, vgg_features


@dataclass
class ColorEmbedding:
    """What a reference contributes: z (B, z_dim) and its mean ab (B, 2) in Lab units."""

    z: Tensor
    mean_ab: Tensor

    def mean(self, weights: Tensor | None = None) -> ColorEmbedding:
        """One embedding (batch 1) for several references of one shot: the mean of theirs,
        weighted by `weights` (B, summing to 1) where given."""
        if weights is None:
            weights = torch.full((len(self.z),), 1 / len(self.z), device=self.z.device)
        weights = weights.to(self.z.device, self.z.dtype)[:, None]
        return ColorEmbedding(
            z=(weights * self.z).sum(dim=0, keepdim=True),
            mean_ab=(weights * self.mean_ab).sum(dim=0, keepdim=True),
        )


@dataclass
class FoldedEmbedding:
    """One reference's modulated decoder weights, computed once and shared by a whole shot."""

    weights: list[Tensor]
    mean_ab: Tensor  # (1, 2)


def plain_features(channels: tuple[int, ...]) -> nn.Sequential:
    """A small from-scratch stack: per stage a stride-2 conv and a conv, down to 1/2^stages."""
    layers: list[nn.Module] = []
    in_channels = 3
    for width in channels:
        layers += [
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),
            leaky_relu(),
            nn.Conv2d(width, width, 3, padding=1),
            leaky_relu(),
        ]
        in_channels = width
    return nn.Sequential(*layers)


class ColorEncoder(nn.Module):
    """E_c: reference RGB -> z. Backbone, 4 convs (two of them stride 2), global pool, MLP."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.color_backbone == "plain":
            self.backbone = plain_features(config.plain_backbone_channels)
            backbone_channels = config.plain_backbone_channels[-1]
        else:
            self.backbone = vgg_features(config.color_backbone)
            backbone_channels = 512
        width = config.color_head_channels
        self.head = nn.Sequential(
            nn.Conv2d(backbone_channels, width, 4, stride=2, padding=1),
            leaky_relu(),
            nn.Conv2d(width, width, 3, padding=1),
            leaky_relu(),
            nn.Conv2d(width, width, 4, stride=2, padding=1),
            leaky_relu(),
            nn.Conv2d(width, width, 3, padding=1),
            leaky_relu(),
        )
        self.mlp = nn.Sequential(
            nn.Linear(width, config.mlp_hidden),
            leaky_relu(),
            nn.Linear(config.mlp_hidden, config.mlp_hidden),
            leaky_relu(),
            nn.Linear(config.mlp_hidden, config.z_dim),
        )

    def forward(self, normalised_rgb: Tensor) -> Tensor:
        features = self.head(self.backbone(normalised_rgb))
        return self.mlp(features.mean(dim=(2, 3)))


def input_block(channels: int) -> nn.Sequential:
    """Two 3x3 convs from L to `channels` full-resolution features."""
    return ConvStack(
        nn.Conv2d(1, channels, 3, padding=1),
        leaky_relu(),
        nn.Conv2d(channels, channels, 3, padding=1),
        leaky_relu(),
    )


def down_block(c_in: int, c_out: int, keeps_width: bool) -> nn.Sequential:
    """A 4x4 stride-2 conv and a residual block. With `keeps_width` (the authors' layout) the
    4x4 conv stays at c_in and a 1x1 conv sets the width, which costs far fewer MACs."""
    if keeps_width:
        return ConvStack(
            nn.Conv2d(c_in, c_in, 4, stride=2, padding=1),
            leaky_relu(),
            nn.Conv2d(c_in, c_out, 1),
            ResidualBlock(c_out),
        )
    return ConvStack(
        nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), leaky_relu(), ResidualBlock(c_out)
    )


class ContentEncoder(nn.Module):
    """E_s: L -> five feature maps at 1, 1/2, 1/4, 1/8, 1/16 of the input size."""

    def __init__(self, channels: tuple[int, ...], keeps_width: bool = False) -> None:
        super().__init__()
        self.input_block = input_block(channels[0])
        self.down_blocks = nn.ModuleList(
            down_block(c_in, c_out, keeps_width)
            for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
        )

    def forward(self, lightness: Tensor) -> list[Tensor]:
        features = [self.input_block(lightness)]
        for block in self.down_blocks:
            features.append(block(features[-1]))
        return features


class PretrainedContentEncoder(nn.Module):
    """E_s with ImageNet EfficientNet-Lite0 blocks for the 1/2..1/16 features.

    The full-resolution features come from a small block trained from scratch, as in the plain
    encoder. The backbone's batch-norm statistics stay frozen: a training batch of 16 grey crops
    would estimate them worse than ImageNet did."""

    TAPS = (0, 2, 4, 10)

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        from model.efficientnet import EfficientNetLite0

        self.input_block = input_block(channels[0])
        self.backbone = EfficientNetLite0(num_blocks=max(self.TAPS) + 1)

    def train(self, mode: bool = True) -> PretrainedContentEncoder:
        super().train(mode)
        for module in self.backbone.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def forward(self, normalised_lightness: Tensor) -> list[Tensor]:
        grey = lightness_to_gray((normalised_lightness + 1) * 50).expand(-1, 3, -1, -1)
        return [self.input_block(normalised_lightness), *self.backbone.features(grey, self.TAPS)]


class HintInjection(nn.Module):
    """The exemplar matcher's result added to the content features at every scale, through
    one 3x3 convolution per scale. The convolutions start at zero, so a network given hints
    starts as the same network without them; training teaches it where the match is right.
    No bias: all-zero hints (no match anywhere) leave the features exactly as they are."""

    def __init__(self, channels: tuple[int, ...], hint_channels: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(hint_channels, width, 3, padding=1, bias=False) for width in channels
        )
        for conv in self.convs:
            nn.init.zeros_(conv.weight)

    def forward(self, features: list[Tensor], hints: Tensor) -> list[Tensor]:
        injected = []
        for level, conv in zip(features, self.convs, strict=True):
            scaled = F.interpolate(
                hints.to(level.dtype), size=level.shape[-2:], mode="bilinear", antialias=True
            )
            injected.append(level + conv(scaled))
        return injected


class UpBlock(nn.Module):
    """G_i then F_i (Eq. 3): bilinear x2, concatenate the skip, merge, then the PFFB: the
    modulated conv plus a 1x1 shortcut.

    The merge is one 3x3 conv whose output also feeds the shortcut, or with `up_merge_1x1` the
    authors' layout: a 1x1 conv then a 3x3 conv at the output width, the shortcut reading the
    upsampled input. `skip_channel_stride` n keeps every n-th skip channel (the authors' 4)."""

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        kernel: int,
        config: ModelConfig,
    ) -> None:
        super().__init__()
        self.skip_stride = config.skip_channel_stride
        self.shortcut_reads_input = config.up_merge_1x1
        merged = in_channels + len(range(0, skip_channels, self.skip_stride))
        if config.up_merge_1x1:
            self.merge = ConvStack(
                nn.Conv2d(merged, out_channels, 1),
                leaky_relu(),
                nn.Conv2d(out_channels, out_channels, 3, padding=1),
                leaky_relu(),
            )
        else:
            self.merge = ConvStack(nn.Conv2d(merged, out_channels, 3, padding=1), leaky_relu())
        self.modulated = ModulatedConv2d(
            out_channels, out_channels, kernel, config.z_dim, config.demodulation_eps
        )
        shortcut_in = in_channels if self.shortcut_reads_input else out_channels
        self.shortcut = nn.Conv2d(shortcut_in, out_channels, 1)
        self.act = leaky_relu()

    def forward(
        self, x: Tensor, skip: Tensor, z: Tensor | None = None, weight: Tensor | None = None
    ) -> Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        merged = self.merge(torch.cat([x, skip[:, :: self.skip_stride]], dim=1))
        shortcut = self.shortcut(x if self.shortcut_reads_input else merged)
        return self.act(self.modulated(merged, z=z, weight=weight) + shortcut)


class Decoder(nn.Module):
    """G_PFFN: four up blocks driven by z, then a head that predicts ab in [-1, 1]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        content = config.content_channels
        blocks = []
        in_channels = content[-1]
        for i, (width, kernel) in enumerate(
            zip(config.decoder_channels, config.modulated_kernels, strict=True)
        ):
            skip_channels = content[-2 - i]
            blocks.append(UpBlock(in_channels, skip_channels, width, kernel, config))
            in_channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvStack(
            nn.Conv2d(in_channels, config.head_channels, 3, padding=1),
            leaky_relu(),
            nn.Conv2d(config.head_channels, 2, 3, padding=1),
        )

    def forward(
        self, features: list[Tensor], z: Tensor | None = None, weights: list[Tensor] | None = None
    ) -> Tensor:
        x = features[-1]
        for i, block in enumerate(self.blocks):
            weight = None if weights is None else weights[i]
            x = block(x, features[-2 - i], z=z, weight=weight)
        return torch.tanh(self.head(x))


class Color2Embed(nn.Module):
    """The whole network. Inputs and outputs are in natural units; the I/O contract in
    `config.io` is applied here, so training and inference cannot disagree about it."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.color_encoder = ColorEncoder(config)
        if config.content_backbone == "efficientnet_lite0":
            self.content_encoder = PretrainedContentEncoder(config.content_channels)
        else:
            self.content_encoder = ContentEncoder(config.content_channels, config.down_keeps_width)
        self.decoder = Decoder(config)
        self.hints = (
            HintInjection(config.content_channels, config.hint_channels)
            if config.hint_channels
            else None
        )
        io = config.io
        self.register_buffer("ref_mean", torch.tensor(io.reference_mean).view(1, 3, 1, 1), False)
        self.register_buffer("ref_std", torch.tensor(io.reference_std).view(1, 3, 1, 1), False)
        if config.residual_to_reference_mean:
            # A zero last layer makes the untrained network paint the reference's mean colour,
            # the trivial answer that training then improves on.
            nn.init.zeros_(self.decoder.head[-1].weight)
            nn.init.zeros_(self.decoder.head[-1].bias)

    def embed(self, reference_rgb: Tensor) -> ColorEmbedding:
        """(B, 3, H, W) sRGB in [0, 1], H and W >= 64 (256 by contract) -> ColorEmbedding (B)."""
        reference_rgb = reference_rgb.float()
        z = self.color_encoder((reference_rgb - self.ref_mean) / self.ref_std)
        mean_ab = rgb_to_lab(reference_rgb)[:, 1:].mean(dim=(2, 3))
        return ColorEmbedding(z=z, mean_ab=mean_ab)

    def fold(self, embedding: ColorEmbedding) -> FoldedEmbedding:
        """Modulate the decoder's weights once for a single embedding (batch 1)."""
        if embedding.z.shape[0] != 1:
            raise ValueError("fold takes one embedding; average several with ColorEmbedding.mean()")
        weights = [block.modulated.fold(embedding.z) for block in self.decoder.blocks]
        return FoldedEmbedding(weights=weights, mean_ab=embedding.mean_ab)

    def decode(
        self,
        lightness: Tensor,
        style: ColorEmbedding | FoldedEmbedding,
        hints: Tensor | None = None,
    ) -> Tensor:
        """(B, 1, H, W) L in [0, 100], H and W multiples of 16 -> (B, 2, H, W) ab in Lab units.

        `style` is per sample (ColorEmbedding of batch B, as in training) or folded
        (FoldedEmbedding, shared by every frame of the batch). `hints` (B, 3, h, w), for a
        network built with hint_channels, is the matcher's result (model/fusion.py); without
        them such a network colours as if nothing matched.
        """
        multiple = self.config.io.size_multiple
        if lightness.shape[-1] % multiple or lightness.shape[-2] % multiple:
            raise ValueError(
                f"decode needs H and W divisible by {multiple}, got {tuple(lightness.shape)}"
            )
        io = self.config.io
        features = self.content_encoder(lightness / io.l_scale - 1)
        if self.hints is not None and hints is not None:
            features = self.hints(features, hints)
        if isinstance(style, FoldedEmbedding):
            ab = self.decoder(features, weights=style.weights)
        else:
            ab = self.decoder(features, z=style.z)
        ab = ab.float()
        if self.config.residual_to_reference_mean:
            ab = (ab + style.mean_ab.view(-1, 2, 1, 1) / io.ab_scale).clamp(-1, 1)
        return ab * io.ab_scale

    def forward(
        self, lightness: Tensor, reference_rgb: Tensor, hints: Tensor | None = None
    ) -> Tensor:
        """Training path: each sample with its own reference. Returns ab in Lab units."""
        return self.decode(lightness, self.embed(reference_rgb), hints)


def build_network(config: ModelConfig, pretrained_vgg: str | Path | None = None) -> Color2Embed:
    """A fresh network for training: pretrained parts start from ImageNet weights. A VGG colour
    backbone takes the offline VGG-16 by default, or the torchvision VGG file at
    `pretrained_vgg`; an EfficientNet-Lite0 content backbone takes the offline Lite0."""
    network = Color2Embed(config)
    if config.color_backbone != "plain":
        load_vgg_backbone(network.color_encoder.backbone, config.color_backbone, pretrained_vgg)
    if config.content_backbone == "efficientnet_lite0":
        load_pretrained(network.content_encoder.backbone)
    return network
