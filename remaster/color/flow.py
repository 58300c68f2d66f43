"""Dense optical flow between grey pictures (DIS), and how far to trust it, on the device.

Shared by the colour methods (carrying a reference's colour onto a frame), `remaster eval`
(the warp error along the truth's motion) and cut detection, so all three follow motion the
same way.

Two implementations of the same algorithm: OpenCV's (`opencv`), a batch's pairs side by side on
the machine's cores, and ours in PyTorch (`torch`, dis.py), which runs many pairs at once on any
device, its inner loops as Triton kernels on a GPU (dis_kernels.py). `auto` takes the faster,
by measurement (benchmarks/flow_speed.py, the medium preset at full resolution, 1280x720, 16
pairs a call):
- on a GPU with Triton, ours: one H200 with 16 cores, 4.9 ms a flow against OpenCV's 43 side by
  side on the cores (ours without the kernels: 60);
- elsewhere, OpenCV's: on 2 cores it is 20-30 times faster than ours (640x360: 50-180 ms
  against 1.3-3.4 s a flow).
Either way the flow lands on the device as tensors: warps, checks and masks are torch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from remaster.color.dis import DisSettings, dis_flow, fuses, grid_positions
from remaster.color.methods import FLOWS

# Forward-backward check (Sundaram et al. 2010): following the flow there and back must land
# within 0.5 px plus 1% of the squared flow lengths.
LOOP_SLACK, LOOP_SHARE = 0.5, 0.01

CORES = len(os.sched_getaffinity(0))  # the cores this process may use, for OpenCV's flows


def flow_for(flow: str, device: torch.device | str = "cpu") -> str:
    """`auto` -> the faster implementation on `device` (see the module's docstring)."""
    if flow != "auto":
        return flow
    return "torch" if fuses(torch.device(device)) else "opencv"


@functools.lru_cache(maxsize=8)
def pixel_positions(height: int, width: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Every pixel's x and y (made once per size: a film has one or two)."""
    return torch.meshgrid(
        torch.arange(width, device=device, dtype=torch.float32),
        torch.arange(height, device=device, dtype=torch.float32),
        indexing="xy",
    )


def sampling_maps(displacement: Tensor) -> tuple[Tensor, Tensor]:
    """(..., 2, H, W) displacements -> the x and y positions each pixel samples, (..., H, W)."""
    xs, ys = pixel_positions(*displacement.shape[-2:], displacement.device)
    return xs + displacement[..., 0, :, :], ys + displacement[..., 1, :, :]


def lands_inside(map_x: Tensor, map_y: Tensor, shape: tuple[int, int]) -> Tensor:
    """Where sampling maps point inside a picture of `shape` (height, width)."""
    height, width = shape
    return (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)


def sampling_grid(map_x: Tensor, map_y: Tensor, shape: tuple[int, int]) -> Tensor:
    """Maps (H, W), or a batch of them (N, H, W), of positions in a picture of `shape` ->
    grid_sample's (1 or N, H, W, 2) grid, in which -1 and 1 are the centres of the corner
    pixels."""
    return grid_positions(map_x, map_y, *shape).view(-1, *map_x.shape[-2:], 2)


def sample_grid(image: Tensor, grid: Tensor) -> Tensor:
    """`image` at a sampling grid, bilinear, the border replicated. With one grid (1, h, w, 2),
    one picture: (H, W) or (C, H, W); with a batch of grids (N, h, w, 2), a picture for each:
    (N, H, W) or (N, C, H, W). The result has the image's shape at the grid's size."""
    if image.ndim == 2:
        planes = image[None, None]
    elif image.ndim == 3:
        planes = image[None] if len(grid) == 1 else image[:, None]
    else:
        planes = image
    out = F.grid_sample(
        planes.float(), grid, mode="bilinear", padding_mode="border", align_corners=True
    )
    return out.view(*image.shape[:-2], *out.shape[-2:])


def remap(image: Tensor, map_x: Tensor, map_y: Tensor) -> Tensor:
    """`image` sampled at the maps (as sample_grid, one picture or a batch), bilinear, the
    border replicated (cv2.remap's INTER_LINEAR and BORDER_REPLICATE, without its 1/32-pixel
    rounding)."""
    return sample_grid(image, sampling_grid(map_x, map_y, tuple(image.shape[-2:])))


@dataclass
class Flow:
    """Where each pixel of a target picture shows in a source picture, and whether to trust it;
    or, with a leading dimension N, of a batch of pairs (`FlowEstimator.between_many`), which
    warps pictures and checks them all at once."""

    map_x: Tensor  # (H, W) or (N, H, W) float32: the source x each target pixel comes from
    map_y: Tensor
    consistent: Tensor  # (H, W) or (N, H, W) bool: passes the forward-backward check
    inside: Tensor  # (H, W) or (N, H, W) bool: lands inside the source

    @property
    def visible(self) -> Tensor:
        return self.consistent & self.inside

    @functools.cached_property
    def grid(self) -> Tensor:
        """The maps as grid_sample takes them, made once for every warp along this flow."""
        return sampling_grid(self.map_x, self.map_y, tuple(self.map_x.shape[-2:]))

    def warp(self, source_image: Tensor) -> Tensor:
        """An image of the source (of the target's size) brought onto the target's pixels:
        (H, W) or (C, H, W); for a batch, one for each pair, (N, H, W) or (N, C, H, W)."""
        return sample_grid(source_image, self.grid)

    def unbind(self) -> list[Flow]:
        """A batch's flows, one by one: views of its tensors, its grid included (one frame's
        warps then make no grid of their own)."""
        flows = []
        for k, grid in enumerate(self.grid.split(1)):
            flow = Flow(self.map_x[k], self.map_y[k], self.consistent[k], self.inside[k])
            flow.__dict__["grid"] = grid  # where functools.cached_property keeps its value
            flows.append(flow)
        return flows


class FlowEstimator:
    """DIS optical flow, medium preset; `finest_scale=0` adds the full-resolution level (the
    preset stops at half resolution). `flow`: which implementation; flows come back on
    `device`. A call may ask for a coarser look than the estimator's (`finest_scale`)."""

    def __init__(
        self, finest_scale: int | None = None, flow: str = "opencv", device: str = "cpu"
    ) -> None:
        if flow not in FLOWS[1:]:
            raise ValueError(f"unknown flow {flow!r}; choose from {', '.join(FLOWS[1:])}")
        self.flow, self.device = flow, torch.device(device)
        self.settings = DisSettings(finest_scale=1 if finest_scale is None else finest_scale)
        # OpenCV's DIS objects, one per worker (opencv_flows), for each finest scale asked for.
        self.instances: dict[int, list] = {}
        self.fused = flow == "torch" and fuses(self.device)  # ours as Triton kernels (dis.py)
        self.notes: list[str] = []  # what the user should know of the flow, after a run

    def opencv_dis(self, count: int, finest_scale: int | None = None) -> list:
        """`count` of OpenCV's DIS objects (made once for each finest scale: each keeps its
        buffers between calls)."""
        scale = self.settings.finest_scale if finest_scale is None else finest_scale
        instances = self.instances.setdefault(scale, [])
        while len(instances) < count:
            dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
            dis.setFinestScale(scale)
            instances.append(dis)
        return instances[:count]

    def opencv_flows(
        self, pairs: list[tuple[np.ndarray, np.ndarray]], finest_scale: int | None = None
    ) -> np.ndarray:
        """OpenCV's flows of the pairs, as many at a time as the machine has cores: one flow
        spreads over them only in parts (benchmarks/flow_speed.py at 1280x720, one at a time
        against side by side: 105.5 against 46.0 ms a flow on one H200 machine's 16 cores, 16
        pairs; 171 against 166 on 2 cores, 8 pairs). The same flows to the bit."""
        workers = min(len(pairs), CORES)
        runs = [pairs[k::workers] for k in range(workers)]  # one DIS object each

        def run(dis, chunk: list) -> list[np.ndarray]:
            return [dis.calc(source, target, None) for source, target in chunk]

        with (
            ThreadPoolExecutor(workers, thread_name_prefix="dis") as pool,
            one_thread_each(workers),
        ):
            done = list(pool.map(run, self.opencv_dis(workers, finest_scale), runs))
        flows = [None] * len(pairs)
        for k, chunk in enumerate(done):
            flows[k::workers] = chunk
        return np.stack(flows)

    def displacements(
        self, sources: list[Tensor], targets: list[Tensor], finest_scale: int | None = None
    ) -> Tensor:
        """(N, 2, H, W) displacements taking each pixel of each grey source (H, W; uint8
        values, on any device) to its target; ours computes all the pairs in one call."""
        if self.flow == "opencv":
            pairs = list(zip(map(as_uint8, sources), map(as_uint8, targets), strict=True))
            flows = self.opencv_flows(pairs, finest_scale)
            return torch.from_numpy(flows).permute(0, 3, 1, 2).to(self.device)
        first = torch.stack([torch.as_tensor(s).to(self.device) for s in sources])
        second = torch.stack([torch.as_tensor(t).to(self.device) for t in targets])
        settings = self.settings
        if finest_scale is not None:
            settings = dataclasses.replace(settings, finest_scale=finest_scale)
        if self.fused:
            try:
                return dis_flow(first, second, settings, fused=True)
            except torch.cuda.OutOfMemoryError:
                raise
            except Exception as error:  # Triton could not build or run the kernels here
                self.fused = False
                reason = (str(error).strip().splitlines() or [""])[0][:200]
                self.notes.append(
                    f"the optical flow's GPU kernels failed ({type(error).__name__}: {reason}); "
                    "it ran in plain torch instead, the same flow about 12 times slower"
                )
        return dis_flow(first, second, settings, fused=False)

    def between_many(
        self, pairs: list[tuple[Tensor, Tensor]], finest_scale: int | None = None
    ) -> Flow:
        """`between` for each of one or more (source, target) pairs (tensors or arrays, all of
        one size), their flows computed in one call and checked together: one Flow of the batch
        (`Flow.unbind` gives each pair's). `finest_scale`: coarser than the estimator's, a
        quick look (the flow then stops at that scale, as OpenCV's does), where the pictures
        hold a patch at that scale; smaller ones are looked at as finely as they are flowed."""
        pairs = [(torch.as_tensor(s), torch.as_tensor(t)) for s, t in pairs]
        if finest_scale is not None:
            fits = max(0, int(math.log2(min(pairs[0][0].shape) / self.settings.patch_size)))
            finest_scale = max(self.settings.finest_scale, min(finest_scale, fits))
        # Backward (target -> source) for the maps, forward to check them, all in one call.
        sources = [t for s, t in pairs] + [s for s, t in pairs]
        targets = [s for s, t in pairs] + [t for s, t in pairs]
        displacements = self.displacements(sources, targets, finest_scale)
        backward, forward = displacements[: len(pairs)], displacements[len(pairs) :]
        return checked(backward, forward, tuple(pairs[0][0].shape))

    def between(self, source: Tensor, target: Tensor) -> Flow:
        """Where each pixel of grey `target` shows in grey `source` (same size)."""
        return self.between_many([(source, target)]).unbind()[0]


def checked(backward: Tensor, forward: Tensor, shape: tuple[int, int]) -> Flow:
    """The flows target -> source of a batch ((N, 2, H, W) displacements each way), with where
    they survive the forward-backward check."""
    map_x, map_y = sampling_maps(backward)
    # Follow the flow into the source, then the other flow back: it should return home.
    returned = remap(forward, map_x, map_y)
    loop = backward + returned
    scale = (backward**2).sum(1) + (returned**2).sum(1)
    consistent = (loop**2).sum(1) < LOOP_SHARE * scale + LOOP_SLACK
    return Flow(map_x, map_y, consistent, lands_inside(map_x, map_y, shape))


@contextlib.contextmanager
def one_thread_each(workers: int) -> Iterator[None]:
    """OpenCV's own threads held to one while `workers` flows run side by side, one a core:
    each DIS call otherwise spreads its parts over all the cores, which the other flows hold
    (2 cores, 16 pairs at 640x360: 47.6 / 47.9 ms a flow with OpenCV's 2 threads each, 45.6 /
    44.2 with one). The same flows to the bit. OpenCV's thread count is the process's, so it is
    given back after."""
    if workers < 2:
        yield
        return
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def as_uint8(grey: Tensor | np.ndarray) -> np.ndarray:
    """A grey picture as OpenCV's DIS takes it: contiguous uint8 on the CPU."""
    if isinstance(grey, Tensor):
        grey = grey.detach().to("cpu", torch.uint8).numpy()
    return np.ascontiguousarray(grey, dtype=np.uint8)
