"""Media that tests make for themselves: photo-like images and real encoded video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def photo_like(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth, colourful uint8 RGB image: low-frequency noise upsampled, like a soft photo."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((4, 6, 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_photos(
    folder: Path, count: int, size: tuple[int, int] = (96, 128), seed: int = 0
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        image = photo_like(*size, seed=seed + index)
        cv2.imwrite(str(folder / f"photo{index:03d}.png"), image[..., ::-1])
    return folder


def write_video(
    path: Path, frames: int = 12, size: tuple[int, int] = (96, 128), fps: int = 10
) -> Path:
    """A real H.264 file encoded with PyAV, each frame a different photo-like image."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(photo_like(*size, seed=100 + index), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_clip(
    path: Path,
    frames: int = 30,
    rate=None,
    size: tuple[int, int] = (96, 128),
    audio: bool = True,
    shots: int = 2,
) -> Path:
    """A real H.264 clip with an AAC track of real tones: `shots` scenes of distinct colour.

    Default rate 30000/1001 (NTSC), the rate whose timestamps go wrong when fps is rounded."""
    from fractions import Fraction

    import av

    rate = rate or Fraction(30000, 1001)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.height, video.width = size
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=48000, layout="mono") if audio else None
        per_shot = -(-frames // shots)
        for index in range(frames):
            image = photo_like(*size, seed=1000 * (index // per_shot) + index % 3)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            frame.time_base = 1 / Fraction(rate)
            container.mux(video.encode(frame))
        container.mux(video.encode())
        if sound is not None:
            seconds = frames / float(rate)
            t = np.arange(int(seconds * 48000)) / 48000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(tone), 1024):
                chunk = tone[start : start + 1024][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = 48000
                frame.pts = start
                container.mux(sound.encode(frame))
            container.mux(sound.encode())
    return path


def add_subtitles(clip: Path, srt_text: str, output: Path) -> Path:
    """`clip` with an SRT subtitle track, remuxed into `output` (.mkv) with PyAV."""
    import av

    srt = output.with_suffix(".srt")
    srt.write_text(srt_text)
    with (
        av.open(str(srt)) as subtitles,
        av.open(str(clip)) as source,
        av.open(str(output), "w") as out,
    ):
        targets = {s.index: out.add_stream_from_template(s) for s in source.streams}
        subtitle_stream = out.add_stream_from_template(subtitles.streams.subtitles[0])
        for packet in source.demux():
            if packet.size:
                packet.stream = targets[packet.stream.index]
                out.mux(packet)
        for packet in subtitles.demux():
            if packet.size:
                packet.stream = subtitle_stream
                out.mux(packet)
    return output


def panning_frames(
    frames: int, size: tuple[int, int] = (96, 128), seed: int = 0, step: int = 2
) -> list[np.ndarray]:
    """RGB frames of a camera panning `step` pixels a frame across one photo-like scene."""
    height, width = size
    scene = photo_like(height + 8, width + step * frames + 8, seed)
    return [scene[4 : 4 + height, 4 + step * i : 4 + step * i + width] for i in range(frames)]


def write_frames(
    path: Path,
    frames: list[np.ndarray],
    rate: int = 10,
    codec: str = "libx264",
    options: dict | None = None,
):
    """Encode RGB frames as they are, one timestamp per frame (`ffv1` in .mkv is lossless);
    `options` go to the encoder (e.g. libx264's "g" and "bf")."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, options=options or {})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """An RGB frame as a black-and-white transfer shows it (BT.601 luma in all three channels)."""
    luma = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).round()
    return np.repeat(luma.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)


def write_timecoded(path: Path, rate, timecode: str, frames: int = 6, on: str = "stream") -> Path:
    """A real H.264 .mov (or MPEG-2 .mxf) whose first frame is at `timecode`, set as an editing
    tool does: on the video stream (FFmpeg's MOV muxer then writes a `tmcd` track) or, with
    on="container", on the file."""
    from fractions import Fraction

    import av

    rate = Fraction(rate)
    codec = "mpeg2video" if path.suffix == ".mxf" else "libx264"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = 48, 64
        stream.pix_fmt = "yuv420p"
        (stream if on == "stream" else container).metadata["timecode"] = timecode
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(photo_like(48, 64, seed=index), format="rgb24")
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_sequence(
    folder: Path,
    count: int,
    bits: int = 16,
    color: bool = False,
    suffix: str = ".png",
    size: tuple[int, int] = (48, 64),
    first: int = 0,
    name: str = "scan_%06d",
    seed: int = 0,
) -> list[np.ndarray]:
    """A scanned reel: `count` frames of `bits` bits, grey (one channel) or RGB, numbered from
    `first`. 16-bit frames carry noise below the 8-bit step, so a path that lost bits would
    show. Returns the frames as written (RGB order)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(count):
        rgb = photo_like(*size, seed=seed + index).astype(np.float64) / 255
        if bits == 16:
            image = (rgb * 65000 + rng.integers(0, 500, rgb.shape)).astype(np.uint16)
        else:
            image = (rgb * 255).round().astype(np.uint8)
        if not color:
            image = image[..., 1]
        frames.append(image)
        path = folder / (name % (first + index) + suffix)
        if suffix == ".dpx":
            from remaster.media.video import encode_dpx

            path.write_bytes(encode_dpx(image))
        else:
            cv2.imwrite(str(path), image[..., ::-1] if color else image)
    return frames


def write_deep_video(
    path: Path, codec: str, pixel_format: str, frames: int = 4, rate=24, size=(48, 64)
) -> Path:
    """A real 10-bit video (ffv1, prores_ks or libx264 High 10) of photo-like frames whose
    luma uses the low two bits too."""
    import av

    height, width = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pixel_format
        rng = np.random.default_rng(len(str(path)))
        for index in range(frames):
            rgb = photo_like(height, width, seed=200 + index).astype(np.uint16) * 257
            rgb += rng.integers(0, 256, rgb.shape, dtype=np.uint16)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le").reformat(format=pixel_format)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_tone(path: Path, seconds: float, rate: int = 48000) -> Path:
    """A real PCM WAV of a 440 Hz tone lasting `seconds`."""
    import av

    samples = round(seconds * rate)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / rate) * 32767).astype(np.int16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        for start in range(0, samples, 1024):
            frame = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path
