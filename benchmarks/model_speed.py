"""Model speed per preset: parameters, GMACs at 256x256, frames/s, folded vs per-sample.

    .venv/bin/python benchmarks/model_speed.py [--presets small paper] [--device cpu]

A "frame" is what a film costs per frame once its shot's reference is embedded: the content
encoder and the decoder at the working size. The colour encoder runs once per shot, so it is
reported on its own. Numbers vary with machine load; compare ratios taken in one run.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from model.config import PRESETS
from model.network import Color2Embed, ColorEmbedding

SIZE = 256


def count_gmacs(function) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops() / 2 / 1e9  # a multiply-accumulate is two flops


def seconds_per_call(function, repeats: int, device: torch.device) -> float:
    function()  # warm-up: allocator, kernel selection
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def benchmark(preset_name: str, device: torch.device, repeats: int) -> None:
    torch.manual_seed(0)
    network = Color2Embed(PRESETS[preset_name]).to(device).eval()
    params = sum(p.numel() for p in network.parameters()) / 1e6
    encoder_params = sum(p.numel() for p in network.color_encoder.parameters()) / 1e6
    reference = torch.rand(1, 3, SIZE, SIZE, device=device)
    with torch.inference_mode():
        embedding = network.embed(reference)
        folded = network.fold(embedding)
        frame_gmacs = count_gmacs(lambda: network.decode(torch.rand(1, 1, SIZE, SIZE), folded))
        embed_gmacs = count_gmacs(lambda: network.embed(reference.cpu()))
        print(
            f"\n{preset_name}: {params:.2f} M parameters ({encoder_params:.2f} M in the colour "
            f"encoder); {frame_gmacs:.2f} GMACs per frame + {embed_gmacs:.2f} GMACs per "
            f"reference, at {SIZE}x{SIZE}"
        )
        embed_seconds = seconds_per_call(lambda: network.embed(reference), repeats, device)
        print(f"  embed one reference: {embed_seconds * 1000:.0f} ms")
        for batch in (1, 8):
            lightness = torch.rand(batch, 1, SIZE, SIZE, device=device) * 100
            shared = ColorEmbedding(
                embedding.z.expand(batch, -1), embedding.mean_ab.expand(batch, -1)
            )
            folded_s = seconds_per_call(
                lambda x=lightness: network.decode(x, folded), repeats, device
            )
            sample_s = seconds_per_call(
                lambda x=lightness, s=shared: network.decode(x, s), repeats, device
            )
            print(
                f"  batch {batch}: folded {batch / folded_s:6.2f} frames/s, per-sample "
                f"{batch / sample_s:6.2f} frames/s, "
                f"folded/per-sample speed {sample_s / folded_s:.2f}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads")
    for name in args.presets:
        benchmark(name, device, args.repeats)


if __name__ == "__main__":
    main()
