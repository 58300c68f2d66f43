"""The PyTorch DIS flow: known motions of real pictures recovered, agreement with OpenCV's DIS
on real frame pairs, and pairs in one call equal to pairs one at a time."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from benchmarks.flow_accuracy import dis_settings
from remaster.color import flow
from remaster.color.dis import (
    STRIPES,
    DisSettings,
    PatchGrid,
    area_half,
    descend,
    dis_flow,
    patch_difference,
    refine,
    sobel,
    sweep,
    sweep_order,
)
from remaster.color.flow import FlowEstimator
from remaster.media.video import decode

ROOT = Path(__file__).resolve().parent.parent
REEL = ROOT / "examples" / "film" / "reel.mp4"  # real footage, three shots
CAMERA = ROOT / "examples" / "still" / "camera.png"  # a real black-and-white photo
# Agreement with OpenCV's DIS (medium, full resolution) on the reel's real frame pairs, mean
# end-point error in pixels. While the flow tried its neighbours' flows in parallel rounds it
# was 0.13 one frame apart and 1.6 / 5.6 eight apart (0.15 and 2.1 / 4.1 when first written).
# With OpenCV's sweeps and its Sobel border it is 0.008 and 0.09 / 0.13, half the pixels within
# 0.0009 px: what is left is rounding (sums in another order), which a sweep carries on to the
# patches after it. The bounds leave room for other machines' rounding.
AGREES_NEAR, AGREES_FAR, AGREES_MEDIAN = 0.05, 0.6, 0.01


@pytest.fixture(scope="module")
def reel_frames() -> list[np.ndarray]:
    return [picture.y for picture, _ in zip(decode(REEL), range(40), strict=False)]


def flow_of(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    out = dis_flow(torch.from_numpy(source)[None], torch.from_numpy(target)[None])
    return out[0].permute(1, 2, 0).numpy()


def moved(picture: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = picture.shape
    return cv2.warpAffine(
        picture, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )


def camera(size=(192, 256)) -> np.ndarray:
    grey = cv2.imread(str(CAMERA), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(grey, size[::-1], interpolation=cv2.INTER_AREA)


def interior(field: np.ndarray, margin: int = 16) -> np.ndarray:
    return field[margin:-margin, margin:-margin]


@pytest.mark.parametrize("shift", [(3.0, -2.0), (-6.5, 4.25)])
def test_a_known_shift_of_a_real_picture_is_recovered(shift):
    source = camera()
    target = moved(source, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]))
    flow = interior(flow_of(source, target))
    error = np.linalg.norm(flow - np.float32(shift), axis=-1)
    assert np.median(error) < 0.1 and error.mean() < 0.3


def test_a_known_rotation_of_a_real_picture_is_recovered():
    source = camera()
    height, width = source.shape
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 3.0, 1.0).astype(np.float32)
    target = moved(source, matrix)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    expected = np.stack(
        [
            matrix[0, 0] * xs + matrix[0, 1] * ys + matrix[0, 2] - xs,
            matrix[1, 0] * xs + matrix[1, 1] * ys + matrix[1, 2] - ys,
        ],
        axis=-1,
    )
    error = np.linalg.norm(interior(flow_of(source, target) - expected), axis=-1)
    assert np.abs(interior(expected)).max() > 5  # a real rotation: up to 6 px at the corners
    assert np.median(error) < 0.15 and error.mean() < 0.4


def test_it_agrees_with_opencv_on_real_frame_pairs(reel_frames):
    opencv = FlowEstimator(finest_scale=0, flow="opencv")
    ours = FlowEstimator(finest_scale=0, flow="torch")
    pairs = [(10, 11), (10, 18), (30, 38)]
    sources = [reel_frames[a] for a, _ in pairs]
    targets = [reel_frames[b] for _, b in pairs]
    theirs = opencv.displacements(sources, targets).permute(0, 2, 3, 1).numpy()
    mine = ours.displacements(sources, targets).permute(0, 2, 3, 1).numpy()
    apart = [np.linalg.norm(m - t, axis=-1) for m, t in zip(mine, theirs, strict=True)]
    errors = [error.mean() for error in apart]
    assert errors[0] < AGREES_NEAR and max(errors[1:]) < AGREES_FAR, errors
    assert max(np.median(error) for error in apart) < AGREES_MEDIAN


def test_the_gradients_are_opencvs(reel_frames):
    """The patches' slopes are cv2.spatialGradient's, border and all (reflected about the edge
    pixel; replicated, as this flow once had them, the edge rows and columns differ)."""
    picture = reel_frames[10][:90, :160]
    theirs = cv2.spatialGradient(picture)
    mine = sobel(torch.from_numpy(picture).float()[None])
    for ours, expected in zip(mine, theirs, strict=True):
        assert np.array_equal(ours[0].numpy(), expected.astype(np.float32))


def sequential_sweeps(grid, second, flow, steps, stripes):
    """OpenCV's sweeps as it runs them: a patch at a time, row by row within each stripe, then
    back from the bottom right."""
    flow = flow.clone()
    height = -(-grid.rows // stripes)
    for backward in (False, True):
        for first_row in range(0, grid.rows, height):
            rows = range(first_row, min(first_row + height, grid.rows))
            for r in reversed(rows) if backward else rows:
                for c in reversed(range(grid.cols)) if backward else range(grid.cols):
                    step = 1 if backward else -1
                    tries = [(r, c), (r, c + step), (r + step, c)]
                    tries = [(rr, cc) for rr, cc in tries if rr in rows and 0 <= cc < grid.cols]
                    patch = torch.tensor([r * grid.cols + c])
                    part = grid.take(patch)
                    best, chosen = None, None
                    for rr, cc in tries:
                        candidate = flow[:, [rr * grid.cols + cc]]
                        cost = patch_difference(part, second, candidate, 8)[2]
                        if best is None or bool(cost < best):
                            best, chosen = cost, candidate
                    flow[:, patch] = descend(part, second, chosen, steps, 8)
    return flow


def test_the_sweeps_by_diagonals_are_opencvs_patch_by_patch(reel_frames):
    """The diagonals of every stripe at once give the flows of OpenCV's sequential sweeps, on a
    real pair, from the same start, with stripes of even and uneven heights."""
    first = torch.from_numpy(reel_frames[20][:60, :50]).float()[None]
    second = torch.from_numpy(reel_frames[26][:60, :50]).float()[None]
    grid = PatchGrid.of(first, 8, 3)  # 18 x 15 patches
    start = torch.randn(1, grid.rows * grid.cols, 2, generator=torch.Generator().manual_seed(0))
    for stripes in (STRIPES, 5):  # 6 stripes of 3 rows (and 2 of none); 5 of 4, the last of 2
        diagonal = start
        for diagonals in sweep_order(grid.rows, grid.cols, stripes, first.device):
            diagonal = sweep(grid, second, diagonal, 6, 8, diagonals)
        one_by_one = sequential_sweeps(grid, second, start, 6, stripes)
        assert (diagonal - start).abs().amax() > 1  # the sweeps moved flows
        torch.testing.assert_close(diagonal, one_by_one, atol=1e-5, rtol=0)


def test_each_diagonal_holds_patches_whose_swept_neighbours_came_before():
    """Both sweeps' diagonals: each patch once, its neighbours the ones OpenCV's sweep tries
    (within its row and its stripe), swept on an earlier diagonal."""
    rows, cols = 11, 7
    for stripes in (STRIPES, 3):
        height = -(-rows // stripes)
        for backward, diagonals in enumerate(sweep_order(rows, cols, stripes, torch.device("cpu"))):
            done = set()
            for diagonal in diagonals:
                for patch, along, across in zip(*(t.tolist() for t in (
                    diagonal.patches, diagonal.along, diagonal.across,
                )), strict=True):  # fmt: skip
                    r, c = divmod(patch, cols)
                    step = 1 if backward else -1
                    in_row = 0 <= c + step < cols
                    in_stripe = (r + step) // height == r // height and 0 <= r + step < rows
                    assert along == (patch + step if in_row else -1)
                    assert across == (patch + step * cols if in_stripe else -1)
                    assert {along, across} - {-1} <= done  # swept before this diagonal
                done |= set(diagonal.patches.tolist())
            assert done == set(range(rows * cols))  # every patch once


def test_pairs_in_one_call_equal_pairs_one_at_a_time(reel_frames):
    sources = np.stack([reel_frames[0], reel_frames[20]])[:, :96, :128]
    targets = np.stack([reel_frames[2], reel_frames[24]])[:, :96, :128]
    together = dis_flow(torch.from_numpy(sources), torch.from_numpy(targets))
    for k in range(2):
        alone = dis_flow(torch.from_numpy(sources[k : k + 1]), torch.from_numpy(targets[k : k + 1]))
        assert torch.allclose(together[k], alone[0], atol=1e-3)


class Recorded:
    """An OpenCV DIS object that notes OpenCV's thread count at each call."""

    def __init__(self, dis, threads: list[int]) -> None:
        self.dis, self.threads = dis, threads

    def calc(self, *args):
        self.threads.append(cv2.getNumThreads())
        return self.dis.calc(*args)


def test_opencvs_flows_side_by_side_are_its_flows_one_at_a_time(reel_frames, monkeypatch):
    """OpenCV's flows of a batch run on as many threads as there are cores, each thread with
    its own DIS object and OpenCV's own threads held to one; they come back in the pairs'
    order, each the flow it is alone, and OpenCV's thread count is given back."""
    monkeypatch.setattr(flow, "CORES", 3)  # five pairs on three threads: runs of 2, 2 and 1
    pairs = [(0, 1), (5, 9), (10, 11), (20, 28), (30, 31)]
    sources = [reel_frames[a][:144, :256] for a, _ in pairs]
    targets = [reel_frames[b][:144, :256] for _, b in pairs]
    estimator, threads_inside = FlowEstimator(finest_scale=0), []
    estimator.instances = {0: [Recorded(dis, threads_inside) for dis in estimator.opencv_dis(3)]}
    threads = cv2.getNumThreads()
    cv2.setNumThreads(3)
    try:
        together = estimator.displacements(sources, targets)
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(threads)
    assert threads_inside == [1] * len(pairs)
    for k, (source, target) in enumerate(zip(sources, targets, strict=True)):
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        dis.setFinestScale(0)
        alone = dis.calc(np.ascontiguousarray(source), np.ascontiguousarray(target), None)
        assert np.array_equal(together[k].permute(1, 2, 0).numpy(), alone), k


def test_the_forward_backward_check_is_the_same_for_both_flows(reel_frames):
    """`between` runs the two directions as one batch; its check passes where OpenCV's does."""
    source = np.ascontiguousarray(reel_frames[10][:144, :256])
    target = np.ascontiguousarray(reel_frames[12][:144, :256])
    theirs = FlowEstimator(finest_scale=0, flow="opencv").between(source, target)
    mine = FlowEstimator(finest_scale=0, flow="torch").between(source, target)
    agree = (theirs.visible == mine.visible).float().mean()
    assert theirs.visible.float().mean() > 0.5 and agree > 0.9


@pytest.mark.parametrize("implementation", ["opencv", "torch"])
def test_a_call_may_look_coarser_than_the_estimator(reel_frames, implementation):
    """A full-resolution estimator asked for a look at half resolution gives the flows of one
    made for half resolution, to the bit, and goes on at full resolution after."""
    source = np.ascontiguousarray(reel_frames[10][:144, :256])
    target = np.ascontiguousarray(reel_frames[14][:144, :256])
    full = FlowEstimator(finest_scale=0, flow=implementation)
    half = FlowEstimator(finest_scale=1, flow=implementation)
    looked = full.displacements([source], [target], finest_scale=1)
    assert torch.equal(looked, half.displacements([source], [target]))
    again = full.displacements([source], [target])
    assert torch.equal(
        again, FlowEstimator(finest_scale=0, flow=implementation).displacements([source], [target])
    )
    assert not torch.equal(again, looked)


@pytest.mark.parametrize("implementation", ["opencv", "torch"])
def test_a_picture_too_small_for_a_coarser_look_is_looked_at_in_full(reel_frames, implementation):
    """12x12 holds one 8-pixel patch at full resolution and none at half: the look is the flow."""
    source = torch.from_numpy(np.ascontiguousarray(reel_frames[10][100:112, 200:212]))
    target = torch.from_numpy(np.ascontiguousarray(reel_frames[12][100:112, 200:212]))
    estimator = FlowEstimator(finest_scale=0, flow=implementation)
    looked = estimator.between_many([(source, target)], finest_scale=1)
    full = estimator.between_many([(source, target)])
    assert torch.equal(looked.map_x, full.map_x) and torch.equal(looked.consistent, full.consistent)


def test_settings_to_try_are_read_as_dis_settings_has_them(reel_frames):
    """benchmarks/flow_accuracy.py --dis: each named setting, typed; a wrong one is one line.
    The settings reach the flow: 6 descent steps a sweep are not 12."""
    assert dis_settings(["patch_stride=4", "alpha=10"]) == {"patch_stride": 4, "alpha": 10.0}
    assert dis_settings([]) == {}
    wrongs = (
        ("pach_stride=4", "unknown DisSettings fields"),
        ("patch_stride=x", "patch_stride takes int values"),
    )
    for wrong, says in wrongs:
        with pytest.raises(SystemExit, match=says):
            dis_settings([wrong])
    source = torch.from_numpy(reel_frames[0][None, :96, :128].copy())
    target = torch.from_numpy(reel_frames[2][None, :96, :128].copy())
    once = dis_flow(source, target, DisSettings(**dis_settings(["grad_descent_iter=12"])))
    assert not torch.allclose(once, dis_flow(source, target), atol=1e-3)


def test_the_settings_are_opencvs_medium_preset():
    """Every setting OpenCV's DIS reports is ours (the descent's steps were twice OpenCV's while
    the flow tried its neighbours' flows in parallel rounds instead of sweeps). The
    refinement's epsilon is DIS's own (0.01), not the standalone VariationalRefinement's
    default (0.001), which this flow once took."""
    theirs = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    ours = DisSettings()
    assert (theirs.getPatchSize(), theirs.getPatchStride()) == (ours.patch_size, ours.patch_stride)
    assert theirs.getVariationalRefinementIterations() == ours.variational_refinement_iter
    for name, value in (("Alpha", ours.alpha), ("Delta", ours.delta), ("Gamma", ours.gamma)):
        assert getattr(theirs, f"getVariationalRefinement{name}")() == pytest.approx(value)
    assert theirs.getVariationalRefinementEpsilon() == pytest.approx(ours.epsilon)
    assert theirs.getGradientDescentIterations() == ours.grad_descent_iter


def test_the_refinement_is_opencvs(reel_frames):
    """From the same unrefined flow of a real pair, ours refines as OpenCV's VariationalRefinement
    does, set as DIS sets it: 0.0006 px apart at most on 512x288 pairs when written."""
    first, second = reel_frames[10][:144, :256].copy(), reel_frames[11][:144, :256].copy()
    unrefined = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    unrefined.setFinestScale(0)
    unrefined.setVariationalRefinementIterations(0)
    start = unrefined.calc(first, second, None)
    settings = DisSettings()
    theirs = cv2.VariationalRefinement_create()
    theirs.setAlpha(settings.alpha)
    theirs.setDelta(settings.delta)
    theirs.setGamma(settings.gamma)
    theirs.setEpsilon(settings.epsilon)
    theirs.setOmega(settings.omega)
    theirs.setSorIterations(settings.sor_iterations)
    theirs.setFixedPointIterations(settings.variational_refinement_iter)
    u, v = theirs.calcUV(first, second, start[..., 0].copy(), start[..., 1].copy())
    greys = [torch.from_numpy(picture).float()[None] for picture in (first, second)]
    flow = torch.from_numpy(start).permute(2, 0, 1)[None]
    mine = refine(*greys, flow, settings)[0].permute(1, 2, 0).numpy()
    increment = np.linalg.norm(np.stack([u, v], axis=-1) - start, axis=-1)
    assert increment.mean() > 0.05  # the refinement does move the flow
    assert np.abs(mine - np.stack([u, v], axis=-1)).max() < 0.01


@pytest.mark.parametrize("size", [(90, 160), (45, 80), (23, 41)])
def test_the_pyramid_is_opencvs(reel_frames, size):
    """Each level is cv2.resize INTER_AREA of the one below, on a real frame: equal on even
    sizes (2x2 means, halves up), and for odd ones (fractions of pixels) one level off on at
    most 1% of the pixels, where float sums land within a hair of a half."""
    picture = cv2.resize(reel_frames[10], size[::-1], interpolation=cv2.INTER_AREA)
    theirs = cv2.resize(picture, (size[1] // 2, size[0] // 2), interpolation=cv2.INTER_AREA)
    mine = area_half(torch.from_numpy(picture).float()[None])[0].numpy()
    off = np.abs(mine - theirs)
    assert off.max() <= 1 and (off > 0).mean() <= (0 if size[0] % 2 == 0 else 0.01)


def test_flow_goes_on_in_plain_torch_when_the_kernels_fail(reel_frames):
    """Where Triton cannot run the kernels (here: CPU tensors without its interpreter, as a GPU
    Triton does not support would fail), the flow is computed without them, and the run's
    notes say so once."""
    estimator = FlowEstimator(finest_scale=0, flow="torch")
    assert not estimator.fused  # a CPU: the kernels are not tried
    estimator.fused = True  # as on a GPU where they fail
    first, second = (torch.from_numpy(reel_frames[k][::8, ::8].copy()) for k in (0, 1))
    flows = estimator.displacements([first, first], [second, second])
    plain = dis_flow(torch.stack([first, first]), torch.stack([second, second]), fused=False)
    assert torch.equal(flows, plain)
    assert not estimator.fused and len(estimator.notes) == 1
    assert estimator.notes[0].startswith("the optical flow's GPU kernels failed (")
    estimator.displacements([first], [second])
    assert len(estimator.notes) == 1
