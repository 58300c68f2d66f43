"""Everything that touches containers and codecs: the only module that imports PyAV.

Pictures travel as planar YUV 4:2:0 8-bit arrays: the luma plane is decoded once and written
back untouched, so the output's grey is the input's; only the two chroma planes are new.
Every frame keeps its own pts and time base from decoder to encoder, so variable frame rates
and 23.976/29.97 material stay in sync with the copied audio.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from remaster.errors import InputError, OutputError
from remaster.frames import Picture

# name -> (encoder, pixel format, segment container, encoder options)
CODECS = {
    "h264": ("libx264", "yuv420p", "mp4", {}),
    "prores": ("prores_ks", "yuv422p10le", "mov", {"profile": "3"}),  # ProRes 422 HQ
    "ffv1": ("ffv1", "yuv420p", "matroska", {"level": "3", "g": "1"}),  # lossless, intra-only
}
# Deeper pictures (10 bits) go to these formats. H.264 stays 8-bit: its 10-bit profile (High 10)
# plays in few browsers and hardware decoders, and H.264 is the viewing copy, not the master.
DEEP_FORMATS = {"ffv1": "yuv420p10le", "prores": "yuv422p10le", "h264": "yuv420p10le"}
# Which codecs each output container takes, the first being the default.
CONTAINER_CODECS = {".mp4": ("h264",), ".mov": ("h264", "prores"), ".mkv": ("h264", "ffv1")}


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
    bits: int = 8  # luma depth the frames decode at: 8, or 10 for anything deeper
    start_timecode: str | None = None  # the first frame's SMPTE timecode, where the file says


def _open(path: Path, mode: str = "r", **options):
    try:
        return av.open(str(path), mode, **options)
    except av.FFmpegError as error:
        raise InputError(f"{path}: cannot be opened as a video ({error.strerror})") from None


def probe(path: Path) -> VideoInfo:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with _open(path) as container:
        if container.format.name == "image2" or container.format.name.endswith("_pipe"):
            raise InputError(f"{path}: is a still image; colorize it with `remaster image`")
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
            bits=8 if _depth(context.format) <= 8 else 10,
            start_timecode=_start_timecode(container, stream),
        )


def _start_timecode(container, stream) -> str | None:
    """The timecode of the first frame: FFmpeg puts a MOV/MP4 `tmcd` track's on the video
    stream (and the track), MXF's on the container, Matroska's as a TIMECODE tag."""
    sources = [stream, *container.streams.data, container]
    for source in sources:
        for key, value in source.metadata.items():
            if key.lower() == "timecode" and value.strip():
                return value.strip()
    return None


def _depth(pixel_format) -> int:
    if pixel_format is None:
        return 8
    return max((component.bits for component in pixel_format.components), default=8)


def picture_bits(codec: str, source_bits: int) -> int:
    """The depth pictures are coloured and written at for `codec`: the source's where the codec
    takes it, else 8."""
    return 10 if source_bits > 8 and codec in DEEP_FORMATS else 8


def decode(path: Path, bits: int = 8) -> Iterator[Picture]:
    """Every frame of the first video stream, in presentation order, as 4:2:0 planes of
    `bits` bits (8: uint8; 10: uint16, each plane converted at its own depth, so 10-bit luma
    is copied as it is).

    Decodes from the start without seeking (seeking is unreliable in some files). A frame the
    decoder rejects raises InputError naming the frame, rather than leaving a silent gap.
    """
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base)
        frame_ticks = 1 / (Fraction(stream.average_rate or stream.guessed_rate or 25) * time_base)
        index, last_pts = 0, None
        layout = "yuv420p" if bits == 8 else "yuv420p10le"
        try:
            for frame in container.decode(stream):
                planes = frame.to_ndarray(format=layout)
                height, width = frame.height, frame.width
                chroma = planes[height:].reshape(2, height // 2, width // 2)
                pts = frame.pts
                if pts is None:  # some AVI files leave a frame unstamped: one frame after the last
                    pts = 0 if last_pts is None else round(last_pts + frame_ticks)
                last_pts = pts
                yield Picture(
                    index=index,
                    pts=pts,
                    time_base=Fraction(frame.time_base or time_base),
                    y=planes[:height],
                    u=chroma[0],
                    v=chroma[1],
                    bits=bits,
                )
                index += 1
        except av.FFmpegError as error:
            raise InputError(
                f"{path}: frame {index} cannot be decoded ({error.strerror}); the file is damaged "
                "there: repair or re-export it"
            ) from None


def codec_for(output: Path, codec: str | None) -> str:
    """The codec for an output path: the one asked for, if its container takes it."""
    suffix = output.suffix.lower()
    if suffix not in CONTAINER_CODECS:
        raise OutputError(f"{output}: cannot write {suffix!r} video; use .mp4, .mov or .mkv")
    allowed = CONTAINER_CODECS[suffix]
    if codec is None:
        return allowed[0]
    if codec not in allowed:
        raise OutputError(
            f"{output}: {codec} does not go in {suffix}; use "
            + " or ".join(
                f"{c} in {s}" for s, cs in CONTAINER_CODECS.items() for c in cs if c == codec
            )
        )
    return codec


class SegmentWriter:
    """Encodes a run of consecutive Pictures into one segment file.

    Timestamps are written relative to the segment's first frame: a container then stores
    them exactly (an MP4 starting late would round its start through a 1/1000 edit list), and
    `mux` adds `offset` back. Each frame keeps its own pts otherwise: no frame rate is assumed.
    """

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        codec: str,
        crf: int = 18,
        preset: str = "medium",
        bits: int = 8,
    ) -> None:
        encoder, self.pixel_format, container_format, options = CODECS[codec]
        self.layout = "yuv420p" if bits == 8 else "yuv420p10le"
        if bits > 8:
            self.pixel_format = DEEP_FORMATS[codec]
        if codec == "h264":
            options = {**options, "crf": str(crf), "preset": preset}
        self.width = info.width
        self.offset: int | None = None
        self.time_base = info.time_base
        self.frames = 0
        self.container = av.open(str(path), "w", format=container_format)
        self.stream = self.container.add_stream(encoder, rate=info.rate)
        self.stream.width, self.stream.height = info.width, info.height
        self.stream.pix_fmt = self.pixel_format
        self.stream.time_base = info.time_base
        context = self.stream.codec_context
        context.time_base = info.time_base
        if info.sample_aspect_ratio:
            context.sample_aspect_ratio = info.sample_aspect_ratio
        context.colorspace = info.colorspace
        context.color_range = info.color_range
        self.stream.options = options

    def write(self, picture: Picture) -> None:
        if self.offset is None:
            self.offset = picture.pts or 0
            self.time_base = picture.time_base
        planes = np.concatenate([picture.y.ravel(), picture.u.ravel(), picture.v.ravel()])
        frame = av.VideoFrame.from_ndarray(planes.reshape(-1, self.width), format=self.layout)
        if self.pixel_format != self.layout:
            frame = frame.reformat(format=self.pixel_format)
        frame.pts = picture.pts - self.offset if picture.pts is not None else None
        frame.time_base = picture.time_base
        self.container.mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        self.container.mux(self.stream.encode(None))
        self.container.close()

    def abort(self) -> None:
        self.container.close()


@dataclass(frozen=True)
class Segment:
    path: Path
    offset: int  # the first frame's pts, in time_base units
    time_base: Fraction


def _timestamp(packet) -> float:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float(stamp * packet.time_base) if stamp is not None else float("-inf")


def _segment_packets(segments: list[Segment]) -> Iterator:
    for segment in segments:
        with av.open(str(segment.path)) as container:
            for packet in container.demux(container.streams.video[0]):
                if not packet.size:  # the demuxer's empty flush packet
                    continue
                shift = round(segment.offset * segment.time_base / packet.time_base)
                if packet.pts is not None:
                    packet.pts += shift
                if packet.dts is not None:
                    packet.dts += shift
                yield packet


def _interleave(sources: list[Iterator]) -> Iterator:
    """Merge packet iterators by timestamp, so the muxer never waits on one stream."""
    heap = []
    for order, packets in enumerate(sources):
        packet = next(packets, None)
        if packet is not None:
            heapq.heappush(heap, (_timestamp(packet), order, packet, packets))
    while heap:
        _, order, packet, packets = heapq.heappop(heap)
        yield order, packet
        following = next(packets, None)
        if following is not None:
            heapq.heappush(heap, (_timestamp(following), order, following, packets))


def mux(
    segments: list[Segment], source: Path | None, output: Path, audio: Path | None = None
) -> list[str]:
    """Join the segments by stream copy with every audio and subtitle stream of `source`,
    packet for packet (never re-encoded, only empty flush packets skipped), into `output`.
    With `audio`, its audio streams replace the source's. `source` is None for an image
    sequence, which has no streams of its own.

    Returns a note for each stream the output container cannot hold.
    """
    notes = []
    with ExitStack() as stack:
        first = stack.enter_context(av.open(str(segments[0].path)))
        out = stack.enter_context(av.open(str(output), "w"))
        video = out.add_stream_from_template(first.streams.video[0])
        inputs = []
        if audio is not None:
            sound = stack.enter_context(_open(audio))
            inputs.append((sound, list(sound.streams.audio)))
        if source is not None:
            original = stack.enter_context(av.open(str(source)))
            own_audio = [] if audio is not None else list(original.streams.audio)
            inputs.append((original, [*own_audio, *original.streams.subtitles]))
        sources, targets = [_segment_packets(segments)], [{}]
        for container, streams in inputs:
            copied = {}
            for stream in streams:
                try:
                    copied[stream.index] = out.add_stream_from_template(stream)
                except (av.FFmpegError, ValueError) as error:
                    notes.append(
                        f"{stream.type} stream {stream.index} ({stream.codec_context.name}) of "
                        f"{Path(container.name).name} cannot go into {output.suffix} and was "
                        f"left out ({error})"
                    )
            if copied:
                wanted = [container.streams[index] for index in copied]
                sources.append(packet for packet in container.demux(wanted) if packet.size)
                targets.append(copied)
        for order, packet in _interleave(sources):
            packet.stream = video if order == 0 else targets[order][packet.stream.index]
            out.mux(packet)
    return notes


def audio_seconds(path: Path) -> float:
    """How long the audio of a file (for --audio) lasts; InputError if it has none."""
    if not path.is_file():
        raise InputError(f"{path}: no such file (--audio)")
    with _open(path) as container:
        if not container.streams.audio:
            raise InputError(f"{path}: has no audio stream; give --audio a sound file")
        stream = container.streams.audio[0]
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        return (container.duration or 0) / av.time_base


def read_dpx(path: Path) -> np.ndarray:
    """A DPX frame -> (H, W) grey or (H, W, 3) RGB, uint8 for 8-bit files, else uint16 (10-
    and 12-bit values are scaled to 16 bits by FFmpeg)."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, IndexError):
        raise InputError(f"{path}: cannot be decoded as DPX (corrupt or truncated?)") from None
    grey = frame.format.name.startswith("gray")
    if _depth(frame.format) <= 8:
        return frame.to_ndarray(format="gray" if grey else "rgb24")
    return frame.to_ndarray(format="gray16le" if grey else "rgb48le")


def encode_dpx(image: np.ndarray) -> bytes:
    """(H, W) or (H, W, 3) uint8/uint16 -> the bytes of an 8- or 16-bit DPX file."""
    deep = image.dtype == np.uint16
    if image.ndim == 2:
        layout = "gray16le" if deep else "gray"
    else:
        layout = "rgb48le" if deep else "rgb24"
    context = av.CodecContext.create("dpx", "w")
    context.width, context.height = image.shape[1], image.shape[0]
    context.pix_fmt = layout
    context.time_base = Fraction(1, 25)  # required by the encoder; a DPX frame has no timing
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=layout)
    return b"".join(bytes(packet) for packet in [*context.encode(frame), *context.encode(None)])


def count_frames(path: Path) -> int:
    """Frames in the first video stream, counted by demuxing (no decoding)."""
    with _open(path) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)
