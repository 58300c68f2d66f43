import numpy as np
import pytest
import torch

import model.colorizer
from model.color import rgb_to_lab
from model.colorizer import Colorizer, image_to_tensor
from remaster.color.predictor import ColorPredictor
from remaster.commands.image import color_picture
from tests.helpers import TINY, make_network


@pytest.fixture
def colorizer():
    return Colorizer(make_network(TINY), device="cpu")


def network_input_sizes(colorizer):
    sizes = []
    colorizer.network.content_encoder.register_forward_hook(
        lambda module, args, output: sizes.append(tuple(args[0].shape[-2:]))
    )
    return sizes


@pytest.mark.parametrize(
    ("full", "working"),
    [
        ((300, 200), (384, 256)),
        ((100, 400), (256, 1024)),
        ((250, 333), (256, 352)),
        ((720, 1280), (256, 464)),
    ],
)
def test_working_size_keeps_aspect_and_pads_to_16(colorizer, full, working):
    sizes = network_input_sizes(colorizer)
    style = colorizer.embed(np.random.default_rng(0).random((90, 120, 3)))
    ab = colorizer.colorize(torch.rand(2, 1, *full) * 100, style)
    assert ab.shape == (2, 2, *full)
    assert sizes == [working]


def test_working_size_option():
    colorizer = Colorizer(make_network(TINY), device="cpu", working_short_side=128)
    sizes = network_input_sizes(colorizer)
    colorizer.colorize(torch.rand(1, 1, 480, 640) * 100, colorizer.embed(np.random.rand(64, 64, 3)))
    assert sizes == [(128, 176)]  # 128 x 170.7 -> 171, padded to 176


def test_output_keeps_the_targets_lightness_size_and_type(colorizer):
    rng = np.random.default_rng(1)
    target = (rng.random((123, 77, 3)) * 65535).astype(np.uint16)
    reference = (rng.random((64, 80, 3)) * 255).astype(np.uint8)
    out = color_picture(ColorPredictor(colorizer, "embed"), target, reference)
    assert out.shape == (123, 77, 3) and out.dtype == np.uint16
    lightness_in = rgb_to_lab(image_to_tensor(target))[:, 0]
    lightness_out = rgb_to_lab(image_to_tensor(out))[:, 0]
    # Exact before rounding; out-of-gamut colours clipped to sRGB may move a pixel slightly.
    assert (lightness_in - lightness_out).abs().median() < 0.01
    assert (lightness_in - lightness_out).abs().mean() < 0.5


def test_grey_target_becomes_color(colorizer):
    target = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    reference = np.zeros((64, 64, 3), np.uint8)
    reference[..., 0] = 200  # a red reference
    out = color_picture(ColorPredictor(colorizer, "embed"), target, reference)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert np.abs(out[..., 0].astype(int) - out[..., 2].astype(int)).mean() > 5


def test_several_references_are_averaged_in_one_embedding(colorizer):
    rng = np.random.default_rng(2)
    first, second = rng.random((64, 64, 3)), rng.random((80, 80, 3))  # same aspect
    style = colorizer.embed(first, second)
    assert colorizer.embed_calls == 1
    one = colorizer.embed(first)
    two = colorizer.embed(second)
    assert torch.allclose(style.mean_ab, (one.mean_ab + two.mean_ab) / 2, atol=1e-5)


def test_reference_must_be_color(colorizer):
    with pytest.raises(ValueError, match="colour"):
        colorizer.embed(torch.rand(1, 1, 64, 64))


def test_weights_choose_how_much_each_reference_counts():
    """Equal weights are the plain average; a reference weighted near 1 is almost alone."""
    from model.checkpoint import DEFAULT_WEIGHTS
    from tests.media import photo_like

    colorizer = Colorizer.from_checkpoint(DEFAULT_WEIGHTS, "cpu")
    first, second = photo_like(96, 128, seed=1), photo_like(96, 128, seed=2)
    lightness = torch.rand(1, 1, 64, 80) * 100

    def color(*references, weights=()):
        return colorizer.colorize(lightness, colorizer.embed(*references, weights=weights))

    assert torch.allclose(color(first, second, weights=(0.5, 0.5)), color(first, second), atol=1e-5)
    alone, mostly = color(first), color(first, second, weights=(0.99, 0.01))
    even = color(first, second)
    assert (mostly - alone).abs().mean() < 0.1 * (even - alone).abs().mean()


@pytest.mark.parametrize("amx", [False, True])
def test_a_cpu_runs_the_network_in_bf16_only_where_it_has_amx(monkeypatch, amx):
    """Without AMX oneDNN's bf16 convolutions are no faster or far slower (half_precision)."""
    monkeypatch.setattr(model.colorizer, "cpu_has_amx", lambda: amx)
    colorizer = Colorizer(make_network(TINY), device="cpu")
    assert colorizer.precision == (torch.bfloat16 if amx else None)
