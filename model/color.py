"""sRGB (D65) <-> CIE Lab in torch: batched, differentiable, shared by training and inference.

Tensors are (..., 3, H, W) with the channel dimension third from the end: RGB in [0, 1],
L in [0, 100], a and b roughly in [-110, 110]. The constants are the sRGB primaries and the
D65 2-degree white point, the same ones scikit-image uses, so both agree to float precision.
"""

from __future__ import annotations

import torch
from torch import Tensor

_XYZ_FROM_RGB = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_RGB_FROM_XYZ = torch.linalg.inv(_XYZ_FROM_RGB)
_D65_WHITE = (0.95047, 1.0, 1.08883)

# CIE's linear segment near black: below EPSILON the cube root is replaced by KAPPA*t + 16/116.
_EPSILON = 0.008856
_KAPPA = 7.787
_DELTA_CUBED_INV = 0.2068966  # the inverse threshold, (EPSILON)^(1/3)


def _apply_matrix(matrix: Tensor, image: Tensor) -> Tensor:
    matrix = matrix.to(device=image.device, dtype=image.dtype)
    return torch.einsum("ij,...jhw->...ihw", matrix, image)


def _white(image: Tensor) -> Tensor:
    return torch.tensor(_D65_WHITE, device=image.device, dtype=image.dtype).view(3, 1, 1)


def srgb_to_linear(rgb: Tensor) -> Tensor:
    # Clamp inside pow: (x)^2.4 has an infinite gradient at 0 otherwise.
    curved = ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4
    return torch.where(rgb > 0.04045, curved, rgb / 12.92)


def linear_to_srgb(linear: Tensor) -> Tensor:
    curved = 1.055 * linear.clamp(min=0.0031308) ** (1 / 2.4) - 0.055
    return torch.where(linear > 0.0031308, curved, linear * 12.92)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """(..., 3, H, W) sRGB in [0, 1] -> (..., 3, H, W) Lab."""
    xyz = _apply_matrix(_XYZ_FROM_RGB, srgb_to_linear(rgb)) / _white(rgb)
    f = torch.where(xyz > _EPSILON, xyz.clamp(min=_EPSILON) ** (1 / 3), _KAPPA * xyz + 16 / 116)
    fx, fy, fz = f.unbind(dim=-3)
    lightness = 116 * fy - 16
    return torch.stack((lightness, 500 * (fx - fy), 200 * (fy - fz)), dim=-3)


def lab_to_rgb(lab: Tensor, clamp: bool = True) -> Tensor:
    """(..., 3, H, W) Lab -> (..., 3, H, W) sRGB, clamped to [0, 1] unless `clamp` is False.

    Lab colours outside the sRGB gamut map outside [0, 1]; clamping is what a display does.
    """
    lightness, a, b = lab.unbind(dim=-3)
    fy = (lightness + 16) / 116
    f = torch.stack((fy + a / 500, fy, fy - b / 200), dim=-3)
    xyz = torch.where(f > _DELTA_CUBED_INV, f**3, (f - 16 / 116) / _KAPPA) * _white(lab)
    rgb = linear_to_srgb(_apply_matrix(_RGB_FROM_XYZ, xyz).clamp(min=0))
    return rgb.clamp(0, 1) if clamp else rgb


def gray_to_lightness(gray: Tensor) -> Tensor:
    """(..., 1, H, W) grey sRGB value in [0, 1] -> L in [0, 100] (a grey pixel has a = b = 0)."""
    y = srgb_to_linear(gray)
    f = torch.where(y > _EPSILON, y.clamp(min=_EPSILON) ** (1 / 3), _KAPPA * y + 16 / 116)
    return 116 * f - 16


def lightness_to_gray(lightness: Tensor) -> Tensor:
    """(..., 1, H, W) L in [0, 100] -> the grey sRGB value in [0, 1] with that lightness."""
    fy = (lightness + 16) / 116
    y = torch.where(fy > _DELTA_CUBED_INV, fy**3, (fy - 16 / 116) / _KAPPA)
    return linear_to_srgb(y.clamp(min=0)).clamp(0, 1)
