"""Still images in and out: PNG, JPEG and TIFF, 8 or 16 bits per channel, grey or colour.

OpenCV does the file work because it is the one reader/writer here that handles 16-bit RGB
PNG as well as 16-bit TIFF (Pillow stops at 16-bit grey). Arrays are RGB, never BGR, outside
this module.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # keep OpenCV's own warnings off the console

import cv2  # noqa: E402 - the log level must be set before the import
import numpy as np  # noqa: E402

if os.environ["OPENCV_LOG_LEVEL"] == "ERROR":
    # Another module may have imported cv2 first, when the variable was not yet read: a
    # decoder's warning ("PNG input buffer is incomplete") would then add a line to an error.
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

from model.files import write_atomically
from remaster.errors import InputError, OutputError  # noqa: E402

READABLE = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
WRITABLE = READABLE
JPEG_QUALITY = 95


# A reference is refused below this short side (too few pixels to say where colours are) and
# warned about below the next: the colour encoder reads references at a short side of 256.
SMALLEST_REFERENCE, SMALL_REFERENCE = 32, 128
# A reference whose pixels (all but the most colourful 1%) have RGB channels within this
# fraction of full scale of each other is grey: a keyframe not yet painted, say.
GREY_SPREAD = 6 / 255


def read_image(path: Path | str) -> np.ndarray:
    """-> (H, W) grey or (H, W, 3) RGB, uint8 or uint16; alpha dropped, EXIF rotation applied."""
    image = _decode(path, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if image.ndim == 3:
        image = image[..., 2::-1] if image.shape[2] >= 3 else image[..., 0]
    return np.ascontiguousarray(image)


def _decode(path: Path | str, flags: int) -> np.ndarray:
    """The file's pixels as OpenCV decodes them with `flags`: grey, BGR, or BGRA (unchanged)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.suffix.lower() not in READABLE:
        raise InputError(f"{path}: unsupported image type {path.suffix!r}; use PNG, JPEG or TIFF")
    # imread wants a path it can encode; decoding from bytes also handles non-ASCII names.
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise InputError(
            f"{path}: cannot be decoded as an image (corrupt or truncated?); export it again as "
            "PNG, JPEG or TIFF"
        )
    if image.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: {image.dtype} pixels are not supported; use 8 or 16 bits")
    return image


def write_image(path: Path | str, image: np.ndarray) -> None:
    """Write RGB or grey uint8/uint16 to PNG, JPEG (8 bit only: 16-bit is reduced) or TIFF.

    Atomic: written to a temporary name beside `path`, renamed when complete.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITABLE:
        raise OutputError(f"{path}: cannot write {suffix!r} images; use .png, .jpg or .tif")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    if suffix in (".jpg", ".jpeg") and image.dtype == np.uint16:
        image = np.round(image / 257).astype(np.uint8)
    bgr = image[..., ::-1] if image.ndim == 3 else image
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(bgr), params)
    if not ok:
        raise OutputError(f"{path}: the image could not be encoded as {suffix}")
    try:
        write_atomically(path, encoded.tobytes())
    except OSError as error:
        raise OutputError(f"{path}: cannot write: {error.strerror}") from None


def read_reference(path: Path | str) -> np.ndarray:
    """A reference image: like read_image, but it must be in colour, opaque and not tiny."""
    # Unchanged: the other flags drop the alpha channel.
    raw = _decode(path, cv2.IMREAD_UNCHANGED)
    opaque = 65535 if raw.dtype == np.uint16 else 255
    if raw.ndim == 3 and raw.shape[2] == 4 and raw[..., 3].min() < opaque:
        hidden = int((raw[..., 3] < opaque).sum())
        # A few stray pixels would round to "0%": count them instead.
        amount = (
            f"{hidden / raw[..., 3].size:.0%} of it is"
            if hidden >= raw[..., 3].size / 100
            else f"{hidden} pixel{'s' if hidden > 1 else ''} of it {'are' if hidden > 1 else 'is'}"
        )
        raise InputError(
            f"{path}: {amount} transparent, and the colours hidden there would "
            "count as the reference's; flatten it (no transparency) and save it again"
        )
    image = read_image(path)
    if image.ndim != 3:
        raise InputError(f"{path}: is a grey image; a reference must be in colour")
    if min(image.shape[:2]) < SMALLEST_REFERENCE:
        raise InputError(
            f"{path}: is {image.shape[1]}x{image.shape[0]} pixels, too small to show where "
            f"colours are; use a reference at least {SMALL_REFERENCE} pixels on its short side"
        )
    return image


def reference_warnings(path: Path | str, image: np.ndarray) -> list[str]:
    """What makes a readable reference a poor one: no colour, or few pixels."""
    warnings = []
    scale = 65535 if image.dtype == np.uint16 else 255
    spread = (image.max(axis=2).astype(np.float32) - image.min(axis=2)) / scale
    if np.percentile(spread, 99) < GREY_SPREAD:
        warnings.append(
            f"{path}: is grey (it carries no colour; a keyframe not yet painted?): the frames "
            "it colours will stay nearly grey"
        )
    if min(image.shape[:2]) < SMALL_REFERENCE:
        warnings.append(
            f"{path}: is only {image.shape[1]}x{image.shape[0]} pixels; its colours will be "
            f"placed roughly (use at least {SMALL_REFERENCE} pixels on the short side)"
        )
    return warnings


def crop_to_frame(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop to the aspect ratio of `size` (width, height), then INTER_AREA resize."""
    width, height = size
    rows, columns = rgb.shape[:2]
    if columns * height > rows * width:
        keep = rows * width // height
        rgb = rgb[:, (columns - keep) // 2 : (columns - keep) // 2 + keep]
    else:
        keep = columns * height // width
        rgb = rgb[(rows - keep) // 2 : (rows - keep) // 2 + keep]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def fitted(image: np.ndarray, height: int) -> np.ndarray:
    """For showing: RGB uint8 at `height` rows (grey made RGB, 16 bits reduced), aspect kept."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype == np.uint16:
        image = np.round(image / 257).astype(np.uint8)
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
