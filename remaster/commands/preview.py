"""`remaster preview`: one frame per shot coloured, on a review sheet, before the long run.

    remaster preview film.mp4 --refs shots.yaml -o preview.png

Each shot's frame is its keyframe where the refs file gives one, else its middle frame. A row
per shot shows the frame as it is (grey), the shot's first reference and the result, labelled
with the frame number and timecode, so a colorist can check the references in a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from model.colorizer import Colorizer
from remaster.color.predictor import ColorPredictor
from remaster.commands.image import color_picture
from remaster.errors import OutputError
from remaster.media.images import WRITABLE, fitted, read_reference, write_image
from remaster.media.planes import grey_rgb
from remaster.run.check import JobCheck, ShotRow, check_job
from remaster.run.weights import resolve_weights

ROW_HEIGHT = 180
LABEL = 22
GAP = 4


@dataclass
class PreviewOptions:
    source: Path
    output: Path
    refs: Path | None = None
    ref: Path | None = None
    cuts: Path | None = None
    fps: Fraction | None = None
    weights: Path | None = None
    device: str = "auto"
    working_size: int | None = None
    method: str = "auto"


def shown_frame(row: ShotRow) -> int:
    """The frame a shot is judged by: its keyframe, else its middle."""
    keyframes = [k for k in row.entry.keyframes if k is not None]
    return keyframes[0] if keyframes else (row.first + row.last) // 2


def grey_frames(job: JobCheck, wanted: set[int]) -> dict[int, np.ndarray]:
    """The wanted frames as the grey they show (uint8 RGB), decoded in one pass that stops
    after the last."""
    found: dict[int, np.ndarray] = {}
    pictures = job.source.frames()
    try:
        for picture in pictures:
            if picture.index in wanted:
                found[picture.index] = grey_rgb(picture, job.source.full_range)
            if picture.index >= max(wanted):
                break
    finally:
        pictures.close()
    return found


def sheet_row(panels: list[np.ndarray], label: str, width: int) -> np.ndarray:
    row = np.full((ROW_HEIGHT + LABEL, width, 3), 32, np.uint8)
    left = 0
    for panel in panels:
        row[:ROW_HEIGHT, left : left + panel.shape[1]] = panel[:, : width - left]
        left += panel.shape[1] + GAP
    cv2.putText(
        row,
        label,
        (4, ROW_HEIGHT + 16),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (230, 230, 230),
        1,
        cv2.LINE_AA,
    )
    return row


def write_preview(options: PreviewOptions) -> JobCheck:
    if options.output.suffix.lower() not in WRITABLE:
        raise OutputError(f"{options.output}: write the sheet as .png, .jpg or .tif")
    if not options.output.resolve().parent.is_dir():
        raise OutputError(
            f"{options.output}: folder {options.output.resolve().parent} does not exist"
        )
    job = check_job(options.source, options.refs, options.ref, options.cuts, options.fps)
    colorizer = Colorizer.from_checkpoint(
        resolve_weights(options.weights), options.device, options.working_size
    )
    predictor = ColorPredictor(colorizer, options.method)
    chosen = {row.number: shown_frame(row) for row in job.rows}
    greys = grey_frames(job, set(chosen.values()))
    rows = []
    for row in job.rows:
        frame = chosen[row.number]
        references = [read_reference(path) for path in row.entry.references]
        result = color_picture(predictor, greys[frame], *references)
        panels = [fitted(greys[frame], ROW_HEIGHT), fitted(references[0], ROW_HEIGHT)]
        panels.append(fitted(result, ROW_HEIGHT))
        label = (
            f"shot {row.number}: frame {frame} ({job.timecode(frame)}) | reference "
            f"{row.entry.references[0].name} | result"
        )
        rows.append((panels, label))
    width = max(sum(p.shape[1] for p in panels) + GAP * 2 for panels, _ in rows)
    sheet = np.concatenate([sheet_row(panels, label, width) for panels, label in rows])
    write_image(options.output, sheet)
    return job
