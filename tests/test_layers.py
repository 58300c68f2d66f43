import torch

from model.layers import ModulatedConv2d


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
