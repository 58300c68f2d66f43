"""The colour stage's frame-by-frame work after the network and the flows: carrying keyframes'
colour and stabilising (`ColorPredictor.follow`), per frame, at one size and batch size.

    .venv/bin/python benchmarks/follow_speed.py [--device cuda] [--size 256x256] [--batch 64]
        [--frames 128] [--methods embed,auto]

On a GPU this work is bound by how many operations the host launches and how often it waits
for the device, not by arithmetic: a few dozen small operations a frame at 256x256 cost more
than the network. So besides ms a frame (the flows' own time left out: benchmarks/flow_speed.py
times them) it counts what a frame dispatches, on any device:
- operations: torch's (aten) operations dispatched, views left out: on a GPU each launches a
  kernel or more (or none, where it has nothing to do: a `.to` to the same type);
- waits: reads of a tensor's value on the host (`bool(t)`, `float(t)`, `.item()`), each a
  synchronisation with the device on a GPU.
The frames are a camera panning across a real photo (examples/film/refs/street.jpg), its first
frame in colour the keyframe (the archive workflow), followed as a film's entry is: one track
through every batch. The network's colour and the flows' displacements are computed before the
clock starts (the forward-backward check is timed: it is per-frame work of the same kind).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.flow_speed import panning_frames, synchronise  # noqa: E402
from model.color import rgb_to_lab  # noqa: E402
from model.colorizer import Colorizer, image_to_tensor  # noqa: E402
from remaster.color.predictor import ColorPredictor  # noqa: E402
from remaster.run.weights import resolve_weights  # noqa: E402

# A tensor's value read on the host: on a GPU, a wait for the device.
WAITS = ("__bool__", "__float__", "__int__", "item", "tolist")


class Dispatched(TorchDispatchMode):
    """Counts the aten operations dispatched while it is on and not paused (views apart)."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()
        self.paused = False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.paused:
            self.counts["views" if func.is_view else str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


class Waits(TorchFunctionMode):
    """Counts the reads of a tensor's value on the host while it is on and not paused."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.paused = False

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if not self.paused and getattr(func, "__name__", "") in WAITS:
            self.count += 1
        return func(*args, **(kwargs or {}))


def measure(predictor: ColorPredictor, frames: list[np.ndarray], batch: int, device) -> dict:
    """ms a frame of `follow` without its flows, and operations and waits a frame."""
    guide = predictor.guide(frames[0])
    lightness = torch.cat([rgb_to_lab(image_to_tensor(f).to(device))[:, :1] for f in frames])
    batches = [range(k, min(k + batch, len(frames))) for k in range(0, len(frames), batch)]
    with torch.inference_mode():
        colour = []
        for span in batches:  # the network's (and the matcher's) colour, beforehand
            working = predictor.colorizer.working_lightness(lightness[span.start : span.stop])
            if predictor.method == "embed":
                colour.append(guide.colorizer.decode_working(working, guide.style))
            else:
                colour.append(predictor.exemplar(working, guide, same_shot=True)[0])
    estimator = predictor.flows
    computed = estimator.displacements
    flows: list = []  # each call's displacements, in the order the first pass asked for them
    calls = iter(())

    def displacements(sources, targets, finest_scale=None):  # computed once, then replayed
        found = next(calls, None)
        if found is None:
            mode.paused = waits.paused = True
            found = computed(sources, targets, finest_scale)
            mode.paused = waits.paused = False
            flows.append(found)
        return found

    estimator.displacements = displacements
    mode, waits = Dispatched(), Waits()
    seconds = 0.0
    for timed in (False, True):  # the first pass computes the flows and warms up
        track = predictor.track(guide, (0,))
        calls = iter(list(flows))
        mode.counts.clear()
        waits.count = 0
        for span, ab in zip(batches, colour, strict=True):
            part = lightness[span.start : span.stop]
            synchronise(device)
            started = time.perf_counter()
            with torch.inference_mode(), waits, mode:
                _, _, track = predictor.follow(part, ab, guide, track, list(span))
            synchronise(device)
            seconds += (time.perf_counter() - started) if timed else 0.0
    estimator.displacements = computed
    count = len(frames)
    return {
        "ms": 1000 * seconds / count,
        "operations": (sum(mode.counts.values()) - mode.counts["views"]) / count,
        "waits": waits.count / count,
        "top": mode.counts.most_common(10),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", default="256x256", help="WIDTHxHEIGHT")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--methods", default="embed,auto", help="comma-separated")
    parser.add_argument("--flow", default="auto", help="remaster --flow (default auto)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    width, height = map(int, args.size.split("x"))
    frames = panning_frames(width, height, args.frames, step=2)
    colorizer = Colorizer.from_checkpoint(resolve_weights(None), device)
    print(f"{args.size}, batches of {args.batch}, {args.frames} frames, {device}")
    print("| method | ms a frame | operations a frame | waits a frame |")
    print("| --- | ---: | ---: | ---: |")
    for method in args.methods.split(","):
        predictor = ColorPredictor(colorizer, method, flow=args.flow)
        found = measure(predictor, frames, args.batch, device)
        row = (method, f"{found['ms']:.2f}", f"{found['operations']:.1f}", f"{found['waits']:.2f}")
        print("| " + " | ".join(row) + " |")
        print("  most dispatched:", ", ".join(f"{n} {c}" for n, c in found["top"]), file=sys.stderr)


if __name__ == "__main__":
    main()
