"""`remaster image`: one still image colorized from one or more references."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model.color import lab_to_rgb
from model.colorizer import Colorizer, image_to_tensor, lightness_of, tensor_to_image
from remaster.color.predictor import ColorPredictor
from remaster.errors import OutputError
from remaster.media.images import WRITABLE, read_image, read_reference, write_image
from remaster.run.weights import resolve_weights


def colorize_still(
    target: Path,
    references: list[Path],
    output: Path,
    weights: Path | None = None,
    device: str = "auto",
    working_size: int | None = None,
    method: str = "auto",
) -> None:
    """Read TARGET and REFERENCES, colorize, write OUTPUT (same size and bit depth as TARGET)."""
    if output.suffix.lower() not in WRITABLE:
        raise OutputError(
            f"{output}: cannot write {output.suffix!r} images; use .png, .jpg or .tif"
        )
    for source in [target, *references]:
        if output.resolve() == source.resolve():
            raise OutputError(f"{output}: is also an input; choose another output name")
    target_image = read_image(target)
    reference_images = [read_reference(reference) for reference in references]
    colorizer = Colorizer.from_checkpoint(resolve_weights(weights), device, working_size)
    predictor = ColorPredictor(colorizer, method)
    write_image(output, color_picture(predictor, target_image, *reference_images))


def color_picture(
    predictor: ColorPredictor, target: np.ndarray, *references: np.ndarray
) -> np.ndarray:
    """Grey (H, W) or colour (H, W, 3) target and RGB reference(s) -> RGB (H, W, 3).

    A colour target is reduced to its L. The result has the target's size and pixel type
    (uint8, uint16 or float in [0, 1]) and, before rounding, exactly its L.
    """
    lightness = lightness_of(image_to_tensor(target))
    ab = predictor.predict(lightness, predictor.guide(*references)).ab
    rgb = lab_to_rgb(torch.cat([lightness, ab], dim=1))
    dtype = np.asarray(target).dtype
    return tensor_to_image(rgb, dtype if dtype in (np.uint8, np.uint16) else np.float32)
