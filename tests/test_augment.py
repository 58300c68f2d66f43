import torch

from model.augment import AugmentConfig, make_reference, random_warp_grid, thin_plate_spline
from tests.media import photo_like


def test_thin_plate_spline_interpolates_its_control_points():
    generator = torch.Generator().manual_seed(0)
    source = torch.rand(8, 2, generator=generator) * 2 - 1
    target = source + 0.2 * torch.randn(8, 2, generator=generator)
    assert torch.allclose(thin_plate_spline(source, target, source), target, atol=1e-5)
    points = torch.rand(50, 2, generator=generator)
    assert torch.allclose(thin_plate_spline(source, source, points), points, atol=1e-5)


def test_without_rotation_or_flips_the_corners_stay_fixed():
    config = AugmentConfig(rotation_degrees=0, flips=False)
    grid = random_warp_grid(33, 47, config, torch.Generator().manual_seed(1))[0]
    for y, x, expected in ((0, 0, (-1, -1)), (0, -1, (1, -1)), (-1, 0, (-1, 1)), (-1, -1, (1, 1))):
        assert torch.allclose(grid[y, x], torch.tensor(expected, dtype=torch.float32), atol=1e-4)
    assert (
        grid
        - random_warp_grid(
            33, 47, AugmentConfig(tps_shift=0, rotation_degrees=0, flips=False), torch.Generator()
        )[0]
    ).abs().max() > 0.05  # it does warp


def image_tensor(seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(photo_like(64, 64, seed)).permute(2, 0, 1).float() / 255


def test_reference_is_seeded_moved_and_keeps_the_colors():
    truth = image_tensor()
    first = make_reference(truth, AugmentConfig(), torch.Generator().manual_seed(3))
    again = make_reference(truth, AugmentConfig(), torch.Generator().manual_seed(3))
    other = make_reference(truth, AugmentConfig(), torch.Generator().manual_seed(4))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert first.shape == truth.shape and 0 <= first.min() and first.max() <= 1
    assert (first - truth).abs().mean() > 0.02  # pixels moved
    assert (first.mean(dim=(1, 2)) - truth.mean(dim=(1, 2))).abs().max() < 0.08  # colours kept
