"""`remaster shots`: a film's shots, one keyframe each for a colorist, and the refs file.

    remaster shots film.mp4 -o shots.yaml [--keyframes DIR] [--sheet sheet.png]

One pass finds the cuts (cut_detection.py) and measures each frame's sharpness and brightness
at the analysis width; a second pass exports the chosen keyframes at full size, as grey PNGs
for the colorist to paint in place. The refs file has one entry per shot, whose `keyframe:`
and `ref:` point at that PNG, so `remaster film.mp4 --refs shots.yaml` then carries each
painted keyframe through its shot. Existing PNGs are never overwritten: they may be painted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from model.files import write_atomically
from remaster.commands.cut_detection import analysis_grey, cut_detector
from remaster.errors import InputError, OutputError
from remaster.media.forms import Source, open_source
from remaster.media.frames import Picture
from remaster.media.images import write_image
from remaster.media.planes import grey_rgb
from remaster.refs.cut_lists import check_writable, write_cuts
from remaster.refs.refs_file import format_timecode

# A keyframe comes from the middle half of its shot, away from the ends where fades and
# transitions live, and from frames whose brightness is near the shot's usual one.
MIDDLE = (0.25, 0.75)
BRIGHTNESS_TOLERANCE = 0.15  # of the shot's median mean luma
THUMB_WIDTH = 240
SHEET_COLUMNS = 5


@dataclass(frozen=True)
class Shot:
    start: int
    end: int  # exclusive
    keyframe: int

    @property
    def frames(self) -> int:
        return self.end - self.start


@dataclass
class ShotList:
    source: Source
    rate: Fraction
    frames: int
    shots: list[Shot]
    seconds: float  # the analysis pass

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else float("nan")


def sharpness(grey: np.ndarray) -> float:
    """Variance of the Laplacian: high for a sharp, detailed frame, low for blur or a fade."""
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def pick_keyframe(start: int, end: int, sharp: np.ndarray, bright: np.ndarray) -> int:
    """The sharpest frame in the middle half of [start, end) at the shot's usual brightness."""
    first = start + int((end - start) * MIDDLE[0])
    last = max(first + 1, start + int(np.ceil((end - start) * MIDDLE[1])))
    candidates = np.arange(first, min(last, end))
    usual = np.median(bright[start:end])
    steady = candidates[np.abs(bright[candidates] - usual) <= BRIGHTNESS_TOLERANCE * usual]
    if steady.size:
        candidates = steady
    return int(candidates[np.argmax(sharp[candidates])])


def luma8(picture: Picture) -> np.ndarray:
    """The luma plane at 8 bits (deeper video and scans keep their top bits)."""
    if picture.bits == 8:
        return picture.y
    return (picture.y >> (picture.bits - 8)).astype(np.uint8)


def find_shots(source: Source) -> ShotList:
    """Cuts, per-frame sharpness and brightness in one decoding pass; a keyframe per shot."""
    info = source.info
    detector = cut_detector("scenedetect", info.rate)
    sharp, bright = [], []
    started = time.perf_counter()
    for picture in source.frames():
        grey = analysis_grey(luma8(picture), source.full_range)
        detector.feed(picture.index, grey)
        sharp.append(sharpness(grey))
        bright.append(float(grey.mean()))
    seconds = time.perf_counter() - started
    if not sharp:
        raise InputError(f"{source.path}: no video frames could be decoded")
    count = len(sharp)
    bounds = [0, *detector.finish(), count]
    sharp_array, bright_array = np.array(sharp), np.array(bright)
    shots = [
        Shot(start, end, pick_keyframe(start, end, sharp_array, bright_array))
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return ShotList(source, info.rate, count, shots, seconds)


def keyframe_name(number: int, frame: int) -> str:
    return f"shot-{number:03d}-frame-{frame:06d}.png"


def export_keyframes(listing: ShotList, folder: Path) -> dict[int, np.ndarray]:
    """Each shot's keyframe as a grey PNG in `folder`; returns frame -> RGB for the sheet."""
    paths = {
        shot.keyframe: folder / keyframe_name(number, shot.keyframe)
        for number, shot in enumerate(listing.shots, 1)
    }
    existing = [path.name for path in paths.values() if path.exists()]
    if existing:
        raise OutputError(
            f"{folder}: already holds {', '.join(existing[:3])}"
            f"{' and more' if len(existing) > 3 else ''}, perhaps painted; remove them or "
            "choose another --keyframes folder"
        )
    images: dict[int, np.ndarray] = {}
    last = max(paths)
    pictures = listing.source.frames()
    try:
        for picture in pictures:
            if picture.index in paths:
                images[picture.index] = grey_rgb(picture, listing.source.full_range)
                write_image(paths[picture.index], images[picture.index])
            if picture.index >= last:
                break
    finally:
        pictures.close()
    return images


def refs_text(listing: ShotList, refs: Path, folder: Path) -> str:
    """The refs file: one entry per shot, its keyframe PNG as the reference."""
    relative = (
        Path(*folder.resolve().relative_to(refs.resolve().parent).parts)
        if _inside(folder, refs.parent)
        else folder.resolve()
    )
    lines = [
        f"# Shots of {listing.source.path.name}: {len(listing.shots)} shots, "
        f"{listing.frames} frames at {float(listing.rate):.3f} frames/s, found by "
        "`remaster shots`.",
        f"# Paint each keyframe in {relative.as_posix()}/ (keep its name), then run:",
        f"#   remaster {listing.source.path.name} --refs {refs.name}"
        + (f" --fps {listing.rate}" if listing.source.sequence else ""),
        "shots:",
    ]
    for number, shot in enumerate(listing.shots, 1):
        name = (relative / keyframe_name(number, shot.keyframe)).as_posix()
        lines += [
            f"  - start: {shot.start}  # {format_timecode(shot.start, listing.rate)}, "
            f"{shot.frames} frames",
            f"    keyframe: {shot.keyframe}  # {format_timecode(shot.keyframe, listing.rate)}",
            f"    ref: {name}",
        ]
    return "\n".join(lines) + "\n"


def _inside(folder: Path, parent: Path) -> bool:
    try:
        folder.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


def contact_sheet(listing: ShotList, images: dict[int, np.ndarray]) -> np.ndarray:
    """Every shot's keyframe, in order, labelled with its number, first frame and timecode."""
    first = images[listing.shots[0].keyframe]
    thumb_height = round(first.shape[0] * THUMB_WIDTH / first.shape[1])
    label = 22
    rows = -(-len(listing.shots) // SHEET_COLUMNS)
    sheet = np.full((rows * (thumb_height + label), SHEET_COLUMNS * THUMB_WIDTH, 3), 32, np.uint8)
    for position, shot in enumerate(listing.shots):
        row, column = divmod(position, SHEET_COLUMNS)
        top, left = row * (thumb_height + label), column * THUMB_WIDTH
        thumb = cv2.resize(
            images[shot.keyframe], (THUMB_WIDTH, thumb_height), interpolation=cv2.INTER_AREA
        )
        sheet[top : top + thumb_height, left : left + THUMB_WIDTH] = thumb
        text = f"{position + 1}: {shot.start} {format_timecode(shot.start, listing.rate)}"
        cv2.putText(
            sheet,
            text,
            (left + 4, top + thumb_height + 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (230, 230, 230),
            1,
            cv2.LINE_AA,
        )
    return sheet


def write_shot_list(
    film: Path,
    refs: Path,
    keyframes: Path,
    sheet: Path | None,
    cut_lists: list[Path] = (),
    fps: Fraction | None = None,
) -> ShotList:
    """The whole command: find the shots, export keyframes, write the refs file and sheet,
    and the cuts as cut lists for editing tools (remaster/refs/cut_lists.py)."""
    if refs.suffix.lower() not in (".yaml", ".yml"):
        raise OutputError(f"{refs}: the refs file must end in .yaml or .yml")
    for path in (refs, sheet, *cut_lists):
        if path is not None and not path.resolve().parent.is_dir():
            raise OutputError(f"{path}: folder {path.resolve().parent} does not exist")
    if film.resolve() in (refs.resolve(), sheet and sheet.resolve()):
        raise OutputError(f"{film}: is the input; choose another output name")
    if refs.exists():
        raise OutputError(f"{refs}: already exists, perhaps edited; remove it or choose another -o")
    source = open_source(film, fps)
    for path in cut_lists:
        check_writable(path, source.info.rate)
    listing = find_shots(source)
    keyframes.mkdir(parents=True, exist_ok=True)
    images = export_keyframes(listing, keyframes)
    if sheet is not None:
        write_image(sheet, contact_sheet(listing, images))
    cuts = [shot.start for shot in listing.shots[1:]]
    for path in cut_lists:
        write_cuts(path, cuts, listing.frames, listing.rate, source.path.name)
    write_atomically(refs, refs_text(listing, refs, keyframes).encode())
    return listing
