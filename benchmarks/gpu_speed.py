"""Frames/s of the colour stage alone and of the whole pipeline, per method and frame size,
beside the paper's Table 1; and where the time goes at 1080p (decode; `auto`'s colour stage in
its parts, with our optical flow and with OpenCV's; encode).

    .venv/bin/python benchmarks/gpu_speed.py [--device cuda] [--frames 48] [--quick]
        [--flow torch] [--size 1920x1080 ...] [--methods auto,embed] [--parts torch]
        [--preset veryfast]

Made to run in under 10 minutes on a GPU machine (on one H200: 74 s with our flow's Triton
kernels, `--flow torch --parts torch`; 529 s with our flow in plain torch): each size is a
camera panning across a real photo (examples/film/refs/street.jpg), grey as a transfer holds
it, encoded as H.264, its first frame in colour as the keyframe (the archive workflow);
`embed`, `exemplar` and `auto` each colour it, first the colour stage alone on frames already
decoded (batches of 4; `embed` at 256x256 also in batches of 64), then `remaster FILM` end to
end (decode, colour, encode with the fastest encoder the machine has, mux). Where `--budget`
allows, `auto` and `embed` end to end on a clip four times longer, and the rate of its frames
beyond the short clip's: a feature's, which pays a run's fixed costs once. The encoder alone is
timed with its threads as the writer sets them and, for x264, as PyAV left them (sliced) before
(remaster/media/codecs.py), and `auto`'s colour stage with the convolutions in either memory
layout (channels-last is taken on a CPU only, so far). `--quick` runs small sizes
and few frames, to check the script on a CPU. Prints a Markdown table. Each optical flow alone
(and ours as Triton kernels, as a CUDA graph, or compiled): benchmarks/flow_speed.py; the
kernels one by one: benchmarks/flow_kernels.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.flow_speed import panning_frames, synchronise  # noqa: E402
from model.colorizer import Colorizer, on_device  # noqa: E402
from remaster.color.batches import assign_entries, batch_by_entry  # noqa: E402
from remaster.color.predictor import ColorPredictor  # noqa: E402
from remaster.color.propagation import STEADY  # noqa: E402
from remaster.color.stage import ColorStage  # noqa: E402
from remaster.media.forms import open_source  # noqa: E402
from remaster.media.images import write_image  # noqa: E402
from remaster.media.video import SegmentWriter, nvenc_available  # noqa: E402
from remaster.run.check import check_job  # noqa: E402
from remaster.run.film import FilmOptions, colorize_film, reference_guides  # noqa: E402
from remaster.run.malloc import keep_freed_memory  # noqa: E402
from remaster.run.weights import resolve_weights  # noqa: E402

SIZES = ((256, 256), (512, 512), (1280, 720), (1920, 1080))
QUICK_SIZES = ((128, 128), (256, 144))
METHODS = ("embed", "exemplar", "auto")
PAPER = {256: 0.03, 512: 0.08, 1024: 0.32}  # s a frame, Color2Embed's Table 1 (1080Ti)
RATE = Fraction(24)


def panning_clip(folder: Path, width: int, height: int, frames: int) -> tuple[Path, Path]:
    """A grey H.264 pan across the photo and a refs file whose keyframe is its first frame in
    colour."""
    colour = panning_frames(width, height, frames, step=max(1, width // 200))
    clip = folder / f"pan-{width}x{height}.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=RATE, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index, rgb in enumerate(colour):
            grey = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
            frame = av.VideoFrame.from_ndarray(grey, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    keyframe = folder / f"key-{width}x{height}.png"
    write_image(keyframe, colour[0])
    refs = folder / f"refs-{width}x{height}.yaml"
    refs.write_text(f"shots:\n  - start: 0\n    ref: {keyframe.name}\n    keyframe: 0\n")
    return clip, refs


def colour_stage_fps(
    clip: Path,
    refs: Path,
    predictor: ColorPredictor,
    batch: int,
    passes: int = 2,
    steady: float = STEADY,
) -> float:
    """Frames/s of the colour stage on frames already decoded (guides built beforehand); the
    last of `passes` passes is timed, the first warms the device up. `steady` 0: no
    stabilisation (`--no-stabilise`)."""
    job = check_job(clip, refs, None)
    pictures = list(job.source.frames())
    guides = reference_guides(predictor, job.plan)
    device = predictor.colorizer.device
    seconds = float("nan")
    for _ in range(passes):
        stage = ColorStage(predictor, guides, job.source.full_range, job.source.info.bits, steady)
        items = assign_entries(pictures, job.plan, job.source.info.rate)
        synchronise(device)
        started = time.perf_counter()
        for prediction in stage(batch_by_entry(items, batch, 10**9)):
            prediction.ab.sum().item()  # the colour is there, not queued
        synchronise(device)
        seconds = time.perf_counter() - started
    return len(pictures) / seconds


def where_colour_goes(
    clip: Path, refs: Path, colorizer: Colorizer, batch: int, count: int, flow: str
) -> str:
    """ms a frame of `auto`'s colour stage with `flow` in its parts: the optical flows; the
    rest of the carry and stabilisation; matching, fusion and the network; the rest (lightness,
    upsampling). Each part is timed between device synchronisations, so the parts add up to a
    little more than the stage alone."""
    spent: Counter = Counter()

    def timed(name: str, function):
        def run(*args, **kwargs):
            synchronise(colorizer.device)
            started = time.perf_counter()
            result = function(*args, **kwargs)
            synchronise(colorizer.device)
            spent[name] += time.perf_counter() - started
            return result

        return run

    predictor = ColorPredictor(colorizer, "auto", flow=flow)
    predictor.flows.between_many = timed("flows", predictor.flows.between_many)
    predictor.follow = timed("follow", predictor.follow)
    predictor.exemplar = timed("exemplar", predictor.exemplar)
    colour_stage_fps(clip, refs, predictor, batch, passes=1)  # warm-up
    spent.clear()
    total = count / colour_stage_fps(clip, refs, predictor, batch, passes=1)  # `count` frames
    parts = {
        f"optical flow ({predictor.flows.flow})": spent["flows"],
        "carry and stabilise": spent["follow"] - spent["flows"],
        "match, fuse, network": spent["exemplar"],
        "the rest": total - spent["follow"] - spent["exemplar"],
    }
    shares = ", ".join(f"{name} {1000 * s / count:.1f}" for name, s in parts.items())
    return f"{1000 * total / count:.1f} ms a frame: {shares}"


def layouts_fps(clip: Path, refs: Path, colorizer: Colorizer, flow: str) -> str:
    """Frames/s of `auto`'s colour stage with the network's and the matcher's convolutions in
    each memory layout, alternating (model/colorizer.py `on_device` picks channels-last on a
    CPU only); the colorizer is left as it came."""
    predictor = ColorPredictor(colorizer, "auto", flow=flow)
    modules = (colorizer.network, predictor.matcher)
    rates: dict[str, list[float]] = {"contiguous": [], "channels-last": []}
    for _ in range(2):
        for name, layout in (
            ("contiguous", torch.contiguous_format),
            ("channels-last", torch.channels_last),
        ):
            for module in modules:
                module.to(memory_format=layout)
            rates[name].append(colour_stage_fps(clip, refs, predictor, batch=4))
    for module in modules:  # back to the layout the pipeline gives the device
        on_device(module.to(memory_format=torch.contiguous_format), colorizer.device)
    return ", ".join(f"{name} {' / '.join(f'{r:.1f}' for r in rs)}" for name, rs in rates.items())


def end_to_end_seconds(
    clip: Path,
    refs: Path,
    method: str,
    colorizer: Colorizer,
    codec: str,
    flow: str = "auto",
    preset: str = "medium",
) -> float:
    """Seconds of `remaster FILM` on the clip, the model already loaded: checking, the guides,
    decoding, colouring, encoding and muxing."""
    output = clip.with_name(f"{clip.stem}-{method}.mp4")
    options = FilmOptions(
        source=clip, output=output, refs=refs, quiet=True, method=method, codec=codec,
        device=str(colorizer.device), flow=flow, preset=preset,
    )  # fmt: skip
    summary = colorize_film(options, colorizer)
    output.unlink()
    return summary.seconds


def decode_fps(clip: Path) -> float:
    source = open_source(clip, None)
    started = time.perf_counter()
    count = sum(1 for _ in source.frames())
    return count / (time.perf_counter() - started)


def encode(
    clip: Path, codec: str, folder: Path, preset: str = "medium", threads: str | None = None
) -> str:
    """The segment writer alone: frames/s, closing included, and the seconds its close took
    (the encoder draining the frames it holds, once a segment); `threads` overrides the kind of
    encoder threads the writer asks for (remaster/media/codecs.py)."""
    source = open_source(clip, None)
    pictures = list(source.frames())
    writer = SegmentWriter(folder / f"encode{clip.suffix}", source.info, codec, preset=preset)
    if threads:
        writer.stream.codec_context.thread_type = threads
    started = time.perf_counter()
    for picture in pictures:
        writer.write(picture)
    closing = time.perf_counter()
    writer.close()
    ended = time.perf_counter()
    return f"{len(pictures) / (ended - started):.1f} frames/s (closing {ended - closing:.2f} s)"


def guarded(measure, *args, **kwargs) -> float | str:
    """The measure, or what stopped it in one line: one failing row (an encoder the machine
    refuses, say) must not cost the rest of the table."""
    try:
        return measure(*args, **kwargs)
    except Exception as error:
        first = (str(error).splitlines() or [""])[0]
        return f"failed: {type(error).__name__}: {first}"


def cell(value: float | str) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def rate(frames: int, seconds: float | str) -> float | str:
    return frames / seconds if isinstance(seconds, float) else seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--quick", action="store_true", help="small sizes, few frames (CPU)")
    parser.add_argument(
        "--budget", type=float, default=400.0,
        help="seconds after which the optional measurements at the end are skipped",
    )  # fmt: skip
    parser.add_argument("--flow", default="auto", help="remaster --flow (default auto)")
    parser.add_argument(
        "--size", action="append", metavar="WxH", help="a frame size (repeatable; default all)"
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument(
        "--parts", default="torch,opencv", help="flows whose share of `auto` to time at 1080p"
    )
    parser.add_argument("--preset", default="medium", help="remaster --preset (x264's)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    keep_freed_memory()  # as the command line does
    sizes, frames = (QUICK_SIZES, 8) if args.quick else (SIZES, args.frames)
    if args.size:
        sizes = tuple(tuple(map(int, size.split("x"))) for size in args.size)
    methods, flow, preset = args.methods.split(","), args.flow, args.preset
    colorizer = Colorizer.from_checkpoint(resolve_weights(None), args.device)
    codec = "h264-nvenc" if nvenc_available() else "h264"
    name = torch.cuda.get_device_name() if colorizer.device.type == "cuda" else "CPU"
    print(
        f"torch {torch.__version__} on {name}; encoder {codec}; {frames} frames a size; "
        f"--flow {flow}, --preset {preset}"
    )
    print("| size | method | colour stage, frames/s | end to end, frames/s | paper, s a frame |")
    print("| --- | --- | ---: | ---: | ---: |")
    short: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="remaster-gpu-speed-") as folder:
        for width, height in sizes:
            clip, refs = panning_clip(Path(folder), width, height, frames)
            paper = PAPER.get(max(width, height) if width == height else 0)
            for method in methods:
                predictor = ColorPredictor(colorizer, method, flow=flow)
                stage = guarded(colour_stage_fps, clip, refs, predictor, batch=4)
                whole = guarded(
                    end_to_end_seconds, clip, refs, method, colorizer, codec, flow, preset
                )
                short[method] = whole  # the last size's, for a feature's rate below
                cited = f"{paper:.2f}" if paper else ""
                whole = cell(rate(frames, whole))
                print(f"| {width}x{height} | {method} | {cell(stage)} | {whole} | {cited} |")
            if (width, height) == (256, 256) and "embed" in methods:
                embed = ColorPredictor(colorizer, "embed")
                big = guarded(colour_stage_fps, clip, refs, embed, batch=64)
                print(f"| {width}x{height} | embed, batches of 64 | {cell(big)} | | |")
                # The network alone: `embed` follows no optical flow when not stabilised.
                bare = guarded(colour_stage_fps, clip, refs, embed, batch=64, steady=0.0)
                print(f"| {width}x{height} | embed, 64, --no-stabilise | {cell(bare)} | | |")
            sys.stdout.flush()
        print(f"\n(the table took {time.perf_counter() - began:.0f} s)")
        width, height = sizes[-1]
        clip, refs = panning_clip(Path(folder), width, height, frames)
        decode = cell(guarded(decode_fps, clip))
        encoded = guarded(encode, clip, codec, Path(folder), preset)
        print(
            f"\nwhere the time goes at {width}x{height}: decode {decode} frames/s, "
            f"encode ({codec}) {encoded}"
        )
        if codec == "h264":  # x264 with PyAV's default threads, as before codecs.py chose
            sliced = guarded(encode, clip, codec, Path(folder), preset, "SLICE")
            print(f"encode ({codec}) with sliced threads: {sliced}")
        # Ours on the device, then OpenCV's on the machine's cores: is `--flow auto` right there?
        for parted in args.parts.split(","):
            parts = guarded(where_colour_goes, clip, refs, colorizer, 4, frames, parted)
            print(f"`auto`'s colour stage, {parts}")
        layouts = guarded(layouts_fps, clip, refs, colorizer, flow)
        print(f"`auto`'s colour stage by the convolutions' memory layout, frames/s: {layouts}")
        sys.stdout.flush()
        # A short clip weighs the fixed costs of a run (checking, the guides, the first batch,
        # the encoder's start and its drain at the end, muxing) heavily. A feature pays them
        # once, and the drain once a segment (1000 frames): its rate is the extra frames of a
        # clip four times longer over the extra seconds they took.
        if time.perf_counter() - began < args.budget:
            longer, refs = panning_clip(Path(folder), width, height, 4 * frames)
            for method in ("auto", "embed"):
                whole = guarded(
                    end_to_end_seconds, longer, refs, method, colorizer, codec, flow, preset
                )
                extra = "not measured"
                if isinstance(whole, float) and isinstance(short.get(method), float):
                    extra = f"{3 * frames / (whole - short[method]):.1f}"
                print(f"`{method}` end to end, {4 * frames} frames of {width}x{height}: "
                      f"{cell(rate(4 * frames, whole))} frames/s; the {3 * frames} frames "
                      f"beyond the first {frames}: {extra} frames/s")  # fmt: skip
            sys.stdout.flush()
        print(f"(all of it took {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
