"""The loss curve beside the checkpoints: training loss (smoothed) and validation Delta-E.

Drawn with OpenCV, already a dependency, rather than adding a plotting library for one picture.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, MARGIN = 900, 420, 60
BLUE, RED, GREY, BLACK = (200, 90, 30), (40, 40, 210), (150, 150, 150), (0, 0, 0)


def _read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def panel(
    canvas,
    left: int,
    title: str,
    series: list[tuple[list, list, tuple, str]],
    top: int = 30,
    bottom: int = HEIGHT - MARGIN,
    width: int = WIDTH // 2,
    x_name: str = "step",
    markers: tuple | list = (),
) -> None:
    """One chart in [left, left + width) x [top, bottom): each series is (xs, ys, colour,
    label); `markers` are x values drawn as thin vertical lines (cuts, in a film)."""
    right = left + width - MARGIN // 2
    cv2.putText(
        canvas, title, (left, top - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, BLACK, 1, cv2.LINE_AA
    )
    points = [(x, y) for xs, ys, _, _ in series for x, y in zip(xs, ys, strict=True)]
    if not points:
        return
    xs_all, ys_all = zip(*points, strict=True)
    x_low, x_high = min(xs_all), max(max(xs_all), min(xs_all) + 1)
    y_low, y_high = min(ys_all), max(ys_all)
    if y_high - y_low < 1e-9:
        y_high = y_low + 1
    cv2.rectangle(canvas, (left, top), (right, bottom), GREY, 1)

    def to_pixel(x: float, y: float) -> tuple[int, int]:
        u = left + (x - x_low) / (x_high - x_low) * (right - left)
        v = bottom - (y - y_low) / (y_high - y_low) * (bottom - top)
        return int(u), int(v)

    for marker in markers:
        u = to_pixel(marker, y_low)[0]
        cv2.line(canvas, (u, top), (u, bottom), GREY, 1)
    for row, (xs, ys, color, label) in enumerate(series):
        pixels = np.array([to_pixel(x, y) for x, y in zip(xs, ys, strict=True)], np.int32)
        if len(pixels) > 1:
            cv2.polylines(canvas, [pixels], False, color, 2, cv2.LINE_AA)
        elif len(pixels) == 1:
            cv2.circle(canvas, tuple(pixels[0]), 3, color, -1)
        cv2.putText(
            canvas,
            label,
            (left + 8, top + 18 + 16 * row),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            color,
            1,
            cv2.LINE_AA,
        )
    for value, anchor in ((y_high, top + 10), (y_low, bottom)):
        cv2.putText(
            canvas,
            f"{value:.3g}",
            (left - 55, anchor),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            BLACK,
            1,
            cv2.LINE_AA,
        )
    cv2.putText(
        canvas,
        f"{x_name} {x_low:.0f}",
        (left, bottom + 18),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        BLACK,
        1,
        cv2.LINE_AA,
    )
    cv2.putText(
        canvas,
        f"{x_high:.0f}",
        (right - 40, bottom + 18),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        BLACK,
        1,
        cv2.LINE_AA,
    )


def _smooth(values: list[float], weight: float = 0.9) -> list[float]:
    smoothed, running = [], None
    for value in values:
        running = value if running is None else weight * running + (1 - weight) * value
        smoothed.append(running)
    return smoothed


def plot_training(run_dir: Path) -> Path:
    """Write run_dir/loss.png from run_dir/log.jsonl and run_dir/val.jsonl."""
    log = _read_jsonl(run_dir / "log.jsonl")
    val = _read_jsonl(run_dir / "val.jsonl")
    canvas = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
    steps = [r["step"] for r in log]
    panel(
        canvas,
        MARGIN,
        "training loss (smoothed)",
        [
            (steps, _smooth([r["loss"] for r in log]), BLUE, "total"),
            (steps, _smooth([r["rec"] for r in log]), GREY, "smooth-L1 ab"),
        ],
    )
    val_steps = [r["step"] for r in val]
    panel(
        canvas,
        WIDTH // 2 + MARGIN,
        "validation mean Delta-E (lower is better)",
        [
            (val_steps, [r["model"]["delta_e"] for r in val], RED, "model"),
            (
                val_steps,
                [r["reference mean"]["delta_e"] for r in val],
                GREY,
                "reference mean colour",
            ),
            (val_steps, [r["grey"]["delta_e"] for r in val], BLACK, "grey"),
        ],
    )
    path = run_dir / "loss.png"
    cv2.imwrite(str(path), canvas)
    return path
