"""`remaster image`: one still image colorized from one or more references."""

from __future__ import annotations

from pathlib import Path

from model.colorizer import Colorizer
from remaster.errors import OutputError
from remaster.images import WRITABLE, read_image, read_reference, write_image
from remaster.weights import resolve_weights


def colorize_still(
    target: Path,
    references: list[Path],
    output: Path,
    weights: Path | None = None,
    device: str = "auto",
    working_size: int | None = None,
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
    write_image(output, colorizer.colorize_image(target_image, *reference_images))
