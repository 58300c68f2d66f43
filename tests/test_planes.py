"""Planes at every depth, and RGB that keeps the input's grey exactly."""

import numpy as np
import pytest
import torch

from remaster.media.planes import (
    BT601,
    BT709,
    chroma_from_rgb,
    grey_from_luma,
    luma_from_grey,
    rgb_keeping_grey,
)


@pytest.mark.parametrize("coefficients", [BT709, BT601])
@pytest.mark.parametrize("bits", [8, 16])
def test_rgb_keeping_grey_has_the_grey_as_its_luma(coefficients, bits):
    """Any colour, in gamut or far outside it, on every grey including black and white."""
    maximum = 2**bits - 1
    generator = torch.Generator().manual_seed(bits)
    codes = torch.randint(0, maximum + 1, (2, 40, 50), generator=generator)
    codes[0, 0, :2] = torch.tensor([0, maximum])
    rgb = torch.rand((2, 3, 40, 50), generator=generator) * 1.6 - 0.3
    out = rgb_keeping_grey(rgb, codes.double() / maximum, coefficients, bits)
    assert out.dtype == (np.uint8 if bits == 8 else np.uint16)
    kr, kb = coefficients
    luma = out.astype(np.float64) @ np.array([kr, 1 - kr - kb, kb])
    np.testing.assert_array_equal(np.round(luma), codes.numpy())
    assert np.abs(out[..., 0].astype(int) - out[..., 2]).mean() > maximum / 20  # colour kept


def test_rgb_keeping_grey_keeps_a_color_that_fits():
    rgb = torch.tensor([0.8, 0.5, 0.2]).view(1, 3, 1, 1)
    kr, kb = BT709
    grey = (kr * 0.8 + (1 - kr - kb) * 0.5 + kb * 0.2) * torch.ones(1, 1, 1)
    out = rgb_keeping_grey(rgb, grey, BT709, 16)[0, 0, 0] / 65535
    np.testing.assert_allclose(out, [0.8, 0.5, 0.2], atol=2e-5)


@pytest.mark.parametrize("bits", [8, 10, 16])
@pytest.mark.parametrize("full_range", [True, False])
def test_luma_and_grey_round_trip_at_every_depth(bits, full_range):
    low, high = (0, 2**bits - 1) if full_range else (16 << (bits - 8), 235 << (bits - 8))
    codes = torch.arange(low, high + 1)
    grey = grey_from_luma(codes, full_range, bits)
    assert grey[0] == 0 and grey[-1] == 1
    np.testing.assert_array_equal(luma_from_grey(grey, full_range, bits), codes.numpy())


def test_ten_bit_chroma_is_the_eight_bit_chroma_at_four_times_the_scale():
    rgb = torch.rand((1, 3, 8, 8), generator=torch.Generator().manual_seed(0))
    cb8, cr8 = chroma_from_rgb(rgb, BT709, full_range=False)
    cb10, cr10 = chroma_from_rgb(rgb, BT709, full_range=False, bits=10)
    assert cb10.dtype == np.uint16
    assert np.abs(cb10.astype(int) - 4 * cb8.astype(int)).max() <= 2
    assert np.abs(cr10.astype(int) - 4 * cr8.astype(int)).max() <= 2
    grey = torch.full((1, 3, 2, 2), 0.5)
    assert chroma_from_rgb(grey, BT709, full_range=False, bits=10)[0].tolist() == [[[512]]]
