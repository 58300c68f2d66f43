"""ms a flow of each optical flow, many pairs a call, on frames of a camera panning across a real
photo (examples/film/refs/street.jpg): OpenCV's DIS one pair at a time and side by side on the
machine's cores (`FlowEstimator.opencv_flows`), and ours (dis.py) eager and, on a GPU, with its
inner loops as Triton kernels (`fused`, dis_kernels.py), also replayed as one CUDA graph (no
kernel launched from the host); optionally with its slowest parts under torch.compile. Needs
only torch and OpenCV (and Triton, where the GPU's torch has it), so it runs on a bare GPU
machine.

    .venv/bin/python benchmarks/flow_speed.py [--device cuda] [--size 1280x720:16 ...] [--compile]

The medium preset at full resolution, as `auto` runs it (`finest_scale=0`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remaster.color import dis  # noqa: E402
from remaster.color.flow import CORES, FlowEstimator  # noqa: E402

PHOTO = ROOT / "examples" / "film" / "refs" / "street.jpg"
SETTINGS = dis.DisSettings(finest_scale=0)
# Our flow's slowest parts: many small elementwise steps over every patch or pixel.
COMPILED = ("patch_difference", "patch_cost", "refine")


@contextlib.contextmanager
def compiled(dynamic: bool = False):
    """Our flow with its slowest parts under torch.compile, for the duration."""
    eager = {name: getattr(dis, name) for name in COMPILED}
    for name, function in eager.items():
        setattr(dis, name, torch.compile(function, dynamic=dynamic))
    try:
        yield
    finally:
        for name, function in eager.items():
            setattr(dis, name, function)


def panning_frames(width: int, height: int, count: int, step: int, colour: bool = True):
    """`count` frames (RGB, or grey) of a camera panning across the photo, `step` px a frame."""
    conversion = cv2.COLOR_BGR2RGB if colour else cv2.COLOR_BGR2GRAY
    photo = cv2.cvtColor(cv2.imread(str(PHOTO)), conversion)
    wide = cv2.resize(photo, (width + step * count, height), interpolation=cv2.INTER_AREA)
    return [np.ascontiguousarray(wide[:, step * k : step * k + width]) for k in range(count)]


def panning_pairs(width: int, height: int, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """`count` pairs of grey frames 1 to `count` steps apart along a pan (4 px a step)."""
    frame = panning_frames(width, height, count + 1, 4, colour=False)
    return [(frame[0], frame[k + 1]) for k in range(count)]


def timed(function, device: torch.device, *args):
    """Seconds of one call after one warm-up call, and what it returned."""
    function(*args)
    synchronise(device)
    started = time.perf_counter()
    result = function(*args)
    synchronise(device)
    return time.perf_counter() - started, result


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def graphed(first: torch.Tensor, second: torch.Tensor, fused: bool):
    """Our flow of these pairs captured as one CUDA graph: replaying it launches nothing from
    the host. Returns the replay and the output it fills."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up outside the capture, as CUDA graphs need
        dis.dis_flow(first, second, SETTINGS, fused)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = dis.dis_flow(first, second, SETTINGS, fused)
    return graph.replay, out


def apart(flows: torch.Tensor, others: torch.Tensor) -> float:
    """Mean end-point distance in pixels between two sets of flows."""
    return (flows.float() - others.to(flows.device).float()).norm(dim=1).mean().item()


def one_size(
    width: int, height: int, count: int, device: torch.device, compile_: bool, eager_: bool
) -> None:
    pairs = panning_pairs(width, height, count)
    name = f"{width}x{height}, {count} pairs a call"
    one_dis = FlowEstimator(finest_scale=0).opencv_dis(1)[0]
    alone, flows = timed(lambda: [one_dis.calc(a, b, None) for a, b in pairs], device)
    side, beside = timed(FlowEstimator(finest_scale=0).opencv_flows, device, pairs)
    same = all(np.array_equal(x, y) for x, y in zip(flows, beside, strict=True))
    print(
        f"{name}: OpenCV's one at a time {1000 * alone / count:.1f} ms a flow, side by side on "
        f"{min(count, CORES)} threads {1000 * side / count:.1f} ({alone / side:.2f}x; "
        f"the same flows: {same})",
        flush=True,
    )
    opencv = torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2)
    first = torch.from_numpy(np.stack([a for a, _ in pairs])).to(device)
    second = torch.from_numpy(np.stack([b for _, b in pairs])).to(device)
    ours = None
    if eager_:
        eager, ours = timed(dis.dis_flow, device, first, second, SETTINGS, False)
        print(
            f"{name}: ours eager {1000 * eager / count:.1f} ms a flow "
            f"({apart(ours, opencv):.3f} px from OpenCV's)",
            flush=True,
        )
    if dis.fuses(device):
        seconds, out = timed(dis.dis_flow, device, first, second, SETTINGS, True)
        line = (
            f"{name}: ours fused {1000 * seconds / count:.1f} ms a flow "
            f"({apart(out, opencv):.3f} px from OpenCV's"
        )
        line += f", {apart(out, ours):.6f} from eager)" if ours is not None else ")"
        try:
            replay, graph_out = graphed(first, second, fused=True)
            seconds, _ = timed(replay, device)
            line += (
                f", as a CUDA graph {1000 * seconds / count:.1f} "
                f"({apart(graph_out, out):.6f} px apart)"
            )
        except Exception as error:  # a report, not a crash: the lines above are what count
            line += f", as a CUDA graph: failed, {type(error).__name__}: {error}".split("\n")[0]
        print(line, flush=True)
    if compile_ and ours is not None:
        with compiled():
            started = time.perf_counter()
            dis.dis_flow(first, second, SETTINGS, False)
            synchronise(device)
            compiling = time.perf_counter() - started
            seconds, out = timed(dis.dis_flow, device, first, second, SETTINGS, False)
        print(
            f"{name}: ours with {', '.join(COMPILED)} compiled {1000 * seconds / count:.1f} ms "
            f"a flow ({compiling:.0f} s to compile, {apart(out, ours):.5f} px apart)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--size", action="append", metavar="WxH:PAIRS",
        help="a frame size and pairs a call (repeatable; default 1280x720:16, 256x256:64)",
    )  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="also under torch.compile")
    parser.add_argument(
        "--eager-up-to", type=int, default=1280 * 720 * 16, metavar="PIXELS",
        help="time ours eager only where a call's pairs hold at most this many pixels",
    )  # fmt: skip
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    where = torch.cuda.get_device_name() if device.type == "cuda" else "the CPU"
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}, {CORES} cores; ours on {where}")
    for size in args.size or ["1280x720:16", "256x256:64"]:
        frame, count = size.split(":")
        width, height = map(int, frame.split("x"))
        eager = width * height * int(count) <= args.eager_up_to
        one_size(width, height, int(count), device, args.compile, eager)


if __name__ == "__main__":
    main()
