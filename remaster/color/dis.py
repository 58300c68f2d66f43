"""Dense Inverse Search optical flow (Kroeger et al. 2016) in PyTorch: many pairs in one call,
on any device.

The algorithm, level by level from the coarsest of a Gaussian-free area pyramid to the finest:

1. Inverse search: the first picture is cut into patches (8x8, every 3 pixels); each patch's
   flow starts from the dense flow of the level above at its centre and is improved by inverse
   compositional gradient descent on the patch's mean-normalised squared difference against the
   second picture (bilinear samples, the patch clamped to the border-replicated picture).
   OpenCV sweeps the patches twice, in 8 stripes of rows: from the top left, each patch first
   trying its left and upper neighbours' flows (already descended), then back from the bottom
   right. Here each sweep goes a diagonal at a time, every patch of a diagonal at once
   (`sweep_order`): the same flows as OpenCV's patch by patch, in as many steps as a stripe's
   rows and the grid's columns.
2. Densification: each pixel's flow is the average of the flows of the patches covering it,
   each weighted by 1 / max(1, |its residual at that pixel|).
3. Variational refinement (Brox et al.'s energy as OpenCV's VariationalRefinement states it:
   colour and gradient constancy, robust penalties, flow smoothness), linearised once around
   the densified flow and solved for an increment by fixed-point iterations of red-black SOR.

Parameters are OpenCV's medium preset with the full-resolution level (finest scale 0), as the
pipeline has always run DIS (flow.py). On the reel's real frame pairs the flow is OpenCV's to
0.008 px on average one frame apart and 0.09 to 0.13 px eight apart, half the pixels within
0.0009 px (tests/test_dis.py; rounding, which a sweep carries on from patch to patch).
Everything is float32: the flow does not go to bf16.

On a GPU, the inner loops (the sweeps, densification, the refinement's SOR) run as Triton
kernels (dis_kernels.py, `fused`): the same arithmetic, a kernel a loop instead of a few
hundred small torch operations.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class DisSettings:
    """OpenCV's DISOpticalFlow medium preset, finest scale 0 (the names are OpenCV's)."""

    finest_scale: int = 0
    patch_size: int = 8
    patch_stride: int = 3
    grad_descent_iter: int = 25  # over the two sweeps: 12 steps a patch in each
    variational_refinement_iter: int = 5  # fixed-point iterations
    sor_iterations: int = 5
    alpha: float = 20.0  # smoothness
    delta: float = 5.0  # colour constancy
    gamma: float = 10.0  # gradient constancy
    omega: float = 1.6  # SOR relaxation
    zeta: float = 0.1
    # The robust penalties' floor: DIS gives its refinement 0.01 (getVariationalRefinementEpsilon);
    # 0.001 is the standalone VariationalRefinement's default, which this flow took until that
    # was found. DIS's value brought ours nearer OpenCV's (handheld pairs one frame apart, mean
    # end-point error 0.768 -> 0.756 px) and carries colour better eight frames apart
    # (benchmarks/flow_accuracy.py on all the benchmark's clips, a pair every 4 frames, ab error
    # where checked 1 / 8 frames apart: 0.543 / 1.528 -> 0.543 / 1.429, checked share 0.880 /
    # 0.616 -> 0.882 / 0.633; the flow then tried its neighbours' flows in parallel rounds).
    epsilon: float = 0.01


MEDIUM = DisSettings()
_EPS = 0.001  # OpenCV's floor of the structure tensor's determinant
# OpenCV sweeps the patch rows in this many stripes, each on its own (a flow does not travel
# from one stripe into the next), whatever its number of threads, so that its flow is the same
# on any machine.
STRIPES = 8


def coarsest_scale(height: int, width: int, patch: int) -> int:
    """OpenCV's choice: motion up to a quarter of the frame, no level smaller than a patch."""
    by_motion = int(math.log(max(height, width) / (4.0 * patch)) / math.log(2.0) + 0.5)
    by_size = int(math.log(min(height, width) / patch) / math.log(2.0))
    return min(by_motion, by_size)


# Triton's stated hardware: NVIDIA GPUs of compute capability 8.0 and newer. Older ones (and
# other makers' GPUs, which we have not run) keep the torch steps.
TRITON_CAPABILITY = (8, 0)


def fuses(device: torch.device) -> bool:
    """Whether the inner loops run as Triton kernels by default: on an NVIDIA GPU Triton
    supports, where Triton is installed."""
    if device.type != "cuda" or torch.version.hip is not None or not torch.cuda.is_available():
        return False
    if importlib.util.find_spec("triton") is None:
        return False
    return torch.cuda.get_device_capability(device) >= TRITON_CAPABILITY


def kernels():
    """dis_kernels.py, imported only when used (it needs Triton)."""
    return importlib.import_module("remaster.color.dis_kernels")


@torch.no_grad()
def dis_flow(
    source: Tensor, target: Tensor, settings: DisSettings = MEDIUM, fused: bool | None = None
) -> Tensor:
    """(B, H, W) grey pictures (uint8, or float in [0, 255]) -> (B, 2, H, W) float32 flow
    (x, y) taking each pixel of `source` to where it shows in `target`, as OpenCV's
    `DISOpticalFlow.calc(source, target)`. Pairs are independent; all go at once. `fused`: the
    inner loops as Triton kernels (default: `fuses` the device)."""
    fused = fuses(source.device) if fused is None else fused
    source, target = source.float(), target.float()
    batch, height, width = source.shape
    top = max(coarsest_scale(height, width, settings.patch_size), settings.finest_scale)
    sources, targets = pyramid(source, top), pyramid(target, top)
    flow = source.new_zeros(batch, 2, *sources[top].shape[-2:])
    for level in range(top, settings.finest_scale - 1, -1):
        first, second = sources[level], targets[level]
        if flow.shape[-2:] != first.shape[-2:]:
            flow = 2 * F.interpolate(flow, size=first.shape[-2:], mode="bilinear")
        sparse = inverse_search(first, second, flow, settings, fused)
        flow = densify(first, second, sparse, settings, fused)
        if settings.variational_refinement_iter > 0:
            flow = refine(first, second, flow, settings, fused)
    if settings.finest_scale > 0:
        flow = F.interpolate(flow, size=(height, width), mode="bilinear")
        flow = flow * (1 << settings.finest_scale)
    return flow


def pyramid(picture: Tensor, top: int) -> list[Tensor]:
    """Levels 0..top, each half the one below (sizes rounded down), made as OpenCV's DIS makes
    them: cv2.resize with INTER_AREA of the 8-bit level below. (With a finest scale above 1,
    which remaster does not run, OpenCV makes that finest level by one resize of the picture.)"""
    levels = [picture]
    for _ in range(top):
        levels.append(area_half(levels[-1]))
    return levels


def area_half(picture: Tensor) -> Tensor:
    """(B, H, W) 8-bit values -> (B, H // 2, W // 2), equal to cv2.resize's INTER_AREA.

    OpenCV takes one of two paths. Averaging both ways alike and rounding half to even (as this
    once did, by torch's area interpolation and round) left 12% of the first level's pixels one
    grey level off OpenCV's, half of the fourth level's up to 2 off, and a level of odd size
    (360 rows: 45 -> 22) 11 levels off on average."""
    height, width = picture.shape[-2:]
    if height % 2 == 0 and width % 2 == 0:
        # Whole scales: the mean of each 2x2 block, halves rounded up ((sum + 2) >> 2).
        return torch.floor(F.avg_pool2d(picture[:, None], 2)[:, 0] + 0.5)
    # Otherwise each pixel is the mean of the area it covers, pixels it covers in part weighted
    # by that part, rounded to the nearest (even) value.
    rows = area_weights(height, height // 2, picture.dtype, picture.device)
    cols = area_weights(width, width // 2, picture.dtype, picture.device)
    return torch.round(rows @ picture @ cols.T)


@functools.lru_cache(maxsize=16)
def area_weights(length: int, size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """(size, length): how much of each of `length` pixels each of `size` cells covers, over
    the cell's width (OpenCV's computeResizeAreaTab). Made once per size and device: a film has
    one size, and a copy to the GPU every call would be work thrown away."""
    scale = length / size
    start = torch.arange(size, dtype=torch.float64)[:, None] * scale
    pixel = torch.arange(length, dtype=torch.float64)[None, :]
    cover = (torch.minimum(start + scale, pixel + 1) - torch.maximum(start, pixel)).clamp(min=0)
    width = torch.clamp(length - start, max=scale)
    return (cover / width).to(dtype).to(device)


def sobel(picture: Tensor) -> tuple[Tensor, Tensor]:
    """3x3 Sobel x and y derivatives as OpenCV's spatialGradient takes them for DIS: the border
    reflected about its edge pixel (BORDER_REFLECT_101, its default). Replicated, as this once
    had it, every patch on the picture's edge descended on other slopes: up to 0.40 px from
    OpenCV's on a real pair at the coarsest level, which every finer level starts from."""
    padded = F.pad(picture[:, None], (1, 1, 1, 1), mode="reflect")
    kernel_x, kernel_y = sobel_kernels(picture.dtype, picture.device)
    return F.conv2d(padded, kernel_x)[:, 0], F.conv2d(padded, kernel_y)[:, 0]


@functools.lru_cache(maxsize=8)
def sobel_kernels(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """The x and y kernels, made once per device: copied from the host on every call, they
    stopped the flow from being captured as a CUDA graph (a host-to-device copy inside a capture
    is refused; benchmarks/flow_speed.py on an H200). Captured since: not measured."""
    smooth = torch.tensor([1.0, 2.0, 1.0], dtype=dtype)
    slope = torch.tensor([-1.0, 0.0, 1.0], dtype=dtype)
    kernel_x = (smooth[:, None] * slope[None, :])[None, None]
    kernel_y = (slope[:, None] * smooth[None, :])[None, None]
    return kernel_x.to(device), kernel_y.to(device)


def patches(picture: Tensor, size: int, stride: int) -> Tensor:
    """(B, H, W) -> (B, P, size * size): every patch on the grid, row by row (contiguous, as
    the kernels read it)."""
    return F.unfold(picture[:, None], size, stride=stride).transpose(1, 2).contiguous()


@dataclass
class PatchGrid:
    """The first picture's patches and what the descent needs of them, computed once a level."""

    rows: int
    cols: int
    corners: Tensor  # (P, 2) x, y of each patch's top-left pixel
    values: Tensor  # (B, P, n) the patch's pixels
    grad_x: Tensor  # (B, P, n)
    grad_y: Tensor
    grad_x_sum: Tensor  # (B, P): summed over the patch, once a level, not once a descent step
    grad_y_sum: Tensor
    inverse: Tensor  # (B, P, 3): the structure tensor's inverse, h11, h12, h22

    @classmethod
    def of(cls, first: Tensor, size: int, stride: int) -> PatchGrid:
        height, width = first.shape[-2:]
        rows, cols = 1 + (height - size) // stride, 1 + (width - size) // stride
        ys, xs = torch.meshgrid(
            torch.arange(rows, device=first.device) * stride,
            torch.arange(cols, device=first.device) * stride,
            indexing="ij",
        )
        corners = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float()
        grad_x, grad_y = sobel(first)
        gx, gy = patches(grad_x, size, stride), patches(grad_y, size, stride)
        xx, yy, xy = (gx * gx).sum(-1), (gy * gy).sum(-1), (gx * gy).sum(-1)
        det = xx * yy - xy * xy
        det = torch.where(det.abs() < _EPS, torch.full_like(det, _EPS), det)
        inverse = torch.stack([yy / det, -xy / det, xx / det], dim=-1)
        values = patches(first, size, stride)
        return cls(rows, cols, corners, values, gx, gy, gx.sum(-1), gy.sum(-1), inverse)

    def take(self, patches: Tensor) -> PatchGrid:
        """The grid's `patches` (indices) alone, in that order."""
        return PatchGrid(
            self.rows, self.cols, self.corners[patches], self.values[:, patches],
            self.grad_x[:, patches], self.grad_y[:, patches], self.grad_x_sum[:, patches],
            self.grad_y_sum[:, patches], self.inverse[:, patches],
        )  # fmt: skip


def sample_patches(second: Tensor, grid: PatchGrid, flow: Tensor, size: int) -> Tensor:
    """(B, P, n): the second picture under each patch moved by its flow (B, P, 2), bilinear;
    the patch is clamped as a whole to the picture plus a replicated border."""
    height, width = second.shape[-2:]
    corner = grid.corners[None] + flow
    x0 = corner[..., 0].clamp(-(size - 1.0), width - 1.0)
    y0 = corner[..., 1].clamp(-(size - 1.0), height - 1.0)
    offsets = torch.arange(size, device=second.device, dtype=second.dtype)
    # In grid_sample's coordinates before the patch is spread out: the same numbers, computed on
    # `size` values a patch and axis instead of size * size.
    xs = grid_coordinate(x0[..., None, None] + offsets[None, None, None, :], width)  # (B, P, 1, s)
    ys = grid_coordinate(y0[..., None, None] + offsets[None, None, :, None], height)  # (B, P, s, 1)
    batch, count = flow.shape[:2]
    grid = torch.stack(torch.broadcast_tensors(xs, ys), -1)
    return sample_replicate(second, grid.reshape(batch, count, size * size, 2))


def patch_difference(grid: PatchGrid, second: Tensor, flow: Tensor, size: int):
    """Each patch's difference from the second picture at `flow` (B, P, n), its sum, and its
    mean-normalised SSD: all that propagation compares."""
    diff = sample_patches(second, grid, flow, size) - grid.values
    total = diff.sum(-1)
    ssd = (diff * diff).sum(-1) - total * total / float(size * size)
    return diff, total, ssd


def patch_cost(grid: PatchGrid, second: Tensor, flow: Tensor, size: int):
    """Each patch's mean-normalised SSD at `flow`, and the descent's right-hand side."""
    diff, total, ssd = patch_difference(grid, second, flow, size)
    n = float(size * size)
    du = (diff * grid.grad_x).sum(-1) - total * grid.grad_x_sum / n
    dv = (diff * grid.grad_y).sum(-1) - total * grid.grad_y_sum / n
    return ssd, du, dv


def descend(grid: PatchGrid, second: Tensor, start: Tensor, steps: int, size: int) -> Tensor:
    """Inverse compositional gradient descent from `start`, a patch stopping (after its step)
    once its cost stops falling, as OpenCV's does; a patch that ends further than a patch's
    size from where it started keeps its start.

    Every step runs even when every patch has stopped: asking the device whether any patch is
    still active costs a host synchronisation a step, and on the example reel's frames 10 to
    59% of the patches were still descending at the last step (measured when all the patches
    descended at once), so the loop never ended early (the flow is the same either way: a
    stopped patch stays put)."""
    flow = start
    active = torch.ones(start.shape[:2], dtype=torch.bool, device=start.device)
    previous = torch.full(start.shape[:2], float("inf"), device=start.device)
    h11, h12, h22 = grid.inverse.unbind(-1)
    for _ in range(steps):
        ssd, du, dv = patch_cost(grid, second, flow, size)
        step = torch.stack([h11 * du + h12 * dv, h12 * du + h22 * dv], dim=-1)
        flow = torch.where(active[..., None], flow - step, flow)
        active = active & (ssd < previous)
        previous = torch.where(active, ssd, previous)
    moved = (flow - start).norm(dim=-1) <= size
    return torch.where(moved[..., None], flow, start)


def inverse_search(
    first: Tensor, second: Tensor, dense: Tensor, settings: DisSettings, fused: bool = False
) -> Tensor:
    """(B, rows, cols, 2) flow of every patch of `first` on the grid; `dense` (B, 2, H, W)
    starts it. OpenCV's two sweeps, each over every stripe's patches, a diagonal at a time
    (`sweep_order`): each patch takes the best of its own flow and its two swept neighbours',
    then descends."""
    size, stride = settings.patch_size, settings.patch_stride
    grid = PatchGrid.of(first, size, stride)
    centre = (grid.corners + size // 2).long()
    flow = dense[:, :, centre[:, 1], centre[:, 0]].transpose(1, 2).contiguous()  # (B, P, 2)
    steps = settings.grad_descent_iter // 2
    if fused:
        flow = kernels().sweeps(grid, second, flow, steps, size, STRIPES)
    else:
        for diagonals in sweep_order(grid.rows, grid.cols, STRIPES, first.device):
            flow = sweep(grid, second, flow, steps, size, diagonals)
    return flow.reshape(first.shape[0], grid.rows, grid.cols, 2)


@dataclass(frozen=True)
class Diagonal:
    """Patches one sweep treats together: none depends on another (the grid's indices), and
    each one's two neighbours the sweep has already been through, -1 where there is none."""

    patches: Tensor  # (K,)
    along: Tensor  # (K,) the neighbour before it in its row
    across: Tensor  # (K,) the neighbour before it in its column, within its stripe


@functools.lru_cache(maxsize=16)
def sweep_order(rows: int, cols: int, stripes: int, device: torch.device):
    """OpenCV's two sweeps of a rows x cols patch grid, as diagonals (`Diagonal`), made once per
    grid size and device.

    OpenCV cuts the rows into `stripes` stripes and sweeps each on its own, first row by row
    from the top left, each patch trying its left and upper neighbours' flows (as they are after
    their own descent), then back from the bottom right, trying its right and lower ones. A
    patch depends only on the two neighbours its sweep has already passed, and those lie on the
    diagonal before its own (row in its stripe + column, counted from where the sweep starts).
    So going diagonal by diagonal, all the stripes and pairs at once, gives the sequential
    sweep's flow: as many steps as a stripe's rows and the grid's columns together, each over
    up to `stripes` x (a stripe's rows) patches a pair, instead of one patch at a time."""
    height = -(-rows // stripes)  # a stripe's rows (the last ones may have fewer, or none)
    row = torch.arange(rows)[:, None].expand(rows, cols)
    col = torch.arange(cols)[None, :].expand(rows, cols)
    first_row = (row // height) * height
    last_row = torch.clamp(first_row + height, max=rows) - 1
    index = row * cols + col
    none = torch.full_like(index, -1)
    forward = (
        (row - first_row) + col,
        torch.where(col > 0, index - 1, none),
        torch.where(row > first_row, index - cols, none),
    )
    backward = (
        (last_row - row) + (cols - 1 - col),
        torch.where(col < cols - 1, index + 1, none),
        torch.where(row < last_row, index + cols, none),
    )
    sweeps = []
    for step, along, across in (forward, backward):
        step, order = step.reshape(-1).sort(stable=True)
        counts = torch.bincount(step).tolist()
        parts = [t.reshape(-1)[order].to(device).split(counts) for t in (index, along, across)]
        sweeps.append([Diagonal(*part) for part in zip(*parts, strict=True)])
    return sweeps


def sweep(grid: PatchGrid, second: Tensor, flow: Tensor, steps: int, size: int, diagonals):
    """One of OpenCV's sweeps (`sweep_order`) over (B, P, 2) patch flows."""
    flow = flow.clone()
    for diagonal in diagonals:
        part = grid.take(diagonal.patches)
        start = flow[:, diagonal.patches]
        best = patch_difference(part, second, start, size)[2]
        for neighbour in (diagonal.along, diagonal.across):  # in OpenCV's order; ties keep
            candidate = flow[:, neighbour.clamp(min=0)]
            cost = patch_difference(part, second, candidate, size)[2]
            better = (cost < best) & (neighbour >= 0)
            best = torch.where(better, cost, best)
            start = torch.where(better[..., None], candidate, start)
        flow[:, diagonal.patches] = descend(part, second, start, steps, size)
    return flow


def sample(picture: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """(B, H, W) picture at float positions (B, H, W), bilinear, positions clamped inside."""
    height, width = picture.shape[-2:]
    return warp_replicate(picture, x.clamp(0, width - 1 - _EPS), y.clamp(0, height - 1 - _EPS))


def covering(count: int, length: int, size: int, stride: int, device) -> list[Tensor]:
    """For every position along one axis, the (up to ceil(size / stride)) patches covering it,
    as indices, -1 where none; a position past the last patch takes the last patch."""
    position = torch.arange(length, device=device)
    candidates = []
    for k in range(-(-size // stride)):
        index = position // stride - k
        valid = (index >= 0) & (index < count) & (index * stride + size > position)
        candidates.append(torch.where(valid, index, torch.full_like(index, -1)))
    uncovered = torch.stack(candidates).max(dim=0).values < 0
    candidates[0] = torch.where(uncovered, torch.full_like(position, count - 1), candidates[0])
    return candidates


def densify(
    first: Tensor, second: Tensor, sparse: Tensor, settings: DisSettings, fused: bool = False
) -> Tensor:
    """(B, rows, cols, 2) patch flows -> (B, 2, H, W): each pixel's covering patches' flows,
    weighted by 1 / max(1, |residual|)."""
    batch, rows, cols, _ = sparse.shape
    height, width = first.shape[-2:]
    size, stride, device = settings.patch_size, settings.patch_stride, first.device
    by_row = covering(rows, height, size, stride, device)
    by_col = covering(cols, width, size, stride, device)
    if fused:
        return kernels().densify(first, second, sparse, by_row, by_col, _EPS)
    ys, xs = torch.meshgrid(
        torch.arange(height, device=device, dtype=first.dtype),
        torch.arange(width, device=device, dtype=first.dtype),
        indexing="ij",
    )
    total = first.new_zeros(batch, 2, height, width)
    weights = first.new_zeros(batch, height, width)
    for row_index in by_row:
        for col_index in by_col:
            valid = (row_index[:, None] >= 0) & (col_index[None, :] >= 0)
            flow = sparse[:, row_index.clamp(min=0)][:, :, col_index.clamp(min=0)]  # (B,H,W,2)
            residual = sample(second, xs + flow[..., 0], ys + flow[..., 1]) - first
            weight = valid / residual.abs().clamp(min=1.0)
            total += weight[:, None] * flow.permute(0, 3, 1, 2)
            weights += weight
    return total / weights[:, None]


def refine(
    first: Tensor, second: Tensor, flow: Tensor, settings: DisSettings, fused: bool = False
) -> Tensor:
    """The densified flow plus an increment that lowers the variational energy (see the
    module's docstring); the picture is warped once, as OpenCV's refinement does."""
    height, width = first.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(height, device=first.device, dtype=first.dtype),
        torch.arange(width, device=first.device, dtype=first.dtype),
        indexing="ij",
    )
    warped = warp_replicate(second, xs + flow[:, 0], ys + flow[:, 1])
    terms = DataTerms.of(first, warped)
    if fused:
        return flow + kernels().solve(terms, flow, settings)
    red = ((ys.long() + xs.long()) % 2 == 0)[None]
    colours = red, ~red
    du, dv = torch.zeros_like(first), torch.zeros_like(first)
    for _ in range(settings.variational_refinement_iter):
        a11, a12, a22, b1, b2 = terms.system(du, dv, settings)
        # Each pixel's links to its neighbours, made once for all the SOR's sweeps.
        weights = links(smoothness_weights(flow[:, 0] + du, flow[:, 1] + dv, settings))
        a11, a22, b1, b2 = add_smoothness(a11, a22, b1, b2, flow, weights)
        for _ in range(settings.sor_iterations):
            for cells in colours:
                du, dv = sor_step(du, dv, a11, a12, a22, b1, b2, weights, cells, settings.omega)
    return flow + torch.stack([du, dv], dim=1)


def grid_coordinate(position: Tensor, length: int) -> Tensor:
    """Positions in pixels along an axis of `length` -> grid_sample's coordinates, in which -1
    and 1 are the centres of the end pixels."""
    return 2 * position / max(length - 1, 1) - 1


def grid_positions(x: Tensor, y: Tensor, height: int, width: int) -> Tensor:
    """Positions in pixels -> grid_sample's (..., 2) coordinates."""
    return torch.stack([grid_coordinate(x, width), grid_coordinate(y, height)], -1)


def warp_replicate(picture: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """(B, H, W) picture at float positions (B, h, w) in pixels: cv2.remap, bilinear, the
    border replicated."""
    return sample_replicate(picture, grid_positions(x, y, *picture.shape[-2:]))


def sample_replicate(picture: Tensor, grid: Tensor) -> Tensor:
    """(B, H, W) picture at grid_sample's coordinates (B, h, w, 2), bilinear, the border
    replicated."""
    out = F.grid_sample(
        picture[:, None], grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out[:, 0]


def central(picture: Tensor, axis: int) -> Tensor:
    """OpenCV's Sobel with ksize 1: the central difference, replicated border."""
    if axis == 1:  # x
        padded = F.pad(picture[:, None], (1, 1, 0, 0), mode="replicate")[:, 0]
        return padded[..., 2:] - padded[..., :-2]
    padded = F.pad(picture[:, None], (0, 0, 1, 1), mode="replicate")[:, 0]
    return padded[..., 2:, :] - padded[..., :-2, :]


@dataclass
class DataTerms:
    """The derivatives the linearised data term needs, at the flow the refinement starts from."""

    ix: Tensor
    iy: Tensor
    iz: Tensor
    ixx: Tensor
    ixy: Tensor
    iyy: Tensor
    ixz: Tensor
    iyz: Tensor

    @classmethod
    def of(cls, first: Tensor, warped: Tensor) -> DataTerms:
        average, iz = (first + warped) / 2, warped - first
        ix, iy = central(average, 1), central(average, 0)
        return cls(
            ix, iy, iz, central(ix, 1), central(ix, 0), central(iy, 0), central(iz, 1),
            central(iz, 0),
        )  # fmt: skip

    def system(self, du: Tensor, dv: Tensor, settings: DisSettings):
        """The per-pixel 2x2 system of colour and gradient constancy at increment (du, dv)."""
        zeta2, eps2 = settings.zeta**2, settings.epsilon**2
        norm = self.ix * self.ix + self.iy * self.iy + zeta2
        residual = self.iz + self.ix * du + self.iy * dv
        weight = (settings.delta / 2 / torch.sqrt(residual * residual / norm + eps2)) / norm
        a11 = weight * self.ix * self.ix + zeta2
        a12 = weight * self.ix * self.iy
        a22 = weight * self.iy * self.iy + zeta2
        b1 = -weight * self.iz * self.ix
        b2 = -weight * self.iz * self.iy
        norm_x = self.ixx * self.ixx + self.ixy * self.ixy + zeta2
        norm_y = self.iyy * self.iyy + self.ixy * self.ixy + zeta2
        rx = self.ixz + self.ixx * du + self.ixy * dv
        ry = self.iyz + self.ixy * du + self.iyy * dv
        weight = settings.gamma / 2 / torch.sqrt(rx * rx / norm_x + ry * ry / norm_y + eps2)
        a11 = a11 + weight * (self.ixx * self.ixx / norm_x + self.ixy * self.ixy / norm_y)
        a12 = a12 + weight * (self.ixx * self.ixy / norm_x + self.ixy * self.iyy / norm_y)
        a22 = a22 + weight * (self.ixy * self.ixy / norm_x + self.iyy * self.iyy / norm_y)
        b1 = b1 - weight * (self.ixx * self.ixz / norm_x + self.ixy * self.iyz / norm_y)
        b2 = b2 - weight * (self.ixy * self.ixz / norm_x + self.iyy * self.iyz / norm_y)
        return a11, a12, a22, b1, b2


def forward_difference(field: Tensor, axis: int) -> Tensor:
    """Next minus this along x (axis 1) or y (axis 0); 0 at the far edge."""
    if axis == 1:
        return F.pad(field[..., 1:] - field[..., :-1], (0, 1))
    return F.pad(field[..., 1:, :] - field[..., :-1, :], (0, 0, 0, 1))


def smoothness_weights(u: Tensor, v: Tensor, settings: DisSettings) -> Tensor:
    """Each pixel's robust smoothness weight, which also joins it to its right and lower
    neighbours."""
    ux, uy = forward_difference(u, 1), forward_difference(u, 0)
    vx, vy = forward_difference(v, 1), forward_difference(v, 0)
    squared = ux * ux + uy * uy + vx * vx + vy * vy + settings.epsilon**2
    return settings.alpha / 2 / torch.sqrt(squared)


def links(weight: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The weights of each pixel's links to its left, right, upper and lower neighbours (0
    where there is none)."""
    right = F.pad(weight[..., :-1], (0, 1))
    left = F.pad(weight[..., :-1], (1, 0))
    down = F.pad(weight[..., :-1, :], (0, 0, 0, 1))
    up = F.pad(weight[..., :-1, :], (0, 0, 1, 0))
    return left, right, up, down


def shifted(field: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each pixel's left, right, upper and lower neighbour's value (the edge repeats)."""
    padded = F.pad(field[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    return (
        padded[..., 1:-1, :-2],
        padded[..., 1:-1, 2:],
        padded[..., :-2, 1:-1],
        padded[..., 2:, 1:-1],
    )


def add_smoothness(a11, a22, b1, b2, flow: Tensor, weights: tuple[Tensor, ...]):
    """The smoothness term's part of the system: each link (`links`) pulls the flow toward its
    neighbour's (the increment's share is solved by the SOR)."""
    total = sum(weights)
    pull_u = sum(w * (n - flow[:, 0]) for w, n in zip(weights, shifted(flow[:, 0]), strict=True))
    pull_v = sum(w * (n - flow[:, 1]) for w, n in zip(weights, shifted(flow[:, 1]), strict=True))
    return a11 + total, a22 + total, b1 + pull_u, b2 + pull_v


def sor_step(du, dv, a11, a12, a22, b1, b2, weights: tuple[Tensor, ...], cells, omega: float):
    """One over-relaxed Gauss-Seidel update of the `cells` (red or black) of the increment;
    `weights`: each pixel's links (`links`)."""
    sigma_u = sum(w * n for w, n in zip(weights, shifted(du), strict=True))
    new_u = du + omega * ((sigma_u + b1 - dv * a12) / a11 - du)
    du = torch.where(cells, new_u, du)
    sigma_v = sum(w * n for w, n in zip(weights, shifted(dv), strict=True))
    new_v = dv + omega * ((sigma_v + b2 - du * a12) / a22 - dv)
    dv = torch.where(cells, new_v, dv)
    return du, dv
