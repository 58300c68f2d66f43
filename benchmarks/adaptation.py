"""What per-shot adaptation (`--adapt STEPS`) gains and costs, shot by shot, on real footage.

    .venv/bin/python benchmarks/adaptation.py [--steps 50] [--methods embed,auto] [--clips a,b]

The benchmark clips of benchmarks/material.py (built by `make quality`), any-reference workflow:
each shot's reference shows its scene at another moment, so the shot's colour comes from the
network and the matcher, which is what adaptation changes (a keyframe carried along the flow
hardly depends on the network). Each method runs through the film pipeline with and without
adaptation; per shot: CIEDE2000 (every frame) before and after, and the adaptation's seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.material import build_material  # noqa: E402
from model.colorizer import Colorizer  # noqa: E402
from model.metrics import ciede2000  # noqa: E402
from remaster.commands.evaluate import video_rgb  # noqa: E402
from remaster.run.film import FilmOptions, colorize_film  # noqa: E402
from remaster.run.weights import resolve_weights  # noqa: E402


def frame_errors(output: Path, truth: list[np.ndarray]) -> list[float]:
    errors = []
    for (_, rgb), true_rgb in zip(video_rgb(output), truth, strict=True):
        pair = [torch.from_numpy(x).permute(2, 0, 1).float()[None] / 255 for x in (rgb, true_rgb)]
        errors.append(float(ciede2000(*pair)))
    return errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--methods", default="embed,auto")
    parser.add_argument("--clips", default="", help="clip names, comma-separated (default all)")
    parser.add_argument("--material", type=Path, default=Path("data/bench"))
    args = parser.parse_args(argv)
    material = build_material(args.material)
    wanted = set(filter(None, args.clips.split(",")))
    clips = [clip for clip in material.clips if not wanted or clip.name in wanted]
    colorizer = Colorizer.from_checkpoint(resolve_weights(None), "cpu")
    print(f"--adapt {args.steps}, any-reference workflow, CIEDE2000 per shot (lower is better)")
    print("| clip | shot | method | without | with | gain | adaptation s |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    gains, costs = [], []
    with tempfile.TemporaryDirectory(prefix="remaster-adapt-") as work:
        for clip in clips:
            truth = [rgb for _, rgb in video_rgb(clip.truth)]
            for method in args.methods.split(","):
                errors, seconds = {}, []
                for steps in (0, args.steps):
                    output = Path(work) / f"{clip.name}-{method}-{steps}.mkv"
                    options = FilmOptions(
                        source=clip.grey, output=output, refs=clip.any_refs, codec="ffv1",
                        quiet=True, method=method, adapt=steps,
                    )  # fmt: skip
                    summary = colorize_film(options, colorizer)
                    errors[steps] = frame_errors(output, truth)
                    seconds = summary.adapt_seconds or seconds
                for number, shot in enumerate(clip.shots):
                    without = float(np.mean(errors[0][shot.start : shot.end]))
                    adapted = float(np.mean(errors[args.steps][shot.start : shot.end]))
                    cost = seconds[number] if number < len(seconds) else float("nan")
                    gains.append(without - adapted)
                    costs.append(cost)
                    print(
                        f"| {clip.name} | {number} | {method} | {without:.2f} | {adapted:.2f} | "
                        f"{without - adapted:+.2f} | {cost:.0f} |",
                        flush=True,
                    )
    print(
        f"\nmean gain {np.mean(gains):+.2f} CIEDE2000 per shot, mean cost "
        f"{np.nanmean(costs):.0f} s per shot ({args.steps} steps), {time.strftime('%Y-%m-%d')}"
    )


if __name__ == "__main__":
    main()
