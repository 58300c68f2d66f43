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
- the colorizer's frames/s with each shot given the next shot's reference (another scene's), as
  with one reference for a whole film: no frame can be followed from its reference;
- the peak resident memory of the whole command (`--ref`, one reference), in a fresh process,
  for the clip's first 100 frames and for them repeated 10 times (at a smaller working size,
  so the long run stays short: neither changes how memory grows with length).
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
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.colorizer import Colorizer  # noqa: E402
from remaster.color.batches import assign_entries, batch_by_entry  # noqa: E402
from remaster.color.methods import METHODS  # noqa: E402
from remaster.color.predictor import ColorPredictor  # noqa: E402
from remaster.color.propagation import STEADY  # noqa: E402
from remaster.color.stage import ColorStage  # noqa: E402
from remaster.run.check import check_job  # noqa: E402
from remaster.run.film import (  # noqa: E402
    FilmOptions,
    batch_for,
    colorize_film,
    reference_guides,
)
from remaster.run.malloc import keep_freed_memory  # noqa: E402
from remaster.run.weights import resolve_weights  # noqa: E402

CLIP = ROOT / "examples" / "film" / "reel.mp4"
REFS = ROOT / "examples" / "film" / "shots.yaml"
MEMORY_REF = ROOT / "examples" / "film" / "refs" / "cockatoo.jpg"  # a frame of the first shot
SEGMENT_FRAMES = 1000


def colorizer_fps(
    film: Path, refs: Path, method: str, colorizer: Colorizer, stabilise: bool = True
) -> float:
    """Frames/s of assigning, batching and colouring frames already in memory."""
    job = check_job(film, refs, None)
    info = job.source.info
    pictures = list(job.source.frames())
    predictor = ColorPredictor(colorizer, method)
    guides = reference_guides(predictor, job.plan)
    steady = STEADY if stabilise else 0.0
    stage = ColorStage(predictor, guides, job.source.full_range, info.bits, steady)
    options = FilmOptions(source=film, output=film)
    started = time.perf_counter()
    batches = batch_by_entry(
        assign_entries(pictures, job.plan, info.rate),
        batch_for(options, info, colorizer.device, colorizer.working_short_side),
        SEGMENT_FRAMES,
    )
    for _ in stage(batches):
        pass
    return len(pictures) / (time.perf_counter() - started)


def another_scenes_refs(refs: Path, output: Path) -> Path | None:
    """The refs file with each shot given the next one's reference (the last the first's), so
    none shows its own scene; None where it has fewer than two shots with one `ref` each."""
    shots = yaml.safe_load(refs.read_text())["shots"]
    names = [shot.get("ref") for shot in shots]
    if len(names) < 2 or not all(isinstance(name, str) for name in names):
        return None
    moved = names[1:] + names[:1]
    rotated = [
        {**shot, "ref": str((refs.parent / name).resolve())}
        for shot, name in zip(shots, moved, strict=True)
    ]
    output.write_text(yaml.safe_dump({"shots": rotated}, sort_keys=False))
    return output


def end_to_end_fps(film: Path, refs: Path, method: str, colorizer: Colorizer, work: Path):
    options = FilmOptions(
        source=film, output=work / f"out{film.suffix}", refs=refs, quiet=True, method=method
    )
    summary = colorize_film(options, colorizer)
    return summary.frames / summary.seconds


def repeated(film: Path, frames: int, times: int, output: Path) -> Path:
    """The film's first `frames` frames, `times` over, as H.264 (re-encoded: a cut in the
    packets would break the frames that refer across it)."""
    pictures = [frame.to_ndarray(format="rgb24") for frame in first_frames(film, frames)]
    with av.open(str(film)) as source:
        rate = source.streams.video[0].average_rate
    with av.open(str(output), "w") as target:
        stream = target.add_stream("libx264", rate=rate, options={"preset": "ultrafast"})
        stream.height, stream.width = pictures[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for index in range(frames * times):
            frame = av.VideoFrame.from_ndarray(pictures[index % frames], format="rgb24")
            frame.pts = index
            target.mux(stream.encode(frame))
        target.mux(stream.encode())
    return output


def first_frames(film: Path, count: int) -> list:
    with av.open(str(film)) as source:
        frames = []
        for frame in source.decode(video=0):
            frames.append(frame)
            if len(frames) == count:
                return frames
    return frames


def peak_memory_mib(film: Path, ref: Path, working_size: int, work: Path) -> tuple[float, float]:
    """Peak resident memory (MiB) of the whole `remaster` command in a fresh process, and its
    frames/s."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from remaster.run.film import FilmOptions, colorize_film\n"
        "from remaster.run.malloc import keep_freed_memory, peak_resident_bytes\n"
        "keep_freed_memory()\n"  # as the command line does
        "s = colorize_film(FilmOptions(source=Path(sys.argv[1]), output=Path(sys.argv[3]), "
        "ref=Path(sys.argv[2]), quiet=True, working_size=int(sys.argv[4])))\n"
        "print(json.dumps([peak_resident_bytes() / 2**20, s.frames / s.seconds]))\n"
    )
    output = work / f"memory{film.suffix}"
    result = subprocess.run(
        [sys.executable, "-c", code, str(film), str(ref), str(output), str(working_size)],
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
    parser.add_argument("--memory-frames", type=int, default=100)
    parser.add_argument("--memory-ref", type=Path, default=MEMORY_REF, help="one reference")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-methods", action="store_true", help="only the default method")
    args = parser.parse_args(argv)
    keep_freed_memory()  # as the command line does
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
        for method in [] if args.no_methods else METHODS:
            if method != args.method:
                fps = colorizer_fps(args.clip, args.refs, method, colorizer)
                print(f"colorizer ({method}), frames in memory: {fps:.2f} frames/s")
        others = another_scenes_refs(args.refs, work / "others.yaml")
        if others is not None and args.method in ("auto", "propagate"):
            fps = colorizer_fps(args.clip, others, args.method, colorizer)
            print(
                f"colorizer ({args.method}), each shot another's reference, frames in memory: "
                f"{fps:.2f} frames/s"
            )
        if not args.no_methods:  # the fastest path: one embedding per shot, no optical flow
            fps = colorizer_fps(args.clip, args.refs, "embed", colorizer, stabilise=False)
            print(f"colorizer (embed --no-stabilise), frames in memory: {fps:.2f} frames/s")
        if args.no_memory:
            return
        count, size = args.memory_frames, args.memory_working_size
        once = repeated(args.clip, count, 1, work / "once.mp4")
        ten = repeated(args.clip, count, 10, work / "ten.mp4")
        once_mib, once_fps = peak_memory_mib(once, args.memory_ref, size, work)
        ten_mib, ten_fps = peak_memory_mib(ten, args.memory_ref, size, work)
        print(
            f"peak resident memory, whole command, first {count} frames, working size {size}: "
            f"{once_mib:.0f} MiB ({once_fps:.1f} frames/s); the same 10 times over: "
            f"{ten_mib:.0f} MiB ({ten_fps:.1f} frames/s), ratio {ten_mib / once_mib:.2f}"
        )


if __name__ == "__main__":
    main()
