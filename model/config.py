"""Architecture presets and the network's input/output contract.

A checkpoint stores its `ModelConfig` and `IOContract` as JSON, so loading never needs the
caller to repeat a hyperparameter, and a file trained with one contract is never run with another.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IOContract:
    """How pixels enter and leave the network.

    - L in [0, 100] enters as L / `l_scale` - 1, i.e. [-1, 1] with the default 50.
    - ab leaves the network in units of `ab_scale` (tanh output x 110).
    - The reference RGB in [0, 1] is normalised with ImageNet mean/std, the statistics the
      pretrained VGG colour encoder was trained with.
    - The network runs at a working size: the short side is resized to `working_short_side`
      (aspect kept) and both sides padded up to a multiple of `size_multiple`.
    """

    l_scale: float = 50.0
    ab_scale: float = 110.0
    reference_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    reference_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    working_short_side: int = 256
    reference_short_side: int = 256
    size_multiple: int = 16


# EfficientNet-Lite0's widths after blocks 0, 2, 4 and 10: at 1/2, 1/4, 1/8 and 1/16 of the input.
LITE0_CONTENT_CHANNELS = (16, 24, 40, 112)


@dataclass(frozen=True)
class ModelConfig:
    """One Color2Embed architecture.

    color_backbone: "vgg16" or "vgg19" (a VGG stack up to relu5_2, as in the paper) or "plain"
    (a small stride-2 conv stack trained from scratch, for the CPU preset).
    content_backbone: "plain" (the paper's U-Net down path) or "efficientnet_lite0" (ImageNet
    EfficientNet-Lite0 blocks on the grey input for the 1/2..1/16 features, whose widths are
    then fixed at 16, 24, 40, 112).
    residual_to_reference_mean: predict ab as a residual around the reference's mean ab, so an
    untrained or unsure network falls back to the reference's global colour instead of grey.
    hint_channels: 0, or 3 for a network that also reads the exemplar matcher's result (matched
    ab and the blend's weight, model/fusion.py) and learns to correct the blend: the learned
    fusion.

    The paper preset follows the authors' public code, whose blocks cost fewer MACs than ours at
    the same widths. Three fields select them; they default off, the layout of small, lite and
    checkpoints saved before the fields existed:
    down_keeps_width: a down block of the plain content encoder keeps the width in its 4x4
    stride-2 conv and sets it with a 1x1 conv after (a 4x4 conv costs sixteen 1x1 convs).
    up_merge_1x1: an up block merges the upsampled features and the skip in a 1x1 conv before its
    3x3 conv, and its 1x1 shortcut reads the upsampled features; otherwise one 3x3 conv merges
    them and the shortcut reads its output.
    skip_channel_stride: an up block takes every n-th channel of its skip (the authors' 4).
    """

    preset: str
    color_backbone: str
    plain_backbone_channels: tuple[int, ...] = ()
    color_head_channels: int = 512
    mlp_hidden: int = 256
    z_dim: int = 512
    content_backbone: str = "plain"
    content_channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    decoder_channels: tuple[int, ...] = (256, 128, 64, 64)
    modulated_kernels: tuple[int, ...] = (3, 3, 5, 5)
    head_channels: int = 64
    residual_to_reference_mean: bool = False
    demodulation_eps: float = 1e-8
    hint_channels: int = 0
    down_keeps_width: bool = False
    up_merge_1x1: bool = False
    skip_channel_stride: int = 1
    io: IOContract = field(default_factory=IOContract)

    def __post_init__(self) -> None:
        if self.color_backbone not in ("vgg16", "vgg19", "plain"):
            raise ValueError(f"unknown color_backbone {self.color_backbone!r}")
        if self.color_backbone == "plain" and not self.plain_backbone_channels:
            raise ValueError("the plain colour backbone needs plain_backbone_channels")
        if self.content_backbone not in ("plain", "efficientnet_lite0"):
            raise ValueError(f"unknown content_backbone {self.content_backbone!r}")
        if (
            self.content_backbone == "efficientnet_lite0"
            and tuple(self.content_channels[1:]) != LITE0_CONTENT_CHANNELS
        ):
            raise ValueError(
                f"efficientnet_lite0 content needs channels (x, {LITE0_CONTENT_CHANNELS})"
            )
        if len(self.content_channels) != 5:
            raise ValueError("content_channels needs 5 entries (input block + 4 down blocks)")
        if self.hint_channels not in (0, 3):
            raise ValueError("hint_channels is 0 (no hints) or 3 (matched ab and blend weight)")
        if not len(self.decoder_channels) == len(self.modulated_kernels) == 4:
            raise ValueError("decoder_channels and modulated_kernels need 4 entries each")
        if self.skip_channel_stride < 1:
            raise ValueError("skip_channel_stride is 1 (every skip channel) or more")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ModelConfig:
        values = coerce_fields(cls, {k: v for k, v in raw.items() if k != "io"})
        return cls(**values, io=IOContract(**coerce_fields(IOContract, raw.get("io", {}))))


def coerce_fields(cls: type, raw: dict[str, Any]) -> dict[str, Any]:
    """Check the names, then lists to tuples and numbers to the field's type, as JSON and YAML
    give them. PyYAML reads `1e-4` (no dot) as a string, so a float field gets float() of it."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    unknown = set(raw) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields {sorted(unknown)}")
    values = {}
    for key, value in raw.items():
        if isinstance(value, list):
            value = tuple(value)
        elif isinstance(defaults.get(key), float) and isinstance(value, (str, int)):
            value = float(value)
        values[key] = value
    return values


# The paper's sizes (section 4.1) with the authors' blocks from their public code, which cost
# 40.7 GMACs per 256x256 frame against 50.3 for the same widths with the plain blocks. The VGG
# part of the colour encoder starts from ImageNet VGG-16, the VGG that ships offline; "vgg19" is
# the paper's.
PAPER = ModelConfig(
    preset="paper",
    color_backbone="vgg16",
    down_keeps_width=True,
    up_merge_1x1=True,
    skip_channel_stride=4,
)

# Sized to train and run on a 2-core CPU: a quarter of the paper's widths in the content path
# and decoder, a from-scratch colour encoder, z of 256, and the mean-ab residual, which lets a
# short CPU training run start from "paint the reference's mean colour" and improve on it.
SMALL = ModelConfig(
    preset="small",
    color_backbone="plain",
    plain_backbone_channels=(32, 64, 128, 256),
    color_head_channels=256,
    mlp_hidden=256,
    z_dim=256,
    content_channels=(32, 64, 128, 256, 256),
    decoder_channels=(128, 64, 32, 32),
    head_channels=32,
    residual_to_reference_mean=True,
)

# The small preset with a pretrained content encoder: ImageNet features on the grey input tell
# sky from grass from skin, which a from-scratch encoder must learn from a few hundred photos.
LITE = dataclasses.replace(
    SMALL,
    preset="lite",
    content_backbone="efficientnet_lite0",
    content_channels=(32, *LITE0_CONTENT_CHANNELS),
)

PRESETS: dict[str, ModelConfig] = {"paper": PAPER, "small": SMALL, "lite": LITE}


def preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}") from None
