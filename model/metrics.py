"""Colour metrics on sRGB images: PSNR, SSIM, CIE76 and CIEDE2000 Delta-E, colourfulness.

All take (N, 3, H, W) sRGB in [0, 1] and return one value per image, (N,), so training's
validation and `remaster eval` score with the same code. `evaluate` is training's validation:
the model against two simple baselines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from model.color import lab_to_rgb, rgb_to_lab
from model.network import Color2Embed

if TYPE_CHECKING:
    from model.fusion import Fusion


def delta_e(predicted_rgb: Tensor, true_rgb: Tensor) -> Tensor:
    """Mean CIE76 colour difference per image, (N,), both (N, 3, H, W) sRGB in [0, 1]."""
    return cie76_map(rgb_to_lab(predicted_rgb), rgb_to_lab(true_rgb)).mean(dim=(1, 2))


def cie76_map(lab1: Tensor, lab2: Tensor) -> Tensor:
    """CIE76 colour difference per pixel: (N, 3, H, W) CIE Lab -> (N, H, W)."""
    return (lab1 - lab2).square().sum(dim=-3).sqrt()


def ciede2000_map(lab1: Tensor, lab2: Tensor) -> Tensor:
    """CIEDE2000 colour difference per pixel (Sharma, Wu and Dalal 2005), kL = kC = kH = 1.

    (N, 3, H, W) CIE Lab -> (N, H, W). float32 agrees with
    scikit-image's float64 to about 1e-3 (tested).
    """
    lab1, lab2 = lab1.float(), lab2.float()
    l1, a1, b1 = lab1.unbind(dim=-3)
    l2, a2, b2 = lab2.unbind(dim=-3)
    chroma_mean = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    g = 0.5 * (1 - torch.sqrt(chroma_mean**7 / (chroma_mean**7 + 25.0**7)))
    a1, a2 = a1 * (1 + g), a2 * (1 + g)
    c1, c2 = torch.hypot(a1, b1), torch.hypot(a2, b2)
    # Hue angles in degrees [0, 360); atan2(0, 0) is 0, which the formula expects for greys.
    h1 = torch.rad2deg(torch.atan2(b1, a1)) % 360
    h2 = torch.rad2deg(torch.atan2(b2, a2)) % 360
    grey = (c1 * c2) == 0
    dh = h2 - h1
    dh = torch.where(dh > 180, dh - 360, torch.where(dh < -180, dh + 360, dh))
    dh = torch.where(grey, torch.zeros_like(dh), dh)
    dl, dc = l2 - l1, c2 - c1
    d_hue = 2 * torch.sqrt(c1 * c2) * torch.sin(torch.deg2rad(dh / 2))
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2
    h_mean = torch.where(
        (h1 - h2).abs() <= 180, h_sum / 2, torch.where(h_sum < 360, h_sum + 360, h_sum - 360) / 2
    )
    h_mean = torch.where(grey, h_sum, h_mean)
    t = (
        1
        - 0.17 * torch.cos(torch.deg2rad(h_mean - 30))
        + 0.24 * torch.cos(torch.deg2rad(2 * h_mean))
        + 0.32 * torch.cos(torch.deg2rad(3 * h_mean + 6))
        - 0.20 * torch.cos(torch.deg2rad(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / torch.sqrt(20 + (l_mean - 50) ** 2)
    s_c = 1 + 0.045 * c_mean
    s_h = 1 + 0.015 * c_mean * t
    rotation = 30 * torch.exp(-(((h_mean - 275) / 25) ** 2))
    r_c = 2 * torch.sqrt(c_mean**7 / (c_mean**7 + 25.0**7))
    r_t = -torch.sin(torch.deg2rad(2 * rotation)) * r_c
    terms = (dl / s_l) ** 2 + (dc / s_c) ** 2 + (d_hue / s_h) ** 2
    return torch.sqrt(terms + r_t * (dc / s_c) * (d_hue / s_h)).float()


def ciede2000(predicted_rgb: Tensor, true_rgb: Tensor) -> Tensor:
    """Mean CIEDE2000 Delta-E per image, (N,)."""
    return ciede2000_map(rgb_to_lab(predicted_rgb), rgb_to_lab(true_rgb)).mean(dim=(1, 2))


def box_mean(images: Tensor, window: int) -> Tensor:
    """Mean over every `window` x `window` box that fits, (N, C, H - w + 1, W - w + 1), from
    an integral image: a few passes instead of w^2 additions per pixel. Summed in float64, so
    the differences of large running sums stay exact to float32 precision."""
    table = F.pad(images.double(), (1, 0, 1, 0)).cumsum(-1).cumsum(-2)
    w = window
    boxes = table[..., w:, w:] - table[..., :-w, w:] - table[..., w:, :-w] + table[..., :-w, :-w]
    return (boxes / (w * w)).float()


def ssim(predicted_rgb: Tensor, true_rgb: Tensor, window: int = 7) -> Tensor:
    """Mean SSIM per image, (N,), as scikit-image computes it by default for colour images.

    Wang et al. 2004 with a uniform `window` x `window` window, K1 = 0.01, K2 = 0.03, data
    range 1, sample covariances, each channel scored alone and the channels averaged, and a
    border of half a window left out of the mean.
    """
    x, y = predicted_rgb.float(), true_rgb.float()
    count = window * window
    sample = count / (count - 1)
    means = box_mean(torch.cat([x, y, x * x, y * y, x * y]), window)
    mean_x, mean_y, mean_xx, mean_yy, mean_xy = means.chunk(5)
    var_x = sample * (mean_xx - mean_x**2)
    var_y = sample * (mean_yy - mean_y**2)
    cov = sample * (mean_xy - mean_x * mean_y)
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mean_x * mean_y + c1) * (2 * cov + c2)) / (
        (mean_x**2 + mean_y**2 + c1) * (var_x + var_y + c2)
    )
    # Only whole boxes are kept: the half-window border scikit-image crops is already gone.
    return index.mean(dim=(1, 2, 3)).float()


def colorfulness(rgb: Tensor) -> Tensor:
    """Hasler and Suesstrunk's (2003) colourfulness per image, (N,), on the 0-255 scale:
    sqrt(var(rg) + var(yb)) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2), rg = R - G,
    yb = (R + G) / 2 - B. Grey is 0; about 33 reads as "moderately", 59 as "quite" colourful."""
    red, green, blue = (rgb.double() * 255).unbind(dim=1)
    rg = (red - green).flatten(1)
    yb = ((red + green) / 2 - blue).flatten(1)
    spread = torch.sqrt(rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False))
    offset = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
    return (spread + 0.3 * offset).float()


def psnr(predicted_rgb: Tensor, true_rgb: Tensor) -> Tensor:
    """PSNR in dB per image, (N,), on sRGB in [0, 1]."""
    mse = (predicted_rgb - true_rgb).square().mean(dim=(1, 2, 3)).clamp(min=1e-10)
    return -10 * torch.log10(mse)


def color_with_ab(lightness: Tensor, ab: Tensor) -> Tensor:
    return lab_to_rgb(torch.cat([lightness, ab.expand(-1, -1, *lightness.shape[-2:])], dim=1))


@torch.no_grad()
def evaluate(
    network: Color2Embed,
    truths: Tensor,
    references: Tensor,
    batch_size: int = 8,
    fusion: Fusion | None = None,
) -> dict[str, dict[str, float]]:
    """Mean Delta-E and PSNR over (truth, reference) pairs for the network and two baselines:
    "grey" (ab = 0) and "reference mean" (the reference's mean ab everywhere). A network that
    reads hints is given each pair's `fusion` (model/fusion.py), and scored on its blend."""
    network.eval()
    device = next(network.parameters()).device
    scores: dict[str, dict[str, list[Tensor]]] = {}
    for start in range(0, len(truths), batch_size):
        truth = truths[start : start + batch_size].to(device)
        reference = references[start : start + batch_size].to(device)
        lightness = rgb_to_lab(truth)[:, :1]
        mean_ab = rgb_to_lab(reference)[:, 1:].mean(dim=(2, 3), keepdim=True)
        if fusion is None:
            ab = network(lightness, reference)
        else:
            frames = fusion[start : start + batch_size].to(device)
            ab = frames.blend(
                network(lightness, reference, frames.hints(network.config.io.ab_scale))
            )
        outputs = {
            "model": color_with_ab(lightness, ab),
            "grey": color_with_ab(lightness, torch.zeros_like(mean_ab)),
            "reference mean": color_with_ab(lightness, mean_ab),
        }
        for name, output in outputs.items():
            entry = scores.setdefault(name, {"delta_e": [], "psnr": []})
            entry["delta_e"].append(delta_e(output, truth).cpu())
            entry["psnr"].append(psnr(output, truth).cpu())
    return {
        name: {metric: torch.cat(values).mean().item() for metric, values in entry.items()}
        for name, entry in scores.items()
    }
