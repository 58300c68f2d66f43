import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from model.color import gray_to_lightness, lab_to_rgb, rgb_to_lab


def random_rgb(count: int, seed: int = 0) -> np.ndarray:
    colors = np.random.default_rng(seed).random((count, 3))
    # Include the cube's corners and near-black values, where the piecewise curves switch.
    edges = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.01, 0.02, 0.03]])
    return np.concatenate([colors, edges])


def as_image(colors: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(colors.T.copy()).float().view(1, 3, -1, 1)


def test_rgb_to_lab_matches_scikit_image():
    colors = random_rgb(20000)
    ours = rgb_to_lab(as_image(colors)).view(3, -1).T.numpy()
    reference = rgb2lab(colors[None])[0]
    assert np.abs(ours - reference).max() < 0.01


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_round_trip_within_one_level(dtype):
    rgb = as_image(random_rgb(20000, seed=1)).to(dtype)
    back = lab_to_rgb(rgb_to_lab(rgb))
    assert (back - rgb).abs().max().item() < 1 / 255


def test_batched_and_unbatched_agree():
    rgb = torch.rand(4, 3, 5, 6)
    batched = rgb_to_lab(rgb)
    single = torch.stack([rgb_to_lab(image) for image in rgb])
    assert batched.shape == (4, 3, 5, 6)
    assert torch.allclose(batched, single, atol=1e-4)


def test_gradients_are_finite_at_black_and_white():
    rgb = torch.tensor([0.0, 1.0, 0.5, 0.001]).view(1, 1, 2, 2).repeat(1, 3, 1, 1).requires_grad_()
    rgb_to_lab(rgb).sum().backward()
    assert torch.isfinite(rgb.grad).all()
    lab = torch.tensor([[0.0, 0, 0], [100, 0, 0], [50, 80, -80], [5, -3, 2]]).T.reshape(1, 3, 2, 2)
    lab.requires_grad_()
    lab_to_rgb(lab).sum().backward()
    assert torch.isfinite(lab.grad).all()


def test_grey_lightness_equals_full_conversion():
    grey = torch.linspace(0, 1, 257).view(1, 1, 1, -1)
    full = rgb_to_lab(grey.repeat(1, 3, 1, 1))
    assert torch.allclose(gray_to_lightness(grey), full[:, :1], atol=1e-3)
    assert full[:, 1:].abs().max() < 0.01  # grey has no chroma
