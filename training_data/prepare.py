"""Fetch and prepare a training set of real colour photos from two Debian packages.

    python -m training_data OUT_DIR [--debs DIR] [--work DIR] [--val-percent 10]

Debian ships freely licensed photographs that are not labelled as photographs:
endless-sky-high-dpi has the game's planet landing scenes (landscape photos, 1440x720), and
gcompris-qt-data has animal, monument and object photos inside Qt resource bundles (.rcc).
This downloads the packages with `apt-get download` if they are not in --debs already,
unpacks them with `dpkg -x` into --work, picks out the photos, drops greyscale images and
near-duplicates, splits the rest into train/ and val/ by a hash of the output name, and writes
the original bytes unchanged together with manifest.json (source and licence of every photo).

Re-running is idempotent: identical files are left alone, and the only files ever removed are
ones the previous manifest lists and that no longer belong where they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from model.files import write_atomically
from training_data.debs import DebFetcher, unpack
from training_data.dedupe import chroma_p99, decode, dedupe, dhash, hamming, is_greyscale, thumbnail
from training_data.licences import (
    Stanza,
    governing_stanza,
    licence_conflict,
    matching_stanzas,
    normalise_licence,
    parse_copyright,
    parse_readme,
    readme_credits,
)
from training_data.photo import Photo
from training_data.rcc import image_kind, read_rcc

ENDLESS_SKY = "endless-sky-high-dpi"
ENDLESS_SKY_DATA = "endless-sky-data"  # its copyright file is the fallback for the land photos
GCOMPRIS = "gcompris-qt-data"

ENDLESS_SKY_LAND = "usr/share/games/endless-sky/plugins/endless-sky-high-dpi/images/land"
GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc"

# The gcompris bundles that hold photographs; the others hold drawings, icons, paintings
# (paintings.rcc), planet renders (solar_system.rcc) and cartoon word cards (lang.rcc).
GCOMPRIS_PHOTO_BUNDLES = (
    "categorization",
    "clickgame",
    "details",
    "erase",
    "explore_farm_animals",
    "explore_monuments",
    "explore_world_animals",
    "explore_world_music",
)
# details.rcc mixes photos of buildings with Van Gogh paintings; the names give them away, and
# the bundle's README says "based on an original painting" for each of them.
PAINTING_NAME = re.compile(r"gogh|tanguy|auvers", re.IGNORECASE)

MIN_SHORT_SIDE = 200


# ---------------------------------------------------------------------------------------------
# Sources


@dataclass
class Report:
    """What was left out and why, for the printout and the manifest."""

    excluded: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    dropped: list[tuple[Photo, Photo]] = field(default_factory=list)  # (duplicate, kept)
    lookalikes: list[tuple[Photo, Photo]] = field(default_factory=list)

    def exclude(self, reason: str, what: str) -> None:
        self.excluded[reason].append(what)


def copyright_text(root: Path, package: str) -> str:
    path = root / "usr/share/doc" / package / "copyright"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def endless_sky_stanzas(root: Path, fetcher: DebFetcher, work: Path) -> list[Stanza]:
    """Land-photo licences: the high-dpi package's own copyright file if it covers them."""
    stanzas = parse_copyright(copyright_text(root, ENDLESS_SKY))
    if any(p.startswith("images/land/") for s in stanzas for p in s.patterns):
        return stanzas
    print(f"{ENDLESS_SKY} has no licences for images/land; reading {ENDLESS_SKY_DATA}'s")
    data_root = unpack(fetcher.fetch(ENDLESS_SKY_DATA), work, ENDLESS_SKY_DATA)
    return parse_copyright(copyright_text(data_root, ENDLESS_SKY_DATA))


def endless_sky_photos(root: Path, stanzas: Sequence[Stanza]) -> list[Photo]:
    """The @2x landing photos; licences match the base name (no @2x) as upstream lists it."""
    photos = []
    for path in sorted((root / ENDLESS_SKY_LAND).glob("*@2x.jpg")):
        base = path.name.replace("@2x", "")
        names = [f"images/land/{base}", f"images/land/{path.name}"]
        matches = matching_stanzas(stanzas, names)
        governing = governing_stanza(matches, names)
        credits: dict[str, object] = {"copyright": governing.copyright}
        conflict = licence_conflict(matches, names)
        if conflict:
            credits["licence_conflict"] = conflict
        photos.append(
            Photo(
                name=sanitise(f"es-{base}"),
                data=path.read_bytes(),
                source_package=ENDLESS_SKY,
                source_path=str(path.relative_to(root)),
                licence=governing.licence,
                credits=credits,
            )
        )
    return photos


def gcompris_photo_name(bundle: str, inner: str) -> str:
    """gc-BUNDLE-FOLDERS-NAME from the path under the activity's resource/ folder."""
    relative = inner.split("/resource/", 1)[-1]
    parts = [part for part in relative.split("/") if part not in ("images", "image")]
    return sanitise(f"gc-{bundle}-" + "-".join(parts))


def gcompris_photos(root: Path, report: Report) -> list[Photo]:
    """Images from the photo bundles; paintings come back marked as such (see `measure`)."""
    stanzas = parse_copyright(copyright_text(root, GCOMPRIS))
    photos = []
    others: Counter[str] = Counter()
    for rcc in sorted((root / GCOMPRIS_RCC).glob("*.rcc")):
        bundle = rcc.stem
        try:
            entries = read_rcc(rcc.read_bytes())
        except ValueError as error:
            report.exclude("unreadable bundle", f"{rcc.name}: {error}")
            continue
        images = [(inner, data) for inner, data in entries if image_kind(data)]
        if bundle not in GCOMPRIS_PHOTO_BUNDLES:
            others[bundle] += len(images)
            continue
        readmes = {
            PurePosixPath(inner).parent: parse_readme(data.decode("utf-8", "replace"))
            for inner, data in entries
            if PurePosixPath(inner).name == "README"
        }
        for inner, data in images:
            upstream = readme_credits(readmes, PurePosixPath(inner))
            photo = gcompris_photo(rcc.relative_to(root), bundle, inner, data, stanzas, upstream)
            if PAINTING_NAME.search(inner) or "painting" in upstream.get("comment", "").lower():
                photo.excluded_as = "painting"
            photos.append(photo)
    for bundle, count in sorted(others.items()):
        if count:
            report.exclude("bundle without photos", f"{bundle}.rcc ({count} images)")
    return photos


def gcompris_photo(
    bundle_path: Path,
    bundle: str,
    inner: str,
    data: bytes,
    stanzas: Sequence[Stanza],
    upstream: dict[str, str],
) -> Photo:
    """A Photo with the licence its bundle's README gives, else debian/copyright's.

    debian/copyright (3.1-2) still describes older images under several of these names, e.g. a
    stingray by Florin Dumitrescu as categorization's fish1, which now is an angelfish by Karelj;
    its licence is kept as debian_licence. It lists sources under src/activities/..., which the
    bundle stores under gcompris/, often as .jpg or .png before conversion to .webp, so all of
    those names are tried.
    """
    source = PurePosixPath(inner.removeprefix("gcompris/"))
    names = [str(source)] + [str(source.with_suffix(s)) for s in (".jpg", ".jpeg", ".png")]
    matches = matching_stanzas(stanzas, names)
    debian = governing_stanza(matches, names)
    credits: dict[str, object] = {
        "copyright": upstream.get("copyright") or debian.copyright,
        "licence_from": "bundle README" if upstream.get("licence") else "debian/copyright",
        "debian_licence": debian.licence,
    }
    credits |= {key: upstream[key] for key in ("source", "comment") if upstream.get(key)}
    return Photo(
        name=gcompris_photo_name(bundle, inner),
        data=data,
        source_package=GCOMPRIS,
        source_path=f"{bundle_path}:/{inner}",
        licence=normalise_licence(upstream.get("licence") or debian.licence),
        credits=credits,
    )


# ---------------------------------------------------------------------------------------------
# Names and the split


def sanitise(name: str) -> str:
    """Lower case, [a-z0-9._-] only, no leading/trailing/doubled separators."""
    name = re.sub(r"[^a-z0-9._-]+", "-", name.lower())
    return re.sub(r"-{2,}", "-", name).strip("-.")


def split_of(name: str, val_percent: float) -> str:
    """'val' or 'train' from a hash of the output name: fixed forever, whatever else changes."""
    bucket = int(hashlib.sha1(name.encode()).hexdigest(), 16) % 100
    return "val" if bucket < val_percent else "train"


def unique_names(photos: Sequence[Photo]) -> None:
    """Make names unique by adding a hash of the source path to any name already taken."""
    taken: set[str] = set()
    for photo in sorted(photos, key=lambda p: (p.name, p.source_path)):
        if photo.name in taken:
            stem, suffix = os.path.splitext(photo.name)
            tag = hashlib.sha1(photo.source_path.encode()).hexdigest()[:6]
            photo.name = f"{stem}-{tag}{suffix}"
        taken.add(photo.name)


# ---------------------------------------------------------------------------------------------
# Checks, output and summary


def measure(photos: Sequence[Photo], report: Report) -> list[Photo]:
    """Decode each candidate; keep colour photos of at least MIN_SHORT_SIDE pixels.

    Size is checked first, so the other reasons list only images that would otherwise have
    been used (not, say, every 74-pixel detail crop of a painting).
    """
    usable = []
    for photo in photos:
        image = decode(photo.data) if image_kind(photo.data) else None
        if image is None:
            report.exclude("undecodable", photo.source_path)
            continue
        photo.height, photo.width = image.shape[:2]
        if min(photo.width, photo.height) < MIN_SHORT_SIDE:
            report.exclude(f"small (short side < {MIN_SHORT_SIDE} px)", photo.name)
        elif photo.excluded_as:
            report.exclude(photo.excluded_as, f"{photo.name} ({photo.source_path})")
        elif is_greyscale(image):
            report.exclude("greyscale", f"{photo.name} (chroma p99 {chroma_p99(image):.1f})")
        else:
            photo.dhash, photo.thumb = dhash(image), thumbnail(image)
            usable.append(photo)
    return usable


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless the file already holds exactly these bytes."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    write_atomically(path, data)
    return True


def manifest_entry(photo: Photo, split: str) -> dict[str, object]:
    return {
        "file": f"{split}/{photo.name}",
        "split": split,
        "width": photo.width,
        "height": photo.height,
        "source_package": photo.source_package,
        "source_path": photo.source_path,
        "licence": photo.licence,
        "sha256": hashlib.sha256(photo.data).hexdigest(),
        **photo.credits,
    }


def remove_stale(out_dir: Path, previous: dict[str, object], current: set[str]) -> list[str]:
    """Delete files the previous manifest wrote that are not in the new one (unless edited)."""
    removed = []
    for entry in previous.get("photos", []):
        relative = entry.get("file", "")
        path = out_dir / relative
        if relative in current or not path.is_file():
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() == entry.get("sha256"):
            path.unlink()
            removed.append(relative)
    return removed


def summarise(entries: Sequence[dict[str, object]], report: Report) -> dict[str, object]:
    def count(key: str) -> dict[str, int]:
        return dict(sorted(Counter(str(e[key]) for e in entries).items()))

    return {
        "photos": len(entries),
        "per_split": count("split"),
        "per_source": count("source_package"),
        "per_licence": count("licence"),
        "per_source_and_split": dict(
            sorted(Counter(f"{e['source_package']}/{e['split']}" for e in entries).items())
        ),
        "licence_conflicts": sorted(str(e["file"]) for e in entries if "licence_conflict" in e),
        "duplicates_dropped": [
            {"dropped": d.source_path, "kept": k.name, "bits": hamming(d.dhash, k.dhash)}
            for d, k in report.dropped
        ],
        "excluded": {reason: sorted(items) for reason, items in sorted(report.excluded.items())},
    }


def write_output(
    out_dir: Path, photos: Sequence[Photo], val_percent: float, report: Report
) -> dict[str, object]:
    """train/, val/ and manifest.json; returns the summary."""
    manifest_path = out_dir / "manifest.json"
    previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    entries = []
    written = 0
    for split in ("train", "val"):
        (out_dir / split).mkdir(parents=True, exist_ok=True)
    for photo in photos:
        split = split_of(photo.name, val_percent)
        written += write_if_changed(out_dir / split / photo.name, photo.data)
        entries.append(manifest_entry(photo, split))
    known = {str(e["file"]) for e in entries}
    removed = remove_stale(out_dir, previous, known)
    summary = summarise(entries, report)
    manifest = {"val_percent": val_percent, "summary": summary, "photos": entries}
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    write_if_changed(manifest_path, text.encode())
    strangers = [
        f"{split}/{path.name}"
        for split in ("train", "val")
        for path in sorted((out_dir / split).iterdir())
        if f"{split}/{path.name}" not in known
    ]
    print(f"wrote {written} new or changed files, {len(photos) - written} already up to date")
    if removed:
        print(f"removed {len(removed)} files of the previous run: {', '.join(removed)}")
    if strangers:
        more = " ..." if len(strangers) > 10 else ""
        print(f"left alone {len(strangers)} files not made here: {', '.join(strangers[:10])}{more}")
    return summary


def print_report(report: Report) -> None:
    for reason, items in sorted(report.excluded.items()):
        print(f"excluded, {reason}: {len(items)}")
        if reason.startswith("small"):  # sprites and detail crops: counts per bundle
            per_group = Counter(
                item.split("-")[1] if item.startswith("gc-") else "endless-sky" for item in items
            )
            print("    " + ", ".join(f"{group} {n}" for group, n in sorted(per_group.items())))
        else:
            for item in sorted(items):
                print(f"    {item}")
    print(f"near-duplicates dropped: {len(report.dropped)}")
    for photo, kept in report.dropped:
        print(
            f"    {photo.name} ({photo.width}x{photo.height}) -> kept {kept.name} "
            f"({kept.width}x{kept.height}, {hamming(photo.dhash, kept.dhash)} bits)"
        )
    if report.lookalikes:
        print(f"different photos with close hashes, both kept: {len(report.lookalikes)}")
        for a, b in report.lookalikes:
            print(f"    {a.name} ~ {b.name} ({hamming(a.dhash, b.dhash)} bits)")


def print_summary(summary: dict[str, object], seconds: float) -> None:
    print(f"photos: {summary['photos']}")
    for key in ("per_split", "per_source_and_split", "per_licence"):
        counts = summary[key]
        assert isinstance(counts, dict)
        print(f"  {key.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    conflicts = summary["licence_conflicts"]
    assert isinstance(conflicts, list)
    if conflicts:
        print(
            f"  {len(conflicts)} photos match copyright stanzas with different licences; the "
            "most specific stanza was used (see licence_conflict in the manifest)"
        )
    print(f"done in {seconds:.1f} s")


def prepare(out_dir: Path, debs: Path, work: Path, val_percent: float) -> dict[str, object]:
    """The whole pipeline; returns the summary written to the manifest."""
    fetcher = DebFetcher(debs)
    report = Report()
    sky_root = unpack(fetcher.fetch(ENDLESS_SKY), work, ENDLESS_SKY)
    gcompris_root = unpack(fetcher.fetch(GCOMPRIS), work, GCOMPRIS)
    candidates = endless_sky_photos(sky_root, endless_sky_stanzas(sky_root, fetcher, work))
    candidates += gcompris_photos(gcompris_root, report)
    unique_names(candidates)
    print(f"{len(candidates)} candidates; decoding and checking ...", flush=True)
    photos, report.dropped, report.lookalikes = dedupe(measure(candidates, report))
    print_report(report)
    return write_output(out_dir, photos, val_percent, report)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m training_data", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("out_dir", type=Path, help="gets train/, val/ and manifest.json")
    parser.add_argument("--debs", type=Path, help=".deb files (default: WORK/debs)")
    parser.add_argument(
        "--work", type=Path, help="unpacked packages (default: OUT_DIR/../photo-sources)"
    )
    parser.add_argument("--val-percent", type=float, default=10, help="share of photos in val/")
    args = parser.parse_args(argv)
    if not 0 <= args.val_percent <= 100:
        parser.error("--val-percent must be between 0 and 100")
    start = time.perf_counter()
    work = args.work or args.out_dir.resolve().parent / "photo-sources"
    summary = prepare(args.out_dir, args.debs or work / "debs", work, args.val_percent)
    print_summary(summary, time.perf_counter() - start)
