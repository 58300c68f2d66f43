"""How well each optical flow carries true colour, on the quality benchmark's real clips.

    .venv/bin/python benchmarks/flow_accuracy.py [--material data/bench] [--gaps 1,8]
        [--every 2] [--device cuda] [--dis grad_descent_iter=50 ...]

For pairs of frames of one shot, `gap` frames apart, each flow (OpenCV's DIS and ours in
PyTorch, remaster/color/flow.py) is computed between the two frames of the grey input, from
their greys as the pipeline makes them, and the truth's ab of the earlier frame is carried
along it onto the later one. Printed per flow and gap, as a Markdown table: the mean ab error
of the carried colour where the flow passes its forward-backward check and lands inside (what
propagation and stabilisation trust) and that share of the frame; the mean ab error wherever
it lands inside; the mean end-point error against OpenCV's flow; the time a flow. The quality
benchmark's rows then show what the flow does to the colour.

The material is the quality benchmark's (benchmarks/material.py; `python benchmarks/quality.py`
builds it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.config import coerce_fields
from model.train import load_config
from remaster.color.dis import DisSettings
from remaster.color.flow import FlowEstimator
from remaster.color.predictor import lab_grey
from remaster.commands.evaluate import video_rgb
from remaster.commands.steadiness import lab_of
from remaster.media.planes import lightness_from_luma
from remaster.media.video import decode


def clip_frames(clip: Path) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The grey input's greys for the flow, made as the pipeline makes them (luma, then L),
    and the truth's ab as `remaster eval` reads it, frame by frame."""
    greys = [
        lab_grey(lightness_from_luma(torch.from_numpy(picture.y)[None], False, 8)[0, 0])
        for picture in decode(clip / "grey.mkv")
    ]
    return greys, [lab_of(rgb)[1:] for _, rgb in video_rgb(clip / "truth.mkv")]


def pairs_of(clip: Path, gap: int, every: int) -> list[tuple[int, int]]:
    """Frame pairs `gap` apart within each shot, one starting every `every` frames."""
    spec = json.loads((clip / "clip.json").read_text())
    pairs = []
    for shot in spec["shots"]:
        pairs += [(k, k + gap) for k in range(shot["start"], shot["end"] - gap, every)]
    return pairs


def measure(estimator: FlowEstimator, clips: dict, gap: int, every: int, opencv: dict) -> str:
    """One row of the table; `opencv` holds OpenCV's maps by pair (filled when measuring it)."""
    checked, share, inside, epe, seconds, flows_made = [], [], [], [], 0.0, 0
    for name, (greys, truths) in clips.items():
        pairs = pairs_of(name, gap, every)
        if not pairs:  # shots shorter than the gap
            continue
        started = time.perf_counter()
        flows = estimator.between_many([(greys[a], greys[b]) for a, b in pairs]).unbind()
        seconds += time.perf_counter() - started
        flows_made += 2 * len(pairs)  # a backward flow and a forward one to check it
        for (a, b), flow in zip(pairs, flows, strict=True):
            truth = truths[a].to(estimator.device)
            error = (flow.warp(truth) - truths[b].to(estimator.device)).norm(dim=0)
            checked.append(float(error[flow.visible].mean()))
            share.append(float(flow.visible.float().mean()))
            inside.append(float(error[flow.inside].mean()))
            maps = torch.stack([flow.map_x, flow.map_y]).cpu()
            reference = opencv.setdefault((name, a, b), maps)
            epe.append(float((maps - reference).norm(dim=0).mean()))
    return (
        f"| {estimator.flow} | {gap} | {np.mean(checked):.3f} | {np.mean(share):.3f} "
        f"| {np.mean(inside):.3f} | {np.mean(epe):.3f} | {1000 * seconds / flows_made:.0f} |"
    )


def dis_settings(items: list[str]) -> dict[str, Any]:
    """['patch_stride=4', 'alpha=10'] -> {'patch_stride': 4, 'alpha': 10.0}: read as `python -m
    model.train --set` reads its settings, then each value checked against its DisSettings
    default's type."""
    try:
        values = coerce_fields(DisSettings, load_config(None, items))
    except ValueError as error:
        raise SystemExit(f"--dis: {error}") from None
    defaults = DisSettings()
    for name, value in values.items():
        kind = type(getattr(defaults, name))
        if not isinstance(value, kind):
            raise SystemExit(f"--dis: {name} takes {kind.__name__} values, not {value!r}")
    return values


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--material", type=Path, default=Path("data/bench"))
    parser.add_argument("--gaps", default="1,8", help="frames apart, comma-separated")
    parser.add_argument("--every", type=int, default=2, help="a pair starting every N frames")
    parser.add_argument("--device", default="cpu", help="where our flow runs (cpu, cuda)")
    parser.add_argument(
        "--dis",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DisSettings value for our flow to try, e.g. grad_descent_iter=50 (repeat for more)",
    )
    args = parser.parse_args(argv)
    trying = dis_settings(args.dis)  # a wrong setting stops here, before the clips are read
    folders = sorted(p for p in (args.material / "clips").iterdir() if (p / "clip.json").exists())
    clips = {folder: clip_frames(folder) for folder in folders}
    opencv, ours = (
        FlowEstimator(finest_scale=0, flow="opencv"),
        FlowEstimator(finest_scale=0, flow="torch", device=args.device),
    )
    ours.settings = dataclasses.replace(ours.settings, **trying)
    if args.dis:
        print(f"our flow (torch) with {', '.join(args.dis)}\n")
    print("| flow | frames apart | ab error, checked | checked share | ab error, inside "
          "| EPE against OpenCV (px) | ms a flow |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for gap in map(int, args.gaps.split(",")):
        maps: dict = {}
        for estimator in (opencv, ours):  # OpenCV's first: the end-point errors are against it
            print(measure(estimator, clips, gap, args.every, maps), flush=True)


if __name__ == "__main__":
    main()
