"""Test material for the colour-quality benchmark: real clips with cuts, and held-out photos.

    .venv/bin/python benchmarks/material.py OUT [--quick] [--debs DIR] [--work DIR] [--photos DIR]

Clips are cut from real footage in Debian packages (see ../shared/DATA.md), fetched with
apt-get when missing: python3-imageio's cockatoo.mp4 and realshort.mp4 (BSD-2-Clause) and
opencv-doc's vtest.avi (Apache-2.0 AND BSD-3-Clause). Each piece of a clip is one shot, cropped
to 16:9, scaled and retimed to one rate. A clip folder holds the colour truth and the grey input
a black-and-white transfer would hold (FFV1, bit-identical luma), a keyframe reference and an
"any" reference (a frame from another moment of the same source) for every shot, refs files
for both, and clip.json with the cuts and the licences. Photos come from the held-out split of
the prepared training photos (data/photos/val, `make photos`): the truth at a short side of 256
and a reference made from it (mirrored, 80% crop). Nothing here is committed; this script
rebuilds it all, and skips clips already built with the same spec.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch

from remaster.media.frames import Picture
from remaster.media.images import crop_to_frame, write_image
from remaster.media.planes import BT601, COLOR_RANGE_FULL, luma_coefficients, planes_from_rgb
from remaster.media.planes import rgb_from_planes as _rgb_from_planes
from remaster.media.video import SegmentWriter, VideoInfo, decode, probe
from training_data.debs import DebFetcher, unpack

FORMAT = 1  # bump when the output of build_clip changes for the same spec
SIZE = (512, 288)  # width, height: 16:9
QUICK_SIZE = (256, 144)
RATE = Fraction(10)  # vtest's own rate; keeps the benchmark under 15 minutes
PHOTO_SHORT_SIDE = 256
PHOTO_CROP = 0.8
QUICK_PHOTOS = 4
PHOTOS = 30  # of the 50 held out: the first 30 by name keep the benchmark under 15 minutes
# FFmpeg's codes for the tags of truth.mkv and grey.mkv: BT.601 (SMPTE 170M), limited range.
COLORSPACE_SMPTE170M = 6
COLOR_RANGE_MPEG = 1
# A frame is black when its mean Y is at most 5% of the way from black (16) to white (235).
BLACK_LEVEL = 16 + 0.05 * 219

IMAGEIO = "usr/lib/python3/dist-packages/imageio/resources/images"
OPENCV_DATA = "usr/share/doc/opencv-doc/examples/data"
IMAGEIO_LICENCE = "BSD-2-Clause (imageio contributors)"
OPENCV_LICENCE = "Apache-2.0 AND BSD-3-Clause (OpenCV)"


@dataclass(frozen=True)
class Source:
    package: str
    inner: str  # path inside the unpacked package
    licence: str
    description: str


SOURCES = {
    "cockatoo": Source(
        "python3-imageio",
        f"{IMAGEIO}/cockatoo.mp4",
        IMAGEIO_LICENCE,
        "a cockatoo, handheld, one shot (14 s, 20 fps, 1280x720)",
    ),
    "realshort": Source(
        "python3-imageio",
        f"{IMAGEIO}/realshort.mp4",
        IMAGEIO_LICENCE,
        "an indoor plant (1.2 s, 30 fps, 320x240)",
    ),
    "vtest": Source(
        "opencv-doc",
        f"{OPENCV_DATA}/vtest.avi",
        OPENCV_LICENCE,
        "pedestrians seen by a fixed camera (79.5 s, 10 fps, 768x576)",
    ),
}


# ---------------------------------------------------------------------------------------------
# Specs


@dataclass(frozen=True)
class Piece:
    """One shot: `seconds` of `source` from `first`, and the any-reference's moment `other`,
    a second of the same source outside every piece of the clip. Seconds count from the
    source's first frame."""

    source: str
    first: float
    seconds: float
    other: float


@dataclass(frozen=True)
class ClipSpec:
    name: str
    pieces: tuple[Piece, ...]
    note: str = ""  # what the cuts are


# Seconds count from each source's first frame. Mean luma (Y, 16-235) was measured on the
# 512x288, 20 fps BT.601 limited-range planes (the clips are now built at 10 fps).
CLIPS = (
    ClipSpec(
        "street-jump",
        (Piece("vtest", 2.0, 2.0, other=30.0), Piece("vtest", 52.0, 2.0, other=75.0)),
        "a jump cut within one static scene: the same fixed camera 50 s later",
    ),
    # Candidates, mean Y over 3 s: cockatoo 0-3 s 110.8, 2-5 s 112.2, 8.4-11.4 s 123.1,
    # 10-13 s 121.8, 11-14 s 118.3; vtest 3 s windows from 0 to 78 s: 124.6 (60-63 s) to 128.7
    # (12-15 s). Picked cockatoo 9.4-11.4 s and vtest 60-62 s: as built, mean Y 122.8 and 124.5,
    # and 122.6 and 124.9 on the two frames either side of the cut.
    ClipSpec(
        "bird-street",
        (Piece("cockatoo", 9.4, 2.0, other=1.0), Piece("vtest", 60.0, 2.0, other=45.0)),
        "a cut between two scenes of similar brightness (mean Y 122.8 and 124.5)",
    ),
    ClipSpec(
        "handheld-plant",
        (Piece("cockatoo", 0.5, 2.5, other=12.5), Piece("realshort", 0.0, 0.8, other=1.15)),
        "a handheld shot moving from a wide view to a close-up, cut to a static plant",
    ),
    ClipSpec(
        "plant-street-beak",
        (
            Piece("realshort", 0.0, 0.8, other=1.15),
            Piece("vtest", 66.0, 2.0, other=15.0),
            Piece("cockatoo", 6.8, 2.0, other=13.5),
        ),
        "plant to street, then street to a dark handheld close-up with a whip pan at 7.8 s",
    ),
)
QUICK = ClipSpec(
    "quick",
    (Piece("vtest", 20.0, 0.6, other=40.0), Piece("cockatoo", 1.0, 0.6, other=10.0)),
    "street to cockatoo: two scenes",
)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Shot:
    start: int
    end: int  # exclusive
    keyframe: int  # the clip's frame the keyframe PNG shows
    source: str  # what the piece is, for people


@dataclass
class Clip:
    name: str
    folder: Path
    truth: Path
    grey: Path
    keyframes: list[Path]  # keyframe-K.png per shot
    others: list[Path]  # other-K.png per shot
    keyframe_refs: Path
    any_refs: Path
    info: Path  # clip.json
    size: tuple[int, int]  # width, height
    rate: Fraction
    frames: int
    cuts: list[int]
    shots: list[Shot] = field(default_factory=list)


@dataclass
class Photo:
    name: str
    truth: Path
    reference: Path
    crop: tuple[int, int, int, int]  # x, y, width, height of the reference in the mirrored truth
    source: str
    licence: str | None


@dataclass
class Material:
    folder: Path
    clips: list[Clip]
    photos: list[Photo]
    seconds: float  # all of it
    clip_seconds: dict[str, float | None]  # None: already built with the same spec, kept
    photo_seconds: float


# ---------------------------------------------------------------------------------------------
# Fetching


def fetch_sources(
    debs: Path = Path("data/debs"), work: Path = Path("data/example-sources")
) -> dict[str, Path]:
    """Source name -> video file, downloading and unpacking the packages when missing."""
    fetcher = DebFetcher(debs)
    roots = {
        package: unpack(fetcher.fetch(package), work, package)
        for package in sorted({source.package for source in SOURCES.values()})
    }
    paths = {name: roots[source.package] / source.inner for name, source in SOURCES.items()}
    for name, path in paths.items():
        if not path.is_file():
            raise SystemExit(f"benchmarks.material: {name}: {path} is not in its package")
    return paths


# ---------------------------------------------------------------------------------------------
# Frames


def rgb_from_planes(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The picture BT.601 limited-range planes decode to, as remaster turns planes into RGB."""
    return _rgb_from_planes(y, u, v, BT601, False)


def round_trip(rgb: np.ndarray) -> np.ndarray:
    """RGB as it comes back from truth.mkv: through BT.601 limited-range 4:2:0 planes."""
    return rgb_from_planes(*planes_from_rgb(rgb, BT601, False))


def shown_frames(
    path: Path, moments: Iterable[Fraction], size: tuple[int, int]
) -> dict[Fraction, np.ndarray]:
    """Moment (seconds from the source's first frame) -> the source frame shown then, as RGB
    cropped and scaled to `size`.

    Decodes from the start without seeking (cockatoo.mp4 breaks when seeked) and stops after
    the last moment. The source's planes become RGB with the matrix and range it is tagged
    with (untagged: HD 709, SD 601), as remaster reads them.
    """
    pending = sorted(set(moments))
    if not pending:
        return {}
    info = probe(path)
    coefficients = luma_coefficients(info.colorspace, info.height)
    full_range = info.color_range == COLOR_RANGE_FULL
    converted: dict[int, np.ndarray] = {}

    def picture_rgb(picture: Picture) -> np.ndarray:
        if picture.index not in converted:
            rgb = _rgb_from_planes(picture.y, picture.u, picture.v, coefficients, full_range)
            converted[picture.index] = crop_to_frame(rgb, size)
        return converted[picture.index]

    shown: dict[Fraction, np.ndarray] = {}
    pictures = decode(path)
    previous, origin, last_time = None, None, None
    try:
        for picture in pictures:
            stamp = Fraction(picture.pts) * picture.time_base
            origin = stamp if origin is None else origin
            last_time = stamp - origin
            while pending and pending[0] < last_time:
                shown[pending.pop(0)] = picture_rgb(picture if previous is None else previous)
            if not pending:
                break
            previous = picture
    finally:
        pictures.close()
    if previous is None:
        raise ValueError(f"{path}: no video frames")
    end = last_time + 1 / info.rate
    for moment in pending:
        if moment >= end:
            raise ValueError(
                f"{path}: {float(moment):.3f} s is past the end of the source ({float(end):.3f} s)"
            )
        shown[moment] = picture_rgb(previous)
    return shown


def piece_moments(piece: Piece, rate: Fraction) -> list[Fraction]:
    """The source moments shown at the piece's output frames: first + index / rate."""
    first = Fraction(str(piece.first))
    return [first + index / rate for index in range(round(Fraction(str(piece.seconds)) * rate))]


def moments_of_source(spec: ClipSpec, source: str, rate: Fraction) -> list[Fraction]:
    return [
        m for piece in spec.pieces if piece.source == source for m in piece_moments(piece, rate)
    ]


def check_spec(spec: ClipSpec, sources: dict[str, Path]) -> None:
    for number, piece in enumerate(spec.pieces):
        if piece.source not in sources:
            raise ValueError(f"{spec.name}: piece {number}: no source named {piece.source!r}")
        for other in spec.pieces:
            if other.source == piece.source and other.first <= piece.other < (
                other.first + other.seconds
            ):
                raise ValueError(
                    f"{spec.name}: piece {number}: its other moment {piece.other} s lies inside "
                    f"a piece of the clip ({other.first}-{other.first + other.seconds} s)"
                )


def spec_hash(
    spec: ClipSpec, sources: dict[str, Path], size: tuple[int, int], rate: Fraction
) -> str:
    """What a built clip depends on: the spec, size, rate, format and the source files."""
    used = sorted({piece.source for piece in spec.pieces})
    key = {
        "format": FORMAT,
        "spec": asdict(spec),
        "size": list(size),
        "rate": str(rate),
        "sources": {name: [sources[name].name, sources[name].stat().st_size] for name in used},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Clips


def write_ffv1(path: Path, frames: Sequence[tuple[np.ndarray, ...]], rate: Fraction) -> None:
    """4:2:0 planes -> FFV1 in Matroska, tagged BT.601 limited range, pts = index at 1/rate."""
    write_planes(path, frames, rate, "ffv1", COLOR_RANGE_MPEG)


def write_planes(
    path: Path,
    frames: Sequence[tuple[np.ndarray, ...]],
    rate: Fraction,
    codec: str,
    color_range: int,
) -> None:
    """4:2:0 planes -> `codec`, tagged BT.601 and `color_range`, pts = index at 1/rate:
    remaster's own segment writer, so the tags are the ones its pipeline reads back."""
    height, width = frames[0][0].shape
    info = VideoInfo(
        path=path,
        width=width,
        height=height,
        rate=rate,
        time_base=1 / rate,
        frame_count=len(frames),
        sample_aspect_ratio=None,
        colorspace=COLORSPACE_SMPTE170M,
        color_range=color_range,
        audio_streams=0,
        subtitle_streams=0,
    )
    writer = SegmentWriter(path, info, codec)
    try:
        for index, (y, u, v) in enumerate(frames):
            writer.write(Picture(index=index, pts=index, time_base=1 / rate, y=y, u=u, v=v))
    except BaseException:
        writer.abort()
        raise
    writer.close()


def refs_yaml(title: str, starts: Sequence[int], names: Sequence[str]) -> str:
    lines = [f"# {title}", "shots:"]
    for start, name in zip(starts, names, strict=True):
        lines += [f"  - start: {start}", f"    ref: {name}"]
    return "\n".join(lines) + "\n"


def build_clip(
    spec: ClipSpec,
    sources: dict[str, Path],
    out_dir: Path,
    size: tuple[int, int] = SIZE,
    rate: Fraction = RATE,
) -> Clip:
    """Build out_dir/NAME/ (see the module docstring); any earlier build there is replaced.

    `sources` maps the spec's source names to video files; names that are not in SOURCES
    (a test's own videos) are recorded with an unknown licence.
    """
    if size[0] % 2 or size[1] % 2:
        raise ValueError(f"{size[0]}x{size[1]}: 4:2:0 needs even sides")
    rate = Fraction(rate)
    check_spec(spec, sources)
    wanted: dict[str, set[Fraction]] = {}
    for piece in spec.pieces:
        moments = wanted.setdefault(piece.source, set())
        moments.update(piece_moments(piece, rate))
        moments.add(Fraction(str(piece.other)))
    shown = {name: shown_frames(sources[name], moments, size) for name, moments in wanted.items()}

    truth: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    shots, others = [], []
    for number, piece in enumerate(spec.pieces):
        start = len(truth)
        truth += [
            planes_from_rgb(shown[piece.source][m], BT601, False)
            for m in piece_moments(piece, rate)
        ]
        if len(truth) == start:
            raise ValueError(f"{spec.name}: piece {number} is shorter than one frame")
        bright = [i for i in range(start, len(truth)) if truth[i][0].mean() > BLACK_LEVEL]
        if not bright:
            raise ValueError(f"{spec.name}: piece {number} is black throughout")
        described = SOURCES[piece.source].description if piece.source in SOURCES else ""
        shots.append(
            Shot(
                start,
                len(truth),
                bright[0],
                f"{piece.source} {piece.first:g}-{piece.first + piece.seconds:g} s"
                + (f": {described}" if described else ""),
            )
        )
        other = shown[piece.source][Fraction(str(piece.other))]
        # shown_frames hands out one array per source frame: the same object is the same frame.
        for moment in moments_of_source(spec, piece.source, rate):
            if shown[piece.source][moment] is other:
                raise ValueError(
                    f"{spec.name}: piece {number}: its other moment {piece.other} s shows the "
                    f"same source frame as {piece.source} at {float(moment):.3f} s in the clip"
                )
        others.append(round_trip(other))

    final = out_dir / spec.name
    folder = out_dir / f".{spec.name}.partial"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    write_ffv1(folder / "truth.mkv", truth, rate)
    neutral = np.full_like(truth[0][1], 128)
    write_ffv1(folder / "grey.mkv", [(y, neutral, neutral) for y, _, _ in truth], rate)
    keyframe_names = [f"keyframe-{k}.png" for k in range(len(shots))]
    other_names = [f"other-{k}.png" for k in range(len(shots))]
    for shot, keyframe_name, other, other_name in zip(
        shots, keyframe_names, others, other_names, strict=True
    ):
        write_image(folder / keyframe_name, rgb_from_planes(*truth[shot.keyframe]))
        write_image(folder / other_name, other)
    starts = [shot.start for shot in shots]
    (folder / "keyframe.yaml").write_text(
        refs_yaml(f"{spec.name}: each shot from its first non-black frame", starts, keyframe_names)
    )
    (folder / "any.yaml").write_text(
        refs_yaml(f"{spec.name}: each shot from another moment of its source", starts, other_names)
    )
    record = {
        "name": spec.name,
        "note": spec.note,
        "size": list(size),
        "rate": f"{rate.numerator}/{rate.denominator}",
        "frames": len(truth),
        "cuts": starts[1:],
        "shots": [asdict(shot) for shot in shots],
        "pieces": [piece_record(piece, sources) for piece in spec.pieces],
        "colour": {"matrix": "BT.601", "range": "limited", "colorspace": 6, "color_range": 1},
        "black_level": BLACK_LEVEL,
        "spec_hash": spec_hash(spec, sources, size, rate),
    }
    (folder / "clip.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    folder.rename(final)
    return load_clip(final)


def piece_record(piece: Piece, sources: dict[str, Path]) -> dict[str, object]:
    known = SOURCES.get(piece.source)
    return {
        **asdict(piece),
        "file": sources[piece.source].name,
        "package": known.package if known else None,
        "path": known.inner if known else str(sources[piece.source]),
        "licence": known.licence if known else "unknown: a file given by path",
    }


def load_clip(folder: Path) -> Clip:
    """A built clip from its clip.json."""
    record = json.loads((folder / "clip.json").read_text())
    count = len(record["shots"])
    return Clip(
        name=record["name"],
        folder=folder,
        truth=folder / "truth.mkv",
        grey=folder / "grey.mkv",
        keyframes=[folder / f"keyframe-{k}.png" for k in range(count)],
        others=[folder / f"other-{k}.png" for k in range(count)],
        keyframe_refs=folder / "keyframe.yaml",
        any_refs=folder / "any.yaml",
        info=folder / "clip.json",
        size=tuple(record["size"]),
        rate=Fraction(record["rate"]),
        frames=record["frames"],
        cuts=record["cuts"],
        shots=[Shot(**shot) for shot in record["shots"]],
    )


def built_clip(
    spec: ClipSpec, sources: dict[str, Path], out_dir: Path, size: tuple[int, int], rate: Fraction
) -> Clip | None:
    """The clip already in out_dir/NAME when it was built from the same spec, else None."""
    folder = out_dir / spec.name
    try:
        record = json.loads((folder / "clip.json").read_text())
    except (OSError, ValueError):
        return None
    if record.get("spec_hash") != spec_hash(spec, sources, size, Fraction(rate)):
        return None
    clip = load_clip(folder)
    files = [clip.truth, clip.grey, clip.keyframe_refs, clip.any_refs, *clip.keyframes]
    return clip if all(path.is_file() for path in files + clip.others) else None


# ---------------------------------------------------------------------------------------------
# Photos


def photo_reference(truth: np.ndarray, name: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The truth mirrored left to right, then an 80% crop at an offset fixed by the name."""
    mirrored = truth[:, ::-1]
    height, width = truth.shape[:2]
    crop_w, crop_h = round(width * PHOTO_CROP), round(height * PHOTO_CROP)
    digest = hashlib.sha256(name.encode()).digest()
    x = int.from_bytes(digest[:8], "big") % (width - crop_w + 1)
    y = int.from_bytes(digest[8:16], "big") % (height - crop_h + 1)
    return np.ascontiguousarray(mirrored[y : y + crop_h, x : x + crop_w]), (x, y, crop_w, crop_h)


def resize_short_side(rgb: np.ndarray, short: int) -> np.ndarray:
    """Scale so the short side is `short` and both sides are even (INTER_AREA)."""
    height, width = rgb.shape[:2]
    scale = short / min(height, width)
    new_w = max(2, round(width * scale / 2) * 2)
    new_h = max(2, round(height * scale / 2) * 2)
    return cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)


def build_photos(photos_dir: Path, out_dir: Path, count: int | None = None) -> list[Photo]:
    """out_dir/STEM/{truth,any}.png for the first `count` photos of photos_dir/val by name."""
    folder = photos_dir / "val"
    files = sorted(
        path
        for path in (folder.iterdir() if folder.is_dir() else ())
        if path.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"}
    )[:count]
    if not files:
        raise SystemExit(f"benchmarks.material: no photos in {folder}; `make photos`")
    licences = {}
    manifest = photos_dir / "manifest.json"
    if manifest.is_file():
        licences = {
            entry["file"]: entry.get("licence")
            for entry in json.loads(manifest.read_text())["photos"]
        }
    photos = []
    for path in files:
        bgr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"benchmarks.material: {path} cannot be decoded")
        truth = resize_short_side(bgr[..., ::-1], PHOTO_SHORT_SIDE)
        reference, crop = photo_reference(truth, path.name)
        folder = out_dir / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        write_image(folder / "truth.png", truth)
        write_image(folder / "any.png", reference)
        photos.append(
            Photo(
                name=path.stem,
                truth=folder / "truth.png",
                reference=folder / "any.png",
                crop=crop,
                source=f"val/{path.name}",
                licence=licences.get(f"val/{path.name}"),
            )
        )
    return photos


# ---------------------------------------------------------------------------------------------
# Everything


def build_material(
    out: Path,
    quick: bool = False,
    debs: Path = Path("data/debs"),
    work: Path = Path("data/example-sources"),
    photos: Path = Path("data/photos"),
) -> Material:
    """Fetch the sources, build every clip (quick: QUICK only) and the photos (quick: 4)."""
    began = time.perf_counter()
    sources = fetch_sources(debs, work)
    specs, size = ((QUICK,), QUICK_SIZE) if quick else (CLIPS, SIZE)
    clips, clip_seconds = [], {}
    for spec in specs:
        clip = built_clip(spec, sources, out / "clips", size, RATE)
        clip_seconds[spec.name] = None
        if clip is None:
            start = time.perf_counter()
            clip = build_clip(spec, sources, out / "clips", size, RATE)
            clip_seconds[spec.name] = time.perf_counter() - start
        clips.append(clip)
    start = time.perf_counter()
    built_photos = build_photos(photos, out / "photos", QUICK_PHOTOS if quick else PHOTOS)
    photo_seconds = time.perf_counter() - start
    material = Material(
        out, clips, built_photos, time.perf_counter() - began, clip_seconds, photo_seconds
    )
    index = {
        "clips": [str(clip.folder.relative_to(out)) for clip in clips],
        "photos": [
            asdict(photo)
            | {
                "truth": str(photo.truth.relative_to(out)),
                "reference": str(photo.reference.relative_to(out)),
            }
            for photo in built_photos
        ],
    }
    (out / "material.json").write_text(json.dumps(index, indent=1) + "\n")
    return material


def load_material(out: Path) -> Material:
    """The material as last built into `out` (its material.json), without the packages it was
    built from: for a machine that has the built clips and photos and no Debian archive."""
    index = json.loads((out / "material.json").read_text())
    clips = [load_clip(out / folder) for folder in index["clips"]]
    photos = [
        Photo(**entry | {"truth": out / entry["truth"], "reference": out / entry["reference"]})
        for entry in index["photos"]
    ]
    for photo in photos:
        photo.crop = tuple(photo.crop)
    return Material(out, clips, photos, 0.0, {}, 0.0)


def folder_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--quick", action="store_true", help="one short clip and 4 photos")
    parser.add_argument("--debs", type=Path, default=Path("data/debs"))
    parser.add_argument("--work", type=Path, default=Path("data/example-sources"))
    parser.add_argument("--photos", type=Path, default=Path("data/photos"))
    args = parser.parse_args()
    # The plane conversions are small torch ops: one thread is faster than two fighting over
    # a busy 2-core machine (41 s against 10 s for one clip, measured here).
    torch.set_num_threads(1)
    material = build_material(args.out, args.quick, args.debs, args.work, args.photos)
    for clip in material.clips:
        seconds = material.clip_seconds[clip.name]
        took = "kept (built before with the same spec)" if seconds is None else f"{seconds:.1f} s"
        print(
            f"{clip.name}: {clip.frames} frames at {clip.size[0]}x{clip.size[1]}, "
            f"{clip.rate} fps, cuts at {clip.cuts}, {folder_mib(clip.folder):.1f} MiB, {took}"
        )
        for number, shot in enumerate(clip.shots):
            print(f"  shot {number}: frames {shot.start}-{shot.end - 1}, {shot.source}")
    print(
        f"{len(material.photos)} photos, {folder_mib(args.out / 'photos'):.1f} MiB, "
        f"{material.photo_seconds:.1f} s; {material.seconds:.1f} s in all"
    )


if __name__ == "__main__":
    main()
