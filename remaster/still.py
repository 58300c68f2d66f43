"""`remaster image`: one still image colorized from one or more references."""

from __future__ import annotations

from pathlib import Path

import torch

from model.color import lab_to_rgb
from model.colorizer import Colorizer, image_to_tensor, lightness_of, tensor_to_image
from remaster.errors import OutputError
from remaster.images import WRITABLE, read_image, read_reference, write_image
from remaster.methods import ColourPredictor
from remaster.weights import resolve_weights


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
    predictor = ColourPredictor(colorizer, method)
    guide = predictor.guide(*reference_images)
    lightness = lightness_of(image_to_tensor(target_image))
    ab = predictor.predict(lightness, guide)
    rgb = lab_to_rgb(torch.cat([lightness, ab], dim=1))
    write_image(output, tensor_to_image(rgb, target_image.dtype))
