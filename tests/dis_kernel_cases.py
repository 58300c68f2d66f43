"""The DIS flow's Triton kernels (remaster/color/dis_kernels.py) against the torch steps they
replace, on real pictures, run on the CPU by Triton's interpreter: each kernel from the same
inputs as its torch twin, and the whole flow.

Run by tests/test_dis_kernels.py in a process of its own with TRITON_INTERPRET=1: the setting
must be on before Triton is first imported (Triton's own library functions are made then), and
in the test run torch's optimizers have imported it long before."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from remaster.color import dis

ROOT = Path(__file__).resolve().parent.parent
CAMERA = ROOT / "examples" / "still" / "camera.png"  # a real black-and-white photo
# The kernels sample and sum as dis.py does; what is left is rounding (fused multiply-adds, a
# patch's sums in another order). Measured on two 64x48 pans across a real photo: densification
# 2e-5 px apart, refinement 3e-6, the whole flow 1e-6 on average; a descent from a random start
# 6e-6 at most in one try, but a rounding can turn a patch's stop one step earlier or later (in
# another try 0.2% of the patches ended 0.006 px apart), so descent is held to the share of
# patches apart (so are the sweeps, which descend). On the GPU, compiled, before the sweeps: the
# whole flow 0.003 px from plain torch's at 1280x720.
ROUNDING = 1e-4


@pytest.fixture(scope="module")
def kernels():
    if os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("the kernels run on the CPU only under TRITON_INTERPRET=1")
    return dis.kernels()


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A real photo and the same moved 2.6 px right, 1.3 px down and turned 2 degrees, 64x48."""
    grey = cv2.imread(str(CAMERA), cv2.IMREAD_GRAYSCALE)
    source = cv2.resize(grey, (64, 48), interpolation=cv2.INTER_AREA)
    matrix = cv2.getRotationMatrix2D((32, 24), 2.0, 1.0)
    matrix[:, 2] += (2.6, 1.3)
    target = cv2.warpAffine(source, matrix, (64, 48), flags=cv2.INTER_CUBIC, borderMode=1)
    return torch.from_numpy(source)[None].float(), torch.from_numpy(target)[None].float()


def start_flows(grid: dis.PatchGrid) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return 2 * torch.randn(1, grid.rows * grid.cols, 2, generator=generator)


def test_sweep_kernels_sweep_as_the_torch_steps(kernels, pair):
    """Both sweeps from a random start, stripes of one and two patch rows (the 64x48 pair has 14
    rows of patches: 16 stripes of one, and with 8 stripes the last one short)."""
    first, second = pair
    grid = dis.PatchGrid.of(first, 8, 3)
    start = start_flows(grid)
    for stripes in (16, 8):
        theirs = start
        for diagonals in dis.sweep_order(grid.rows, grid.cols, stripes, first.device):
            theirs = dis.sweep(grid, second, theirs, 12, 8, diagonals)
        ours = kernels.sweeps(grid, second, start, 12, 8, stripes)
        apart = (ours - theirs).abs().amax(-1)
        assert (ours - start).abs().max() > 0.5  # it did move the flows
        assert (apart > ROUNDING).float().mean() < 0.01, stripes


def test_densification_and_refinement_kernels_equal_the_torch_steps(kernels, pair):
    first, second = pair
    grid = dis.PatchGrid.of(first, 8, 3)
    sparse = dis.descend(grid, second, start_flows(grid), 12, 8)
    sparse = sparse.reshape(1, grid.rows, grid.cols, 2)
    settings = dis.DisSettings()
    dense = dis.densify(first, second, sparse, settings)
    ours = dis.densify(first, second, sparse, settings, fused=True)
    torch.testing.assert_close(ours, dense, atol=ROUNDING, rtol=0)
    refined = dis.refine(first, second, dense, settings)
    assert (refined - dense).abs().max() > 0.01  # the refinement moved it
    ours = dis.refine(first, second, dense, settings, fused=True)
    torch.testing.assert_close(ours, refined, atol=ROUNDING, rtol=0)


def test_fused_flow_is_the_torch_flow(kernels, pair):
    first, second = pair
    settings = dis.DisSettings(grad_descent_iter=12)  # fewer steps: the interpreter is slow
    eager = dis.dis_flow(first, second, settings, fused=False)
    fused = dis.dis_flow(first, second, settings, fused=True)
    assert (fused - eager).norm(dim=1).mean() < ROUNDING
    # ... and it follows the motion: the picture's centre moved about (2.6, 1.3).
    assert np.allclose(eager[0, :, 24, 32].numpy(), (2.6, 1.3), atol=0.5)
