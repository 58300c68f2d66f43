"""End-to-end speed against the colorizer's own, per-method cost, and memory against length.

    .venv/bin/python benchmarks/pipeline_speed.py [--clip FILM --refs REFS] [--method auto]
                                                  [--memory-working-size 128] [--no-memory]

On one clip (default: the example reel at its native size), in one run:
- the colorizer's own frames/s: the frames decoded into memory first, then assigned to their
  refs entries, batched and coloured exactly as the pipeline does (guides built beforehand,
  as the pipeline builds them before its first frame); no decoding, no chroma planes, no
  encoding;
- the end-to-end frames/s of `remaster FILM --refs REFS` (guides included: the pipeline's own
  summary line), and their ratio;
- each method's colorizer frames/s, the same way;
- the peak resident memory of the whole command, in a fresh process, for the clip and for the
  clip repeated 10 times (at a smaller working size, so the long run stays short: the network's
  size does not change how memory grows with length).
Numbers vary with machine load: compare the ratios, which are taken in one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.colorizer import Colorizer  # noqa: E402
from remaster.check import check_job  # noqa: E402
from remaster.continuity import Continuity  # noqa: E402
from remaster.methods import METHODS, ColourPredictor  # noqa: E402
from remaster.pipeline import (  # noqa: E402
    FilmOptions,
    batch_for,
    colorize_film,
    lightness_of,
    reference_guides,
)
from remaster.planes import COLOR_RANGE_FULL  # noqa: E402
from remaster.propagation import STEADY  # noqa: E402
from remaster.stages import assign_entries, batch_by_entry, predict_colour  # noqa: E402
from remaster.weights import resolve_weights  # noqa: E402

CLIP = ROOT / "examples" / "film" / "reel.mp4"
REFS = ROOT / "examples" / "film" / "shots.yaml"
SEGMENT_FRAMES = 1000


def colorizer_fps(film: Path, refs: Path, method: str, colorizer: Colorizer) -> float:
    """Frames/s of assigning, batching and colouring frames already in memory."""
    job = check_job(film, refs, None)
    info = job.source.info
    pictures = list(job.source.frames())
    predictor = ColourPredictor(colorizer, method, STEADY)
    guides = reference_guides(predictor, job.plan)
    continuity = Continuity(
        predictor, guides, SEGMENT_FRAMES, lightness_of(job.source, colorizer.device)
    )
    options = FilmOptions(source=film, output=film)
    started = time.perf_counter()
    batches = batch_by_entry(
        assign_entries(pictures, job.plan, info.rate),
        batch_for(options, colorizer.device),
        SEGMENT_FRAMES,
    )
    full_range = info.color_range == COLOR_RANGE_FULL
    for _ in predict_colour(batches, continuity.colour, colorizer.device, full_range, info.bits):
        pass
    return len(pictures) / (time.perf_counter() - started)


def end_to_end_fps(film: Path, refs: Path, method: str, colorizer: Colorizer, work: Path):
    options = FilmOptions(
        source=film, output=work / f"out{film.suffix}", refs=refs, quiet=True, method=method
    )
    summary = colorize_film(options, colorizer)
    return summary.frames / summary.seconds


def repeated(film: Path, times: int, output: Path) -> Path:
    """The film's video packets `times` over, timestamps shifted, with no re-encoding."""
    with av.open(str(film)) as source, av.open(str(output), "w") as target:
        stream = source.streams.video[0]
        out = target.add_stream_from_template(stream)
        packets = [packet for packet in source.demux(stream) if packet.size]
        span = max(p.pts + (p.duration or 0) for p in packets) - min(p.pts for p in packets)
        for repeat in range(times):
            for packet in packets:
                packet.pts += span if repeat else 0
                packet.dts += span if repeat else 0
                packet.stream = out
                target.mux(packet)
    return output


def peak_memory_mib(film: Path, refs: Path, working_size: int, work: Path) -> tuple[float, float]:
    """Peak resident memory (MiB) of the whole `remaster` command in a fresh process, and its
    frames/s."""
    code = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from remaster.pipeline import FilmOptions, colorize_film\n"
        "s = colorize_film(FilmOptions(source=Path(sys.argv[1]), output=Path(sys.argv[3]), "
        "refs=Path(sys.argv[2]), quiet=True, working_size=int(sys.argv[4])))\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps([peak, s.frames / s.seconds]))\n"
    )
    output = work / f"memory{film.suffix}"
    result = subprocess.run(
        [sys.executable, "-c", code, str(film), str(refs), str(output), str(working_size)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    peak, fps = json.loads(result.stdout.strip().splitlines()[-1])
    output.unlink()
    return peak, fps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--refs", type=Path, default=REFS)
    parser.add_argument("--method", default="auto", choices=METHODS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--memory-working-size", type=int, default=128)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)
    colorizer = Colorizer.from_checkpoint(resolve_weights(None), args.device)
    with av.open(str(args.clip)) as container:
        stream = container.streams.video[0]
        size = f"{stream.width}x{stream.height}"
        rate = Fraction(stream.average_rate)
    print(f"clip {args.clip} ({size}, {float(rate):.2f} frames/s), device {args.device}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        own = colorizer_fps(args.clip, args.refs, args.method, colorizer)
        whole = end_to_end_fps(args.clip, args.refs, args.method, colorizer, work)
        print(f"colorizer ({args.method}), frames in memory: {own:.2f} frames/s")
        print(f"end-to-end ({args.method}): {whole:.2f} frames/s, ratio {whole / own:.2f}")
        for method in METHODS:
            if method != args.method:
                fps = colorizer_fps(args.clip, args.refs, method, colorizer)
                print(f"colorizer ({method}), frames in memory: {fps:.2f} frames/s")
        if args.no_memory:
            return
        longer = repeated(args.clip, 10, work / f"ten{args.clip.suffix}")
        size = args.memory_working_size
        once, once_fps = peak_memory_mib(args.clip, args.refs, size, work)
        ten, ten_fps = peak_memory_mib(longer, args.refs, size, work)
        print(
            f"peak resident memory, whole command, working size {size}: clip {once:.0f} MiB "
            f"({once_fps:.1f} frames/s), clip x10 {ten:.0f} MiB ({ten_fps:.1f} frames/s), "
            f"ratio {ten / once:.2f}"
        )


if __name__ == "__main__":
    main()
