"""Small networks for tests, built on the fly."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from model.config import SMALL, ModelConfig
from model.network import Color2Embed

# A few-thousand-parameter network with the small preset's shape, for fast unit tests.
TINY = dataclasses.replace(
    SMALL,
    preset="tiny",
    plain_backbone_channels=(8, 8, 16, 16),
    color_head_channels=16,
    mlp_hidden=16,
    z_dim=16,
    content_channels=(8, 8, 16, 16, 16),
    decoder_channels=(16, 8, 8, 8),
    head_channels=8,
)


def randomise_modulation(network: Color2Embed, seed: int = 0) -> Color2Embed:
    """Give z a real effect and the head a non-zero output.

    A fresh network starts with identity modulation and a zero head, where z cannot matter and
    tests comparing two ways of applying z could not fail."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for block in network.decoder.blocks:
            affine = block.modulated.affine
            affine.weight.copy_(torch.randn(affine.weight.shape, generator=generator) * 0.5)
        last = network.decoder.head[-1]
        last.weight.copy_(torch.randn(last.weight.shape, generator=generator) * 0.1)
    return network


def make_network(config: ModelConfig = TINY, seed: int = 0) -> Color2Embed:
    torch.manual_seed(seed)
    return randomise_modulation(Color2Embed(config), seed).eval()


def run_remaster(*args) -> subprocess.CompletedProcess:
    """`remaster ARGS` in a real process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "remaster", *map(str, args)], capture_output=True, text=True
    )


def film_command(source, refs, output, weights, *extra) -> list[str]:
    """`remaster SOURCE --refs REFS -o OUTPUT` on the CPU, quietly, as a process's argv."""
    return [
        sys.executable, "-m", "remaster", str(source), "--refs", str(refs), "-o", str(output),
        "--weights", str(weights), "--device", "cpu", "-q", *map(str, extra),
    ]  # fmt: skip


def journaled_segments(output) -> set[int]:
    """The segments a run writing `output` has finished, as its journal records them."""
    from remaster.run.journal import JOURNAL, work_folder

    try:
        return {int(k) for k in json.loads((work_folder(output) / JOURNAL).read_text())["segments"]}
    except (OSError, ValueError, KeyError):
        return set()  # not written yet (it is replaced whole, never half-written)


def kill_after_segment(command, output, segment: int, delay: float = 0.0) -> None:
    """Run `command` and kill -9 it `delay` seconds after segment `segment` is journaled; fail
    if it ends by itself first, or leaves anything under the output's name."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        if segment in journaled_segments(output):
            time.sleep(delay)
            break
        time.sleep(0.02)
    killed = process.poll() is None
    if killed:
        os.kill(process.pid, signal.SIGKILL)
    _, stderr = process.communicate()
    assert killed, f"the run ended before segment {segment} could be interrupted: {stderr!r}"
    assert not Path(output).exists()  # never a half-written file under the output's name


def decoded_planes(path) -> list[tuple]:
    """Every frame's timestamp and Y, U and V planes, as bytes: equal lists, identical frames."""
    from remaster.media.video import decode

    return [(p.pts, p.y.tobytes(), p.u.tobytes(), p.v.tobytes()) for p in decode(path)]
