"""dis.py's inner loops as Triton kernels, for a GPU: each loop over patches or pixels is one
kernel launch instead of a few hundred small torch operations.

The torch flow launches about 29,000 kernels for one 256x256 pair, most of them elementwise
steps over every patch's 64 pixels, each writing its (pairs, patches, 64) result to memory for
the next to read. On one H200 that made it launch-bound at small sizes (470 ms of host time
against 39 ms of GPU time a 256x256 pair) and memory-bound at large ones (75 ms a 1280x720 pair,
64 pairs a call). Here:

- each of the inverse search's two sweeps is one kernel, a program a stripe of patch rows and
  pair (dis.sweep_order): it goes through its stripe a diagonal at a time, each diagonal's
  patches together, their pixels, gradients and flows in registers while they try their
  neighbours' flows and descend, the second picture read where each patch lands (it stays in
  cache);
- densification is one kernel;
- the variational refinement is three kinds of kernel: the smoothness weights, the per-pixel
  system, and one red or black half of an SOR sweep.

The arithmetic is dis.py's, step for step, with the pictures sampled as grid_sample samples them
(the same coordinates, weights and order of sums), so the flows differ from the torch flow's
only by rounding: fused multiply-adds, and the order of a patch's sums. The pyramid, the patch
grid's structure tensors and the data terms, once a level, stay torch. Measured on that H200
(benchmarks/flow_speed.py, 1280x720, 16 pairs a call) with the inverse search the flow had
before its sweeps were OpenCV's (parallel rounds of neighbours' flows and a descent kernel of
all the patches at once): 4.9 ms a flow, against 60.3 for the same flow in plain torch and 43.4
for OpenCV's on its 16 cores; 0.003 px from plain torch's. With the sweeps: not measured.

Triton compiles these for the GPU. With TRITON_INTERPRET=1 set before Triton is first imported
it runs them on the CPU instead, slowly: that is how the tests check them on a machine without
a GPU (tests/dis_kernel_cases.py, in a process of its own).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

PIXELS_A_PROGRAM = 256  # pixels a densification or refinement program computes
WARPS = 4  # warps a program (Triton's default)
# A sweep program holds a diagonal's patches, up to a stripe's rows, 64 pixels each, a warp
# holding whole patches (`_sweep_kernel`), so it gets a warp for every 4 of them (and no fewer
# than WARPS). Compiled for an H100/H200 (sm_90, Triton 3.8, ptxas -v, no GPU needed): 32
# patches on 4 warps take 255 registers a thread and spill 12 bytes; on 8 warps 169 and none;
# 16 patches on 4 warps 161, none. What either costs in time there: not measured.
PATCHES_A_WARP = 4


@triton.jit
def _bilinear(picture, x, y, height, width):
    """`picture` (one pair's plane) at pixel positions x, y: grid_sample's bilinear with the
    border replicated and align_corners, through the same normalised coordinates (dis.py's
    grid_coordinate, then grid_sample's own unnormalisation and clipping)."""
    last_x, last_y = width - 1.0, height - 1.0  # every level is wider than a patch
    x = ((2 * x / last_x - 1) + 1) / 2 * last_x
    y = ((2 * y / last_y - 1) + 1) / 2 * last_y
    x = tl.minimum(tl.maximum(x, 0.0), last_x)
    y = tl.minimum(tl.maximum(y, 0.0), last_y)
    x0f, y0f = tl.floor(x), tl.floor(y)
    x0, y0 = x0f.to(tl.int32), y0f.to(tl.int32)
    east, south = x0 + 1 < width, y0 + 1 < height
    nw = (x0f + 1 - x) * (y0f + 1 - y)
    ne = (x - x0f) * (y0f + 1 - y)
    sw = (x0f + 1 - x) * (y - y0f)
    se = (x - x0f) * (y - y0f)
    at = y0 * width + x0
    out = tl.load(picture + at) * nw
    out += tl.load(picture + at + 1, mask=east, other=0.0) * ne
    out += tl.load(picture + at + width, mask=south, other=0.0) * sw
    out += tl.load(picture + at + width + 1, mask=east & south, other=0.0) * se
    return out


@triton.jit
def _patch_difference(
    second, values, corner_x, corner_y, u, v, height, width, pixel, SIZE: tl.constexpr
):  # fmt: skip
    """The differences of the second picture under each patch moved by (u, v) from its pixels
    `values`, the patch clamped as a whole (dis.sample_patches); in `_sweep_kernel`'s layout,
    `pixel` each element's pixel of its patch."""
    x0 = tl.minimum(tl.maximum(corner_x + u, -(SIZE - 1.0)), width - 1.0)
    y0 = tl.minimum(tl.maximum(corner_y + v, -(SIZE - 1.0)), height - 1.0)
    x = x0[None, :, None] + (pixel % SIZE).to(tl.float32)
    y = y0[None, :, None] + (pixel // SIZE).to(tl.float32)
    return _bilinear(second, x, y, height, width) - values


@triton.jit
def _patch_sum(values):
    """Each patch's sum of `values` in `_sweep_kernel`'s layout."""
    return tl.sum(tl.sum(values, axis=2), axis=0)


@triton.jit
def _ssd(diff, AREA: tl.constexpr):
    """The mean-normalised SSD of each patch's differences (dis.patch_difference)."""
    total = _patch_sum(diff)
    return _patch_sum(diff * diff) - total * total / AREA


@triton.jit
def _pixel_block(height, width, BLOCK: tl.constexpr):
    """This program's BLOCK pixels of its pair: their index in the plane, which are real, their
    y and x, and where the pair's plane starts."""
    pixel = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = pixel < height * width
    pixel = tl.where(live, pixel, 0)
    plane = tl.program_id(1).to(tl.int64) * height * width
    return pixel, live, pixel // width, pixel % width, plane


@triton.jit
def _sweep_kernel(
    second, values, grad_x, grad_y, grad_x_sum, grad_y_sum, inverse, corners, flow,
    count, rows, cols, stripe_rows, height, width, steps,
    BACKWARD: tl.constexpr, SIZE: tl.constexpr, AREA: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """One of dis.sweep_order's sweeps over one stripe of one pair's patches, in place on
    `flow`: the stripe's diagonals in order, each diagonal's patches (one a row of the stripe,
    BLOCK >= its rows) at once, each taking the best of its own and its two swept neighbours'
    flows (dis.sweep), then descending (dis.descend), its pixels, gradients and flow in
    registers. Stripes and pairs are programs of their own: no flow passes between them."""
    stripe, pair = tl.program_id(0), tl.program_id(1)
    first_row = stripe * stripe_rows
    last_row = tl.minimum(first_row + stripe_rows, rows) - 1
    own_rows = last_row - first_row + 1  # none, in a stripe past the grid's last row
    picture = second + pair.to(tl.int64) * height * width
    k = tl.arange(0, BLOCK)  # each patch's row in the stripe, from where the sweep starts
    # A diagonal's pixels as (2, BLOCK, AREA / 2): each patch's two halves, the patches along
    # the middle. Triton lays a tensor's last axis across a warp's 32 threads and its warps
    # along the next, so a warp holds whole patches and their sums need no other warp. As
    # (BLOCK, AREA) a patch spanned two warps: each of a descent step's four sums met the other
    # warp through shared memory, two barriers each (sm_90: 20-28 barriers in the kernel, 214-224
    # registers; now 4 and 161-169). What that is worth in time on a GPU: not measured.
    pixel = tl.arange(0, 2)[:, None, None] * (AREA // 2) + tl.arange(0, AREA // 2)[None, None, :]
    # The neighbours the sweep has passed: before in the row, and in the row before.
    along, across = (1, cols) if BACKWARD else (-1, -cols)
    diagonals = tl.where(own_rows > 0, own_rows + cols - 1, 0)
    for step in range(diagonals):
        from_start = step - k  # each patch's column, from where the sweep starts
        live = (k < own_rows) & (from_start >= 0) & (from_start < cols)
        if BACKWARD:
            r, c = last_row - k, cols - 1 - from_start
        else:
            r, c = first_row + k, from_start
        patch = tl.where(live, r * cols + c, 0)
        row = pair.to(tl.int64) * count + patch
        at = row[None, :, None] * AREA + pixel
        own = tl.load(values + at)
        corner_x, corner_y = tl.load(corners + patch * 2), tl.load(corners + patch * 2 + 1)
        # Flows this program wrote a diagonal before: past the cache, after the barrier below.
        u = tl.load(flow + row * 2, cache_modifier=".cg")
        v = tl.load(flow + row * 2 + 1, cache_modifier=".cg")
        diff = _patch_difference(picture, own, corner_x, corner_y, u, v, height, width, pixel, SIZE)
        cost = _ssd(diff, AREA)
        for which in range(2):  # in OpenCV's order; a tie keeps the earlier
            offset = tl.where(which == 0, along, across)
            has = live & tl.where(which == 0, from_start > 0, k > 0)
            other = tl.where(has, row + offset, row)
            tu = tl.load(flow + other * 2, cache_modifier=".cg")
            tv = tl.load(flow + other * 2 + 1, cache_modifier=".cg")
            diff = _patch_difference(
                picture, own, corner_x, corner_y, tu, tv, height, width, pixel, SIZE
            )
            tried = _ssd(diff, AREA)
            better = has & (tried < cost)
            cost = tl.where(better, tried, cost)
            u, v = tl.where(better, tu, u), tl.where(better, tv, v)
        gx, gy = tl.load(grad_x + at), tl.load(grad_y + at)
        gx_sum, gy_sum = tl.load(grad_x_sum + row), tl.load(grad_y_sum + row)
        h11, h12 = tl.load(inverse + row * 3), tl.load(inverse + row * 3 + 1)
        h22 = tl.load(inverse + row * 3 + 2)
        u0, v0 = u, v
        active = live
        previous = tl.full([BLOCK], float("inf"), tl.float32)
        for _ in range(steps):
            diff = _patch_difference(
                picture, own, corner_x, corner_y, u, v, height, width, pixel, SIZE
            )
            total = _patch_sum(diff)
            ssd = _patch_sum(diff * diff) - total * total / AREA
            du = _patch_sum(diff * gx) - total * gx_sum / AREA
            dv = _patch_sum(diff * gy) - total * gy_sum / AREA
            u = tl.where(active, u - (h11 * du + h12 * dv), u)
            v = tl.where(active, v - (h12 * du + h22 * dv), v)
            active = active & (ssd < previous)
            previous = tl.where(active, ssd, previous)
        moved = tl.sqrt_rn((u - u0) * (u - u0) + (v - v0) * (v - v0)) <= SIZE
        tl.store(flow + row * 2, tl.where(moved, u, u0), mask=live)
        tl.store(flow + row * 2 + 1, tl.where(moved, v, v0), mask=live)
        tl.debug_barrier()  # this diagonal's flows, seen by every warp before the next's


@triton.jit
def _densify_kernel(
    first, second, sparse, by_row, by_col, out, height, width, rows, cols,
    EPS: tl.constexpr, COVER: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """dis.densify for BLOCK pixels of one pair: their covering patches' flows, weighted by
    1 / max(1, |residual|), summed in dis.densify's order."""
    pixel, live, y, x, plane = _pixel_block(height, width, BLOCK)
    pair = tl.program_id(1)
    here = tl.load(first + plane + pixel)
    total_u = tl.zeros([BLOCK], tl.float32)
    total_v = tl.zeros([BLOCK], tl.float32)
    weights = tl.zeros([BLOCK], tl.float32)
    for i in tl.static_range(COVER):
        patch_row = tl.load(by_row + i * height + y)
        for j in tl.static_range(COVER):
            patch_col = tl.load(by_col + j * width + x)
            valid = (patch_row >= 0) & (patch_col >= 0)
            at = (pair * rows + tl.maximum(patch_row, 0)) * cols + tl.maximum(patch_col, 0)
            fu, fv = tl.load(sparse + at * 2), tl.load(sparse + at * 2 + 1)
            px = tl.minimum(tl.maximum(x.to(tl.float32) + fu, 0.0), width - 1 - EPS)
            py = tl.minimum(tl.maximum(y.to(tl.float32) + fv, 0.0), height - 1 - EPS)
            residual = _bilinear(second + plane, px, py, height, width) - here
            weight = valid.to(tl.float32) / tl.maximum(tl.abs(residual), 1.0)
            total_u += weight * fu
            total_v += weight * fv
            weights += weight
    tl.store(out + 2 * plane + pixel, total_u / weights, mask=live)
    tl.store(out + 2 * plane + height * width + pixel, total_v / weights, mask=live)


@triton.jit
def _smoothness_kernel(
    flow, du, dv, out, height, width, HALF_ALPHA: tl.constexpr, EPS2: tl.constexpr,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """dis.smoothness_weights: each pixel's robust smoothness weight, from forward differences
    of the flow plus its increment (0 at the far edges)."""
    pixel, live, y, x, plane = _pixel_block(height, width, BLOCK)
    u_plane, v_plane = flow + 2 * plane, flow + 2 * plane + height * width
    right = tl.where(x < width - 1, pixel + 1, pixel)
    down = tl.where(y < height - 1, pixel + width, pixel)
    u = tl.load(u_plane + pixel) + tl.load(du + plane + pixel)
    v = tl.load(v_plane + pixel) + tl.load(dv + plane + pixel)
    ux = tl.load(u_plane + right) + tl.load(du + plane + right) - u
    uy = tl.load(u_plane + down) + tl.load(du + plane + down) - u
    vx = tl.load(v_plane + right) + tl.load(dv + plane + right) - v
    vy = tl.load(v_plane + down) + tl.load(dv + plane + down) - v
    squared = ux * ux + uy * uy + vx * vx + vy * vy + EPS2
    tl.store(out + plane + pixel, HALF_ALPHA / tl.sqrt_rn(squared), mask=live)


@triton.jit
def _links(weight, pixel, x, y, height, width):
    """A pixel's link weights to its left, right, upper and lower neighbours (dis.links)."""
    left = tl.where(x > 0, tl.load(weight + tl.where(x > 0, pixel - 1, pixel)), 0.0)
    right = tl.where(x < width - 1, tl.load(weight + pixel), 0.0)
    up = tl.where(y > 0, tl.load(weight + tl.where(y > 0, pixel - width, pixel)), 0.0)
    down = tl.where(y < height - 1, tl.load(weight + pixel), 0.0)
    return left, right, up, down


@triton.jit
def _neighbours(field, pixel, x, y, height, width):
    """A pixel's left, right, upper and lower neighbours' values, the edge repeated."""
    left = tl.load(field + tl.where(x > 0, pixel - 1, pixel))
    right = tl.load(field + tl.where(x < width - 1, pixel + 1, pixel))
    up = tl.load(field + tl.where(y > 0, pixel - width, pixel))
    down = tl.load(field + tl.where(y < height - 1, pixel + width, pixel))
    return left, right, up, down


@triton.jit
def _system_kernel(
    terms, flow, du, dv, weight, system, height, width,
    HALF_DELTA: tl.constexpr, HALF_GAMMA: tl.constexpr, ZETA2: tl.constexpr,
    EPS2: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """dis.DataTerms.system and dis.add_smoothness: each pixel's 2x2 system (a11, a12, a22, b1,
    b2) at the increment (du, dv). `terms`: (pairs, 8, H, W) ix, iy, iz, ixx, ixy, iyy, ixz,
    iyz."""
    pixel, live, y, x, plane = _pixel_block(height, width, BLOCK)
    size = height * width
    at = terms + 8 * plane + pixel
    ix, iy, iz = tl.load(at), tl.load(at + size), tl.load(at + 2 * size)
    ixx, ixy, iyy = tl.load(at + 3 * size), tl.load(at + 4 * size), tl.load(at + 5 * size)
    ixz, iyz = tl.load(at + 6 * size), tl.load(at + 7 * size)
    step_u, step_v = tl.load(du + plane + pixel), tl.load(dv + plane + pixel)
    norm = ix * ix + iy * iy + ZETA2
    residual = iz + ix * step_u + iy * step_v
    w = (HALF_DELTA / tl.sqrt_rn(residual * residual / norm + EPS2)) / norm
    a11 = w * ix * ix + ZETA2
    a12 = w * ix * iy
    a22 = w * iy * iy + ZETA2
    b1 = -w * iz * ix
    b2 = -w * iz * iy
    norm_x = ixx * ixx + ixy * ixy + ZETA2
    norm_y = iyy * iyy + ixy * ixy + ZETA2
    rx = ixz + ixx * step_u + ixy * step_v
    ry = iyz + ixy * step_u + iyy * step_v
    w = HALF_GAMMA / tl.sqrt_rn(rx * rx / norm_x + ry * ry / norm_y + EPS2)
    a11 = a11 + w * (ixx * ixx / norm_x + ixy * ixy / norm_y)
    a12 = a12 + w * (ixx * ixy / norm_x + ixy * iyy / norm_y)
    a22 = a22 + w * (ixy * ixy / norm_x + iyy * iyy / norm_y)
    b1 = b1 - w * (ixx * ixz / norm_x + ixy * iyz / norm_y)
    b2 = b2 - w * (ixy * ixz / norm_x + iyy * iyz / norm_y)
    left, right, up, down = _links(weight + plane, pixel, x, y, height, width)
    u_plane, v_plane = flow + 2 * plane, flow + 2 * plane + size
    u, v = tl.load(u_plane + pixel), tl.load(v_plane + pixel)
    ul, ur, uu, ud = _neighbours(u_plane, pixel, x, y, height, width)
    vl, vr, vu, vd = _neighbours(v_plane, pixel, x, y, height, width)
    total = left + right + up + down
    pull_u = left * (ul - u) + right * (ur - u) + up * (uu - u) + down * (ud - u)
    pull_v = left * (vl - v) + right * (vr - v) + up * (vu - v) + down * (vd - v)
    out = system + 5 * plane + pixel
    tl.store(out, a11 + total, mask=live)
    tl.store(out + size, a12, mask=live)
    tl.store(out + 2 * size, a22 + total, mask=live)
    tl.store(out + 3 * size, b1 + pull_u, mask=live)
    tl.store(out + 4 * size, b2 + pull_v, mask=live)


@triton.jit
def _sor_kernel(
    du, dv, system, weight, height, width, parity,
    OMEGA: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """dis.sor_step on the pixels whose x + y has `parity` (0 red, 1 black), in place: they read
    only the other colour's neighbours, which this half-sweep leaves as they are."""
    pixel, live, y, x, plane = _pixel_block(height, width, BLOCK)
    live = live & ((x + y) % 2 == parity)
    size = height * width
    at = system + 5 * plane + pixel
    a11, a12, a22 = tl.load(at), tl.load(at + size), tl.load(at + 2 * size)
    b1, b2 = tl.load(at + 3 * size), tl.load(at + 4 * size)
    left, right, up, down = _links(weight + plane, pixel, x, y, height, width)
    u, v = tl.load(du + plane + pixel), tl.load(dv + plane + pixel)
    ul, ur, uu, ud = _neighbours(du + plane, pixel, x, y, height, width)
    sigma_u = left * ul + right * ur + up * uu + down * ud
    u = u + OMEGA * ((sigma_u + b1 - v * a12) / a11 - u)
    vl, vr, vu, vd = _neighbours(dv + plane, pixel, x, y, height, width)
    sigma_v = left * vl + right * vr + up * vu + down * vd
    v = v + OMEGA * ((sigma_v + b2 - u * a12) / a22 - v)
    tl.store(du + plane + pixel, u, mask=live)
    tl.store(dv + plane + pixel, v, mask=live)


def _programs(count: int, block: int, pairs: int) -> tuple[int, int]:
    return triton.cdiv(count, block), pairs


def sweep_shape(stripe_rows: int) -> tuple[int, int]:
    """A sweep program's block (patches a diagonal holds at most) and warps."""
    block = triton.next_power_of_2(stripe_rows)
    return block, min(32, max(WARPS, block // PATCHES_A_WARP))  # 32: the most a program may have


def sweeps(grid, second: Tensor, flow: Tensor, steps: int, size: int, stripes: int) -> Tensor:
    """dis.inverse_search's two sweeps, one kernel each: a program a stripe and pair."""
    pairs, count = flow.shape[:2]
    second, flow = second.contiguous(), flow.contiguous().clone()
    stripe_rows = triton.cdiv(grid.rows, stripes)
    block, warps = sweep_shape(stripe_rows)
    for backward in (False, True):
        _sweep_kernel[(stripes, pairs)](
            second, grid.values, grid.grad_x, grid.grad_y, grid.grad_x_sum, grid.grad_y_sum,
            grid.inverse, grid.corners, flow, count, grid.rows, grid.cols, stripe_rows,
            second.shape[-2], second.shape[-1], steps, BACKWARD=backward, SIZE=size,
            AREA=size * size, BLOCK=block, num_warps=warps,
        )  # fmt: skip
    return flow


def densify(
    first: Tensor, second: Tensor, sparse: Tensor, by_row: list, by_col: list, eps: float
) -> Tensor:
    """dis.densify, one kernel; `by_row`, `by_col`: the patches covering each row and column
    (dis.covering), `eps`: how far inside the picture positions are clamped."""
    pairs, rows, cols, _ = sparse.shape
    height, width = first.shape[-2:]
    by_row = torch.stack(by_row).int().contiguous()
    by_col = torch.stack(by_col).int().contiguous()
    out = first.new_empty(pairs, 2, height, width)
    _densify_kernel[_programs(height * width, PIXELS_A_PROGRAM, pairs)](
        first.contiguous(), second.contiguous(), sparse.contiguous(), by_row, by_col, out,
        height, width, rows, cols, EPS=eps, COVER=by_row.shape[0], BLOCK=PIXELS_A_PROGRAM,
        num_warps=WARPS,
    )  # fmt: skip
    return out


def solve(terms, flow: Tensor, settings) -> Tensor:
    """The refinement's fixed-point iterations of red-black SOR (dis.refine's loop): the
    increment (pairs, 2, H, W). `terms`: dis.DataTerms."""
    pairs, _, height, width = flow.shape
    stacked = torch.stack(
        [terms.ix, terms.iy, terms.iz, terms.ixx, terms.ixy, terms.iyy, terms.ixz, terms.iyz], 1
    ).contiguous()
    flow = flow.contiguous()
    du = flow.new_zeros(pairs, height, width)
    dv = flow.new_zeros(pairs, height, width)
    weight = flow.new_empty(pairs, height, width)
    system = flow.new_empty(pairs, 5, height, width)
    programs = _programs(height * width, PIXELS_A_PROGRAM, pairs)
    eps2 = settings.epsilon**2
    for _ in range(settings.variational_refinement_iter):
        _smoothness_kernel[programs](
            flow, du, dv, weight, height, width, HALF_ALPHA=settings.alpha / 2, EPS2=eps2,
            BLOCK=PIXELS_A_PROGRAM, num_warps=WARPS,
        )  # fmt: skip
        _system_kernel[programs](
            stacked, flow, du, dv, weight, system, height, width,
            HALF_DELTA=settings.delta / 2, HALF_GAMMA=settings.gamma / 2,
            ZETA2=settings.zeta**2, EPS2=eps2, BLOCK=PIXELS_A_PROGRAM, num_warps=WARPS,
        )  # fmt: skip
        for _ in range(settings.sor_iterations):
            for parity in (0, 1):
                _sor_kernel[programs](
                    du, dv, system, weight, height, width, parity, OMEGA=settings.omega,
                    BLOCK=PIXELS_A_PROGRAM, num_warps=WARPS,
                )  # fmt: skip
    return torch.stack([du, dv], dim=1)
