"""How well are cuts found? Precision, recall and F1 on grey clips cut at known frames.

    .venv/bin/python benchmarks/cuts.py [--out data/cuts] [--detectors scenedetect,content,...]

The clips are built from the real footage of the quality benchmark (benchmarks/material.py:
pedestrians seen by a fixed camera, a handheld cockatoo, an indoor plant), in pieces of 0.8 to
3 s joined at known frames, at 10 frames/s and 512x288, grey, encoded with H.264 as a
black-and-white transfer would be. On purpose they hold the hard cases:

- jump cuts inside one static scene: two moments of the fixed street camera, back to back;
- cuts between shots of similar brightness: the incoming piece's gain set so its mean luma
  equals the outgoing piece's;
- fades through black (five frames out, five in), whose cut is the first frame of the fade-in;
- cutting back to an earlier shot, and mirrored pieces;
- and the example reel (examples/film/reel.mp4): a handheld shot retimed from 20 to 29.97
  frames/s by repeating every third frame, as frame-rate conversions do, then two cuts.

A detected cut counts when it is at most one frame from a true cut (each true cut matched
once); the script prints precision, recall, F1, the largest offset and frames/s per detector.
Target: F1 >= 0.95 with no cut more than one frame off.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.material import fetch_sources, shown_frames, write_planes  # noqa: E402
from remaster.commands.cut_detection import DETECTORS, analysis_grey, cut_detector  # noqa: E402
from remaster.media.planes import COLOR_RANGE_FULL  # noqa: E402
from remaster.media.video import decode, probe  # noqa: E402

RATE = Fraction(10)
SIZE = (512, 288)
SOURCE_SECONDS = {"vtest": 79.0, "cockatoo": 13.5, "realshort": 1.1}
SOURCE_WEIGHTS = {"vtest": 0.5, "cockatoo": 0.35, "realshort": 0.15}
FADE_FRAMES = 5
CLIPS = 6  # clips 0-2 chose remaster.commands.cut_detection.MIN_CHANGE; 3-5 are held out
PIECES = 16
TOLERANCE = 1  # frames
EXAMPLE_REEL = Path(__file__).resolve().parent.parent / "examples" / "film" / "reel.mp4"


@dataclass
class Piece:
    source: str
    first: Fraction  # seconds into the source
    frames: int
    mirrored: bool
    match_brightness: bool  # gain set to the previous piece's mean
    fade_in: bool  # enters through black (the previous piece fades out)


@dataclass
class CutClip:
    path: Path
    frames: int
    cuts: list[int]
    kinds: list[str]  # per cut: "cut", "jump cut", "similar brightness", "fade"


def plan_pieces(seed: int) -> list[Piece]:
    """A random but fixed run of pieces; consecutive pieces of one source are >= 5 s apart."""
    rng = np.random.default_rng(seed)
    names = list(SOURCE_WEIGHTS)
    weights = np.array([SOURCE_WEIGHTS[name] for name in names])
    pieces: list[Piece] = []
    while len(pieces) < PIECES:
        source = names[rng.choice(len(names), p=weights / weights.sum())]
        frames = int(rng.integers(8, 31))
        longest = int(SOURCE_SECONDS[source] * float(RATE))
        frames = min(frames, longest)
        first = Fraction(int(rng.integers(0, longest - frames + 1)), int(RATE))
        if pieces and pieces[-1].source == source and abs(pieces[-1].first - first) < 5:
            continue  # not a cut at all, or too little of one: draw again
        pieces.append(
            Piece(
                source,
                first,
                frames,
                mirrored=source == "cockatoo" and rng.random() < 0.3,
                match_brightness=bool(pieces) and rng.random() < 0.4,
                fade_in=bool(pieces) and rng.random() < 0.15,
            )
        )
    return pieces


def grey_of(rgb: np.ndarray) -> np.ndarray:
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    return (rgb.astype(np.float32) @ weights).astype(np.float32)


def build_clip(path: Path, pieces: list[Piece], sources: dict[str, Path]) -> CutClip:
    wanted: dict[str, list[Fraction]] = {}
    for piece in pieces:
        moments = [piece.first + Fraction(k, int(RATE)) for k in range(piece.frames)]
        wanted.setdefault(piece.source, []).extend(moments)
    shown = {name: shown_frames(sources[name], moments, SIZE) for name, moments in wanted.items()}
    frames: list[np.ndarray] = []
    cuts, kinds = [], []
    for number, piece in enumerate(pieces):
        block = [
            grey_of(shown[piece.source][piece.first + Fraction(k, int(RATE))])
            for k in range(piece.frames)
        ]
        if piece.mirrored:
            block = [frame[:, ::-1] for frame in block]
        if number:
            previous = pieces[number - 1]
            kind = "jump cut" if previous.source == piece.source == "vtest" else "cut"
            if piece.match_brightness:
                gain = frames[-1].mean() / max(np.mean([f.mean() for f in block]), 1.0)
                block = [frame * gain for frame in block]
                kind = "similar brightness" if kind == "cut" else kind
            if piece.fade_in:
                for k in range(FADE_FRAMES):
                    frames[-1 - k] = frames[-1 - k] * (k / FADE_FRAMES)
                    block[k] = block[k] * ((k + 1) / (FADE_FRAMES + 1))
                kind = "fade"
            cuts.append(len(frames))
            kinds.append(kind)
        frames.extend(block)
    write_grey_h264(path, [np.clip(frame, 0, 255).round().astype(np.uint8) for frame in frames])
    return CutClip(path, len(frames), cuts, kinds)


def write_grey_h264(path: Path, frames: list[np.ndarray]) -> None:
    """Grey frames as H.264, tagged full range: the grey is written as it is."""
    height, width = frames[0].shape
    neutral = np.full((height // 2, width // 2), 128, np.uint8)
    write_planes(path, [(y, neutral, neutral) for y in frames], RATE, "h264", COLOR_RANGE_FULL)


def score(found: list[int], truth: list[int]) -> tuple[int, list[int], list[int], list[int]]:
    """(hits, offsets of the hits, missed true cuts, false detections)."""
    unmatched = list(truth)
    offsets, false = [], []
    for cut in found:
        near = [t for t in unmatched if abs(t - cut) <= TOLERANCE]
        if near:
            best = min(near, key=lambda t: abs(t - cut))
            unmatched.remove(best)
            offsets.append(cut - best)
        else:
            false.append(cut)
    return len(offsets), offsets, unmatched, false


def summarise(per_clip: list, rate: float) -> dict[str, float]:
    hits = sum(clip[0] for clip in per_clip)
    truths = sum(clip[1] for clip in per_clip)
    detections = sum(clip[2] for clip in per_clip)
    precision = hits / detections if detections else 1.0
    recall = hits / truths if truths else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    largest = max((abs(offset) for clip in per_clip for offset in clip[3]), default=0)
    return {
        "cuts": truths,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "largest_offset": largest,
        "frames_per_second": rate,
    }


def line(result: dict[str, float]) -> str:
    return (
        f"{result['cuts']} cuts: precision {result['precision']:.3f}  recall "
        f"{result['recall']:.3f}  F1 {result['f1']:.3f}  largest offset "
        f"{result['largest_offset']} frame(s)  {result['frames_per_second']:.0f} frames/s "
        f"(decoding included, {SIZE[0]}x{SIZE[1]})"
    )


def run(out: Path, detectors: list[str]) -> dict[str, dict[str, float]]:
    out.mkdir(parents=True, exist_ok=True)
    sources = fetch_sources()
    clips = []
    for number in range(CLIPS):
        path = out / f"cuts-{number}.mp4"
        clip = build_clip(path, plan_pieces(seed=number), sources)
        clips.append(clip)
        counts = {kind: clip.kinds.count(kind) for kind in sorted(set(clip.kinds))}
        print(f"{path.name}: {clip.frames} frames, {len(clip.cuts)} cuts {counts}")
    clips.append(CutClip(EXAMPLE_REEL, 216, [90, 180], ["cut", "cut"]))
    results = {}
    for name in detectors:
        per_clip, frames, seconds = [], 0, 0.0
        for clip in clips:
            started = time.perf_counter()
            info = probe(clip.path)
            detector = cut_detector(name, info.rate)
            full_range = info.color_range == COLOR_RANGE_FULL
            for picture in decode(clip.path):
                detector.feed(picture.index, analysis_grey(picture.y, full_range))
            found = detector.finish()
            seconds += time.perf_counter() - started
            frames += clip.frames
            hits, offsets, missed, false = score(found, clip.cuts)
            per_clip.append((hits, len(clip.cuts), len(found), offsets))
            kinds = [clip.kinds[clip.cuts.index(cut)] for cut in missed]
            missed_text = ", ".join(
                f"{cut} ({kind})" for cut, kind in zip(missed, kinds, strict=True)
            )
            print(f"  {name:16s} {clip.path.name}: missed [{missed_text}], false {false}")
        rate = frames / seconds
        groups = (("clips 0-2", per_clip[:3]), ("clips 3-5", per_clip[3:6]), ("reel", per_clip[6:]))
        for group, chosen in groups:
            results[f"{name}, {group}"] = summarise(chosen, rate)
        results[name] = summarise(per_clip, rate)
        print(f"{name:16s} " + line(results[name]))
        for group, _ in groups:
            print(f"{'':16s} {group}: " + line(results[f"{name}, {group}"]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/cuts"))
    parser.add_argument("--detectors", default=",".join(DETECTORS))
    args = parser.parse_args()
    run(args.out, args.detectors.split(","))


if __name__ == "__main__":
    main()
