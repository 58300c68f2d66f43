"""Model speed per preset: parameters, GMACs at 256x256, frames/s, folded vs per-sample.

    .venv/bin/python benchmarks/model_speed.py [--presets small paper] [--device cpu]

A "frame" is what a film costs per frame once its shot's reference is embedded: the content
encoder and the decoder at the working size. The colour encoder runs once per shot, so it is
reported on its own. Numbers vary with machine load; compare ratios taken in one run. The
paper preset's GMACs per frame are shown against the authors' network's.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from model.config import PRESETS
from model.network import Color2Embed, ColorEmbedding

SIZE = 256

# The authors' Color2Embed per 256x256 frame, content encoder and decoder with the embedding
# computed once, counted the same way: their public code's ColorUNet (models.py) costs 40.75
# GMACs. The paper preset, at the paper's widths, should cost no more.
AUTHORS_GMACS_PER_FRAME = 40.8


def count_gmacs(function) -> float:
    counter = FlopCounterMode(display=False)
    with counter:
        function()
    return counter.get_total_flops() / 2 / 1e9  # a multiply-accumulate is two flops


def frame_gmacs(network: Color2Embed, size: int = SIZE) -> float:
    """GMACs of decoding one size x size frame with a folded embedding: what a film pays per
    frame. Counted from shapes alone, so `network` may live on the meta device."""
    device = next(network.parameters()).device
    embedding = ColorEmbedding(
        torch.zeros(1, network.config.z_dim, device=device), torch.zeros(1, 2, device=device)
    )
    with torch.inference_mode():
        folded = network.fold(embedding)
        return count_gmacs(
            lambda: network.decode(torch.zeros(1, 1, size, size, device=device), folded)
        )


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


def benchmark(preset_name: str, device: torch.device, repeats: int) -> tuple[float, float]:
    """Prints one preset's numbers; returns its GMACs per frame and batch-1 folded frames/s."""
    torch.manual_seed(0)
    network = Color2Embed(PRESETS[preset_name]).to(device).eval()
    params = sum(p.numel() for p in network.parameters()) / 1e6
    encoder_params = sum(p.numel() for p in network.color_encoder.parameters()) / 1e6
    reference = torch.rand(1, 3, SIZE, SIZE, device=device)
    with torch.inference_mode():
        embedding = network.embed(reference)
        folded = network.fold(embedding)
        per_frame = frame_gmacs(network)
        per_reference = count_gmacs(lambda: network.embed(reference))
        print(
            f"\n{preset_name}: {params:.2f} M parameters ({encoder_params:.2f} M in the colour "
            f"encoder); {per_frame:.2f} GMACs per frame + {per_reference:.2f} GMACs per "
            f"reference, at {SIZE}x{SIZE}"
        )
        if preset_name == "paper":
            print(
                f"  the authors' network: {AUTHORS_GMACS_PER_FRAME:.1f} GMACs per frame; "
                f"paper preset / authors' = {per_frame / AUTHORS_GMACS_PER_FRAME:.3f}"
            )
        embed_seconds = seconds_per_call(lambda: network.embed(reference), repeats, device)
        print(f"  embed one reference: {embed_seconds * 1000:.0f} ms")
        frames_per_second = {}
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
            frames_per_second[batch] = batch / folded_s
            print(
                f"  batch {batch}: folded {batch / folded_s:6.2f} frames/s, per-sample "
                f"{batch / sample_s:6.2f} frames/s, "
                f"folded/per-sample speed {sample_s / folded_s:.2f}x"
            )
    return per_frame, frames_per_second[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads")
    results = {name: benchmark(name, device, args.repeats) for name in args.presets}
    print(f"\nper {SIZE}x{SIZE} frame (folded embedding, batch 1):")
    for name, (gmacs, fps) in results.items():
        print(f"  {name:6s} {gmacs:6.2f} GMACs  {fps:6.2f} frames/s")
    print(f"  {'authors':6s} {AUTHORS_GMACS_PER_FRAME:6.2f} GMACs  (their network, for paper)")


if __name__ == "__main__":
    main()
