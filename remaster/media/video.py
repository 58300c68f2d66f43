"""Everything that touches containers and codecs: the only module that imports PyAV.

Pictures travel as planar YUV 4:2:0 8-bit arrays: the luma plane is decoded once and written
back untouched, so the output's grey is the input's; only the two chroma planes are new.
Every frame keeps its own pts and time base from decoder to encoder, so variable frame rates
and 23.976/29.97 material stay in sync with the copied audio.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np

from remaster.errors import InputError, OutputError
from remaster.media.codecs import (
    CODECS,
    CONTAINER_CODECS,
    DEEP_FORMATS,
    NVENC,
    encoder_threads,
)
from remaster.media.damage import Damaged, DecodePolicy, DecodeReport, mend
from remaster.media.frames import Picture


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
    rotation: int = 0  # degrees counter-clockwise a player turns the picture (display matrix)
    field_order: str | None = None  # "tt", "bb", "tb" or "bt" where flagged interlaced
    seconds: float | None = None  # the video stream's duration, where the file says


def _open(path: Path, mode: str = "r", **options):
    try:
        return av.open(str(path), mode, **options)
    except av.EOFError:
        raise InputError(
            f"{path}: ends before its first video frame (an empty or unfinished file); "
            "check it is the film you meant"
        ) from None
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
            **_first_frame_facts(container, stream),
        )


# FFmpeg's AVFieldOrder values for interlaced video, as the names ffprobe prints.
FIELD_ORDERS = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def _first_frame_facts(container, stream) -> dict:
    """Rotation and interlacing, which FFmpeg reports on decoded frames (a phone's display
    matrix, a frame's interlaced flag) as well as on the stream; and the stream's duration."""
    seconds = float(stream.duration * stream.time_base) if stream.duration else None
    if seconds is None and len(container.streams) == 1 and container.duration:
        seconds = container.duration / av.time_base  # Matroska: only the file's duration
    field_order = FIELD_ORDERS.get(int(getattr(stream.codec_context, "field_order", 0) or 0))
    rotation = 0
    try:
        frame = next(container.decode(stream), None)
    except av.FFmpegError:  # damage is decode()'s to report, at its frame
        frame = None
    if frame is not None:
        rotation = round(frame.rotation or 0) % 360
        if field_order is None and frame.interlaced_frame:
            field_order = "tt" if getattr(frame, "top_field_first", True) else "bb"
    return {"rotation": rotation, "field_order": field_order, "seconds": seconds}


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


@dataclass(frozen=True)
class ColorForm:
    """How a video stores its colour: RGB, or luma and chroma at a sampling such as 4:2:0,
    and its depth (the deepest component's bits)."""

    pixel_format: str
    sampling: str  # "RGB", "4:4:4", "4:2:2", "4:2:0", "4:1:1", "4:1:0" or "grey"
    bits: int

    @property
    def full_chroma(self) -> bool:
        """Colour at every pixel, as RGB and 4:4:4 store it."""
        return self.sampling in ("RGB", "4:4:4", "grey")

    def __str__(self) -> str:
        return f"{self.sampling} {self.bits}-bit ({self.pixel_format})"


# Chroma planes' width and height against the luma's -> the sampling's usual name.
SAMPLINGS = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1", (4, 4): "4:1:0"}


def color_form(path: Path) -> ColorForm:
    with _open(path) as container:
        if not container.streams.video:
            raise InputError(f"{path}: has no video stream")
        context = container.streams.video[0].codec_context
        pixel_format = context.format
        if pixel_format is None:
            raise InputError(f"{path}: its pixel format is unknown; it cannot be scored")
        bits = _depth(pixel_format)
        if pixel_format.is_rgb:
            return ColorForm(pixel_format.name, "RGB", bits)
        if len(pixel_format.components) < 3:
            return ColorForm(pixel_format.name, "grey", bits)
        width, height = context.width, context.height
        step = (
            -(-width // pixel_format.chroma_width(width)),
            -(-height // pixel_format.chroma_height(height)),
        )
        return ColorForm(pixel_format.name, SAMPLINGS.get(step, "4:2:0"), bits)


def decode_rgb(
    path: Path, form: ColorForm, colorspace: str, full_range: bool
) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, RGB) for every frame at full resolution and the file's own depth, by FFmpeg's
    own conversion (swscale) from its form: (H, W, 3) uint8, or uint16 for a deeper file.
    YUV is read with the matrix (`colorspace`, swscale's name: "itu709", "itu601") and range
    given. For files whose colour is not 4:2:0 (decode() reads those as planes); `remaster
    eval` reads them so, to score colour at the resolution the file holds it."""
    layout = "rgb24" if form.bits <= 8 else "rgb48le"
    matrix = {}
    if form.sampling != "RGB":
        matrix = {"src_colorspace": colorspace, "src_color_range": "JPEG" if full_range else "MPEG"}
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = Fraction(stream.time_base)
        index = 0
        try:
            for frame in container.decode(stream):
                rgb = frame.reformat(format=layout, **matrix).to_ndarray()
                seconds = float(frame.pts * time_base) if frame.pts is not None else float("nan")
                yield seconds, rgb
                index += 1
        except av.FFmpegError as error:
            raise InputError(
                f"{path}: frame {index} cannot be decoded ({error.strerror}); a damaged file "
                "cannot be scored"
            ) from None


def picture_bits(codec: str, source_bits: int) -> int:
    """The depth pictures are coloured and written at for `codec`: the source's where the codec
    takes it, else 8."""
    return 10 if source_bits > 8 and codec in DEEP_FORMATS else 8


def decode(
    path: Path,
    bits: int = 8,
    policy: DecodePolicy | None = None,
    report: DecodeReport | None = None,
) -> Iterator[Picture]:
    """Every frame of the first video stream, in presentation order, as 4:2:0 planes of
    `bits` bits (8: uint8; 10: uint16, each plane converted at its own depth, so 10-bit luma
    is copied as it is).

    Decodes from the start without seeking (seeking is unreliable in some files), packet by
    packet, so a packet the decoder rejects is a damaged frame handled by `policy` (damage.py)
    and counted in `report`, never a silent gap. A file that cannot be read past a point raises
    InputError naming the frame.
    """
    policy = policy or DecodePolicy()
    report = report if report is not None else DecodeReport()
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
        events = _decoded(path, container, stream, bits, policy.deinterlace)
        yield from mend(events, path, policy, report, 1 / rate)


def _decoded(path: Path, container, stream, bits: int, deinterlace: bool) -> Iterator:
    """Pictures (numbered later, by `mend`) and `Damaged` packets, in decode order."""
    time_base = Fraction(stream.time_base)
    frame_ticks = 1 / (Fraction(stream.average_rate or stream.guessed_rate or 25) * time_base)
    layout = "yuv420p" if bits == 8 else "yuv420p10le"
    deinterlacer = _Deinterlacer(stream) if deinterlace else None
    decoded, last_pts = 0, None
    # A decoder running several frames at once reports a bad packet a few packets late, so a
    # damaged frame is found as the timestamp sent but never decoded, once a later one is.
    sent: list[int] = []
    errors, reason = 0, ""

    def lost_before(pts: int | None) -> Iterator[Damaged]:
        nonlocal errors
        while sent and (pts is None or sent[0] <= pts):
            missing = heapq.heappop(sent)
            if missing != pts and errors:  # without an error, a frame the file discards
                errors -= 1
                yield Damaged(missing, time_base, reason)

    def picture(frame) -> Picture:
        nonlocal last_pts
        pts = frame.pts
        if pts is None:  # some AVI files leave a frame unstamped: one frame after the last
            pts = 0 if last_pts is None else round(last_pts + frame_ticks)
        last_pts = pts
        return _planes(frame, layout, bits, -1, pts, time_base)  # numbered later, by `mend`

    try:
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None:
                heapq.heappush(sent, packet.pts)
            try:
                frames = stream.decode(packet)
            except av.FFmpegError as error:
                errors, reason = errors + 1, error.strerror or str(error)
                frames = []
            if frames and frames[-1].pts is not None:
                yield from lost_before(frames[-1].pts)
            if deinterlacer is not None:
                frames = [out for frame in frames for out in deinterlacer.filter(frame)]
                if not packet.size:
                    frames += deinterlacer.filter(None)
            for frame in frames:
                decoded += 1
                yield picture(frame)
        yield from lost_before(None)
    except av.FFmpegError as error:
        raise InputError(
            f"{path}: cannot be read past frame {decoded} ({error.strerror}); the file is "
            "damaged or cut short there: repair or re-copy it"
        ) from None


def frame_timestamps(path: Path) -> list[int] | None:
    """The presentation timestamps of every video frame, in order, by demuxing alone (fast: no
    decoding); None when a packet carries none, since frames then cannot be found by time."""
    with _open(path) as container:
        stream = container.streams.video[0]
        stamps = [packet.pts for packet in container.demux(stream) if packet.size]
    return None if None in stamps else sorted(stamps)


def decode_range(
    path: Path, bits: int, first: int, end: int, timestamps: list[int]
) -> Iterator[Picture]:
    """Frames `first` to `end - 1` (numbered as `decode` numbers them: in presentation order
    from 0), decoding from the keyframe before `first` instead of from the start, so each of
    several processes decodes only its own part of a film.

    A frame is numbered by its timestamp's place in `timestamps` (frame_timestamps). Decoding
    from a keyframe gives the same pictures as decoding up to it; a frame that does not come
    out where its timestamp says (a damaged file) raises InputError, since its number could no
    longer be known without decoding from the start."""
    if first >= end:
        return
    number = {stamp: index for index, stamp in enumerate(timestamps)}
    expected = first
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if first > 0:  # a fresh container: no decoder state to flush
            container.seek(timestamps[first], stream=stream, backward=True)
        layout = "yuv420p" if bits == 8 else "yuv420p10le"
        for frame in container.decode(stream):
            index = number.get(frame.pts, -1)
            if index < first:
                continue
            if index != expected:
                break
            yield _planes(frame, layout, bits, index, frame.pts, Fraction(stream.time_base))
            expected += 1
            if expected == end:
                return
    raise InputError(
        f"{path}: frame {expected} cannot be decoded where its timestamp says (a damaged "
        "file?); colour it in one process, where --on-decode-error handles damage"
    )


def _planes(frame, layout: str, bits: int, index: int, pts: int, time_base: Fraction) -> Picture:
    """A decoded frame as 4:2:0 planes of `bits` bits."""
    planes = frame.to_ndarray(format=layout)
    height, width = frame.height, frame.width
    chroma = planes[height:].reshape(2, height // 2, width // 2)
    frame_time_base = Fraction(frame.time_base) if frame.time_base else time_base
    return Picture(index, pts, frame_time_base, planes[:height], chroma[0], chroma[1], bits)


class _Deinterlacer:
    """FFmpeg's bwdif in its frame mode: one progressive frame out for each frame in, with the
    frame's own timestamp (in the filter's time base, half the stream's)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.graph = None

    def filter(self, frame) -> list:
        if self.graph is None:
            if frame is None:
                return []
            self.graph = av.filter.Graph()
            source = self.graph.add_buffer(template=self.stream)
            bwdif = self.graph.add("bwdif", "mode=send_frame:parity=auto:deint=all")
            sink = self.graph.add("buffersink")
            source.link_to(bwdif)
            bwdif.link_to(sink)
            self.graph.configure()
        self.graph.push(frame)
        out = []
        while True:
            try:
                out.append(self.graph.pull())
            except (av.BlockingIOError, av.EOFError):
                return out


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
    if codec in NVENC and not nvenc_available(codec):
        raise OutputError(
            f"--codec {codec}: NVIDIA's encoder cannot be opened here (no NVIDIA GPU, or its "
            "driver is missing); use --codec h264, or run on a machine with an NVIDIA GPU"
        )
    return codec


@functools.cache
def nvenc_available(codec: str = "h264-nvenc") -> bool:
    """Whether NVIDIA's encoder opens on this machine (FFmpeg has it built in; it needs the
    GPU and its driver at run time)."""
    try:
        context = av.CodecContext.create(CODECS[codec][0], "w")
        context.width, context.height, context.pix_fmt = 256, 256, "yuv420p"
        context.time_base = Fraction(1, 24)
        context.open()
    except (av.FFmpegError, ValueError, OSError):
        return False
    return True


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
        shares_cores: bool = False,
    ) -> None:
        """`shares_cores`: the colour is computed on the CPU cores the encoder runs on."""
        encoder, self.pixel_format, container_format, options = CODECS[codec]
        self.layout = "yuv420p" if bits == 8 else "yuv420p10le"
        if bits > 8:
            self.pixel_format = DEEP_FORMATS[codec]
        if codec == "h264":
            options = {**options, "crf": str(crf), "preset": preset}
        if codec in NVENC:
            options = {**options, "cq": str(crf)}
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
        threads = encoder_threads(codec, shares_cores)
        if threads:
            context.thread_count, context.thread_type = 0, threads
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
    segments: list[Segment],
    source: Path | None,
    output: Path,
    audio: Path | None = None,
    rotation: int = 0,
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
        if rotation:  # the source's display matrix: players turn the output as they did it
            video.set_display_rotation(rotation)
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
