"""Everything that touches containers and codecs: the only module that imports PyAV.

So far: probing and decoding; encoding and muxing come with the film pipeline.

Pictures travel as planar YUV 4:2:0 8-bit arrays: the luma plane is decoded once and written
back untouched, so the output's grey is the input's; only the two chroma planes are new.
Every frame keeps its own pts and time base from decoder to encoder, so variable frame rates
and 23.976/29.97 material stay in sync with the copied audio.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from remaster.errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    rate: Fraction  # average frames per second (for timecodes and progress)
    time_base: Fraction
    frame_count: int | None  # from the container header; None when it does not say
    sample_aspect_ratio: Fraction | None
    colorspace: int
    color_range: int
    audio_streams: int
    subtitle_streams: int


@dataclass
class Picture:
    """One decoded frame: planes of 4:2:0 8-bit YUV and its timing, untouched."""

    index: int
    pts: int | None
    time_base: Fraction
    y: np.ndarray  # (H, W) uint8
    u: np.ndarray  # (H/2, W/2) uint8
    v: np.ndarray

    @property
    def seconds(self) -> float:
        return float(self.pts * self.time_base) if self.pts is not None else float("nan")


def _open(path: Path, mode: str = "r", **options):
    try:
        return av.open(str(path), mode, **options)
    except av.FFmpegError as error:
        raise InputError(f"{path}: cannot be opened as a video ({error.strerror})") from None


def probe(path: Path) -> VideoInfo:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        stream = container.streams.video[0]
        context = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate:
            raise InputError(f"{path}: the frame rate cannot be determined")
        if context.width % 2 or context.height % 2:
            raise InputError(
                f"{path}: {context.width}x{context.height} has an odd side; 4:2:0 output needs "
                "even sizes (crop or pad the source by one pixel first)"
            )
        return VideoInfo(
            path=path,
            width=context.width,
            height=context.height,
            rate=Fraction(rate),
            time_base=Fraction(stream.time_base),
            frame_count=stream.frames or None,
            sample_aspect_ratio=Fraction(stream.sample_aspect_ratio)
            if stream.sample_aspect_ratio
            else None,
            colorspace=int(context.colorspace),
            color_range=int(context.color_range),
            audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles),
        )


def decode(path: Path) -> Iterator[Picture]:
    """Every frame of the first video stream, in presentation order, as 4:2:0 8-bit planes.

    Decodes from the start without seeking (seeking is unreliable in some files). A frame the
    decoder rejects raises InputError naming the frame, rather than leaving a silent gap.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                planes = frame.to_ndarray(format="yuv420p")
                height, width = frame.height, frame.width
                chroma = planes[height:].reshape(2, height // 2, width // 2)
                yield Picture(
                    index=index,
                    pts=frame.pts,
                    time_base=Fraction(frame.time_base),
                    y=planes[:height],
                    u=chroma[0],
                    v=chroma[1],
                )
                index += 1
        except av.FFmpegError as error:
            raise InputError(
                f"{path}: frame {index} cannot be decoded ({error.strerror}); the file is damaged "
                "there: repair or re-export it"
            ) from None
