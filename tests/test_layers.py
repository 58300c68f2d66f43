import pytest
import torch
from torch import nn

import model.layers
from model.layers import ConvStack, ModulatedConv2d, leaky_relu


def make_layer(kernel: int = 3, seed: int = 0) -> ModulatedConv2d:
    torch.manual_seed(seed)
    layer = ModulatedConv2d(16, 24, kernel, z_dim=32, eps=1e-8)
    with torch.no_grad():  # a random modulation, so z really changes the weights
        layer.affine.weight.normal_(0, 0.5)
        layer.bias.normal_()
    return layer


def test_folded_equals_per_sample_for_a_shared_z():
    for kernel in (3, 5):
        layer = make_layer(kernel)
        x = torch.randn(6, 16, 19, 23)
        z = torch.randn(1, 32)
        per_sample = layer(x, z=z.expand(6, -1))
        folded = layer(x, weight=layer.fold(z))
        assert (per_sample - folded).abs().max().item() < 1e-4


def test_per_sample_uses_each_samples_own_z():
    layer = make_layer()
    x = torch.randn(3, 16, 8, 8)
    z = torch.randn(3, 32)
    per_sample = layer(x, z=z)
    for i in range(3):
        alone = layer(x[i : i + 1], weight=layer.fold(z[i]))
        assert (per_sample[i : i + 1] - alone).abs().max().item() < 1e-4
    assert (per_sample[0] - layer(x[:1], weight=layer.fold(z[1]))[0]).abs().max() > 1e-2


def test_demodulated_filters_have_unit_norm():
    layer = make_layer()
    weights = layer.modulated_weights(torch.randn(4, 32))
    norms = weights.square().sum(dim=(2, 3, 4)).sqrt()
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)


def test_needs_z_or_weight():
    layer = make_layer()
    try:
        layer(torch.randn(1, 16, 4, 4))
    except ValueError as error:
        assert "z or a folded weight" in str(error)
    else:
        raise AssertionError("expected a ValueError")


def conv_stack(seed: int = 0) -> ConvStack:
    torch.manual_seed(seed)
    stack = ConvStack(
        nn.Conv2d(3, 16, 3, padding=1),
        leaky_relu(),
        nn.Conv2d(16, 16, 4, stride=2, padding=1),
        leaky_relu(),
        nn.Conv2d(16, 8, 1),  # no activation after it: run alone
    ).eval()
    return stack.to(memory_format=torch.channels_last)


def plainly(stack: ConvStack, x: torch.Tensor) -> torch.Tensor:
    """What nn.Sequential gives: each layer in turn."""
    for layer in stack:
        x = layer(x)
    return x


@pytest.mark.skipif(not model.layers.fused_operation_runs(), reason="no oneDNN fused convolution")
def test_a_conv_stack_in_bf16_inference_is_the_sequential_within_rounding(monkeypatch):
    """In bf16 inference on a CPU the convolutions and their leaky ReLUs run fused (checked
    by counting the fused calls); the result is the layers' one at bf16's rounding."""
    stack = conv_stack()
    x = torch.randn(2, 3, 24, 36).contiguous(memory_format=torch.channels_last) * 3
    fused_calls = []
    fused = model.layers.conv_leaky_relu

    def counted(*args):
        fused_calls.append(args[1])
        return fused(*args)

    monkeypatch.setattr(model.layers, "conv_leaky_relu", counted)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        together = stack(x)
        apart = plainly(stack, x)
    assert fused_calls == [stack[0], stack[2]]
    assert together.dtype == apart.dtype == torch.bfloat16
    assert together.shape == apart.shape == (2, 8, 12, 18)
    difference = (together.float() - apart.float()).abs()
    assert difference.max() <= 0.02 * apart.float().abs().max()  # bf16 keeps 8 bits


def test_a_conv_stack_with_gradients_or_in_float32_is_the_sequential_exactly():
    stack = conv_stack()
    x = torch.randn(2, 3, 24, 36).contiguous(memory_format=torch.channels_last)
    assert torch.equal(stack(x), plainly(stack, x))  # gradients on: training's path
    with torch.inference_mode():
        assert torch.equal(stack(x), plainly(stack, x))  # float32
