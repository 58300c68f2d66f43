"""Where the time of our fused flow (dis_kernels.py) goes on a GPU, kernel by kernel, and how
the kernels' block sizes and warps change it: for choosing dis_kernels' PIXELS_A_PROGRAM and
WARPS by measurement (a sweep program holds a diagonal of its stripe: that block is the
stripe's).

    .venv/bin/python benchmarks/flow_kernels.py [--size 1280x720:16] [--try 256,4 ...]

Each `--try` is pixels a program, warps; every try's first call compiles its kernels (not
timed). Needs a GPU with Triton.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.flow_speed import SETTINGS, panning_pairs, timed  # noqa: E402
from remaster.color import dis  # noqa: E402

TRIES = ("256,4", "256,2", "256,8", "1024,4", "128,4")


def kernel_times(first: torch.Tensor, second: torch.Tensor) -> tuple[Counter, Counter]:
    """GPU seconds and launches of one call, by kernel name."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        dis.dis_flow(first, second, SETTINGS, fused=True)
        torch.cuda.synchronize()
    seconds, launches = Counter(), Counter()
    for item in profiler.key_averages():
        spent = getattr(item, "self_device_time_total", None)
        if spent is None:
            spent = item.self_cuda_time_total
        if spent > 0:
            name = item.key.split("(")[0][:60]
            seconds[name] += spent / 1e6
            launches[name] += item.count
    return seconds, launches


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1280x720:16", metavar="WxH:PAIRS")
    parser.add_argument("--try", dest="tries", action="append", metavar="PIXELS,WARPS")
    args = parser.parse_args(argv)
    if not dis.fuses(torch.device("cuda")):
        parser.exit(1, f"{parser.prog}: needs a GPU the flow's Triton kernels run on (dis.fuses)\n")
    frame, count = args.size.split(":")
    width, height = map(int, frame.split("x"))
    count = int(count)
    pairs = panning_pairs(width, height, count)
    device = torch.device("cuda")
    first = torch.from_numpy(np.stack([a for a, _ in pairs])).to(device)
    second = torch.from_numpy(np.stack([b for _, b in pairs])).to(device)
    kernels = dis.kernels()
    defaults = kernels.PIXELS_A_PROGRAM, kernels.WARPS
    wall, _ = timed(dis.dis_flow, device, first, second, SETTINGS, True)
    print(f"{args.size}, blocks {defaults}: {1000 * wall / count:.2f} ms a flow", flush=True)
    try:
        seconds, launches = kernel_times(first, second)
        total = sum(seconds.values())
        print(
            f"on the GPU {1000 * total / count:.2f} ms a flow, "
            f"{sum(launches.values())} launches a call"
        )
        for name, spent in seconds.most_common(16):
            print(
                f"  {1000 * spent / count:7.3f} ms a flow  {100 * spent / total:5.1f}%  "
                f"{launches[name]:5d} launches  {name}"
            )
    except Exception as error:  # the tries below still count
        print(f"profile failed: {type(error).__name__}: {str(error).splitlines()[0]}")
    reference = dis.dis_flow(first, second, SETTINGS, fused=True)
    for setting in args.tries or TRIES:
        pixels, warps = map(int, setting.split(","))
        kernels.PIXELS_A_PROGRAM, kernels.WARPS = pixels, warps
        try:
            wall, out = timed(dis.dis_flow, device, first, second, SETTINGS, True)
            apart = (out - reference).norm(dim=1).mean().item()
            line = f"{1000 * wall / count:.2f} ms a flow ({apart:.6f} px from the defaults)"
        except Exception as error:  # one setting the GPU refuses must not cost the others
            line = f"failed: {type(error).__name__}: {str(error).splitlines()[0]}"
        print(f"pixels {pixels}, warps {warps}: {line}", flush=True)
    kernels.PIXELS_A_PROGRAM, kernels.WARPS = defaults


if __name__ == "__main__":
    main()
