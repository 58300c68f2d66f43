"""Build the bundled example: a short black-and-white reel with sound, three real shots.

    .venv/bin/python examples/make_example.py [--debs DIR] [--work DIR]

The pieces are real footage from Debian packages (fetched with apt-get when missing):
python3-imageio's cockatoo.mp4 and realshort.mp4 (BSD-2-Clause) and opencv-doc's vtest.avi
(Apache-2.0 AND BSD-3-Clause). Each piece becomes one shot, cropped to 16:9, scaled to 640x360,
retimed to 30000/1001 fps and turned grey; the sound is realshort's own track, with silence
under the other shots. A colour frame from each source shot becomes that shot's reference, as a
colorist would pick one. Writes examples/film/{reel.mp4, refs/*.jpg, shots.yaml}.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from remaster.media.images import crop_to_frame
from training_data.debs import DebFetcher, unpack

WIDTH, HEIGHT = 640, 360
RATE = Fraction(30000, 1001)
SAMPLE_RATE = 48000
IMAGEIO = "usr/lib/python3/dist-packages/imageio/resources/images"
# (package, path inside it, first second, seconds, reference name)
SHOTS = [
    ("python3-imageio", f"{IMAGEIO}/cockatoo.mp4", 0.0, 3.0, "cockatoo"),
    ("opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi", 10.0, 3.0, "street"),
    ("python3-imageio", f"{IMAGEIO}/realshort.mp4", 0.0, 1.2, "plant"),
]
SHOTS_YAML = """\
# Which reference colours which frames of reel.mp4 (30000/1001 fps).
shots:
  - start: 0                 # a frame number
    ref: refs/cockatoo.jpg
  - start: "00:00:03:00"     # SMPTE timecode: frame 90
    ref: refs/street.jpg
  - start: 6.0s              # seconds
    ref: refs/plant.jpg
"""


def source_frames(path: Path, first: float, seconds: float) -> list[tuple[float, np.ndarray]]:
    """(time from the shot's start, RGB) for the source frames in [first, first + seconds),
    decoded from the start: some of these files break when seeked."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            moment = float(frame.pts * frame.time_base)
            if moment >= first + seconds:
                break
            if moment >= first:
                frames.append(
                    (
                        moment - first,
                        crop_to_frame(frame.to_ndarray(format="rgb24"), (WIDTH, HEIGHT)),
                    )
                )
    return frames


def source_audio(path: Path) -> np.ndarray:
    """The file's first audio track as mono float32 at SAMPLE_RATE."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray().reshape(-1))
    return np.concatenate(chunks)


def build(sources: dict[str, Path], out: Path) -> None:
    (out / "refs").mkdir(parents=True, exist_ok=True)
    pictures, sound = [], []
    for package, inner, first, seconds, name in SHOTS:
        path = sources[package] / inner
        frames = source_frames(path, first, seconds)
        count = round(seconds * RATE)
        for index in range(count):  # retime: the source frame shown at each output time
            moment = index / RATE
            shown = [rgb for start, rgb in frames if start <= moment + 1e-6] or [frames[0][1]]
            pictures.append(shown[-1])
        reference = frames[len(frames) // 2][1]
        cv2.imwrite(
            str(out / "refs" / f"{name}.jpg"), reference[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        samples = int(count / RATE * SAMPLE_RATE)
        audio = source_audio(path) if name == "plant" else np.zeros(0, np.float32)
        sound.append(np.pad(audio[:samples], (0, max(0, samples - len(audio)))))
    write_reel(out / "reel.mp4", pictures, np.concatenate(sound).astype(np.float32))
    (out / "shots.yaml").write_text(SHOTS_YAML)


def write_reel(path: Path, pictures: list[np.ndarray], sound: np.ndarray) -> None:
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=RATE)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "20", "preset": "slow"}
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        for index, rgb in enumerate(pictures):
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            frame = av.VideoFrame.from_ndarray(np.stack([grey] * 3, axis=-1), format="rgb24")
            frame.pts, frame.time_base = index, 1 / RATE
            container.mux(video.encode(frame))
        container.mux(video.encode())
        for start in range(0, len(sound), 1024):
            frame = av.AudioFrame.from_ndarray(
                sound[None, start : start + 1024], format="flt", layout="mono"
            )
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debs", type=Path, default=Path("data/debs"))
    parser.add_argument("--work", type=Path, default=Path("data/example-sources"))
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "film")
    args = parser.parse_args()
    fetcher = DebFetcher(args.debs)
    sources = {
        package: unpack(fetcher.fetch(package), args.work, package)
        for package in {package for package, *_ in SHOTS}
    }
    build(sources, args.out)
    size = (args.out / "reel.mp4").stat().st_size / 2**20
    print(f"wrote {args.out / 'reel.mp4'} ({size:.2f} MiB), refs/ and shots.yaml")


if __name__ == "__main__":
    main()
