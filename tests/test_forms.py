"""Inputs and outputs in every form: 10-bit video kept at 10 bits, a scan sequence written as
video with a separate sound file, video written as an image sequence."""

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from model.checkpoint import DEFAULT_WEIGHTS
from remaster.errors import InputError
from remaster.run.film import FilmOptions, colorize_film
from tests.media import write_deep_video, write_sequence, write_tone

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped weights")
HEIGHT = 48


def color(source, output, photo_reference, small_frame_colorizer, **settings):
    options = FilmOptions(
        source=source,
        output=output,
        ref=photo_reference,
        method="embed",
        device="cpu",
        quiet=True,
        **settings,
    )
    return colorize_film(options, small_frame_colorizer)


def frames_of(path):
    """(pixel format, [(pts, time_base, yuv420p10le planes)]) of every frame."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [
            (frame.pts, frame.time_base, frame.to_ndarray(format="yuv420p10le"))
            for frame in container.decode(stream)
        ]
        return stream.codec_context.format.name, frames


def assert_color_planes(planes: np.ndarray):
    chroma = planes[HEIGHT:].astype(np.int32)
    assert np.abs(chroma - 512).mean() > 4  # 10-bit chroma, not neutral


@pytest.mark.parametrize(
    "codec, pixel_format, suffix",
    [
        ("ffv1", "yuv420p10le", ".mkv"),
        ("prores_ks", "yuv422p10le", ".mov"),
        ("libx264", "yuv420p10le", ".mp4"),  # High 10
    ],
)
def test_10_bit_video_keeps_its_luma_at_10_bits(
    tmp_path, photo_reference, small_frame_colorizer, codec, pixel_format, suffix
):
    source = write_deep_video(tmp_path / f"reel{suffix}", codec, pixel_format)
    output = tmp_path / "colour.mkv"
    color(source, output, photo_reference, small_frame_colorizer, codec="ffv1")
    source_format, before = frames_of(source)
    output_format, after = frames_of(output)
    assert (source_format, output_format) == (pixel_format, "yuv420p10le")
    assert len(after) == len(before) == 4
    for (pts, time_base, planes), (pts_out, time_base_out, planes_out) in zip(
        before, after, strict=True
    ):
        assert abs(pts * time_base - pts_out * time_base_out) <= Fraction(1, 1000)  # Matroska ms
        np.testing.assert_array_equal(planes_out[:HEIGHT], planes[:HEIGHT])
        assert (planes[:HEIGHT] % 4).any()  # the test material uses all 10 bits
        assert_color_planes(planes_out)


def test_10_bit_prores_stays_10_bit_in_prores_and_h264(
    tmp_path, photo_reference, small_frame_colorizer
):
    source = write_deep_video(tmp_path / "reel.mov", "prores_ks", "yuv422p10le")
    summary = color(
        source, tmp_path / "colour.mov", photo_reference, small_frame_colorizer, codec="prores"
    )
    output_format, after = frames_of(tmp_path / "colour.mov")
    assert output_format == "yuv422p10le"
    assert not any("8-bit" in note for note in summary.notes)
    _, before = frames_of(source)
    for (_, _, planes), (_, _, planes_out) in zip(before, after, strict=True):
        error = np.abs(planes_out[:HEIGHT].astype(int) - planes[:HEIGHT])
        assert error.mean() < 1  # ProRes is lossy, but far finer than 8-bit steps of 4
    color(
        source, tmp_path / "colour.mp4", photo_reference, small_frame_colorizer
    )  # the default codec
    output_format, after = frames_of(tmp_path / "colour.mp4")
    assert output_format == "yuv420p10le"  # High 10
    for (_, _, planes), (_, _, planes_out) in zip(before, after, strict=True):
        error = np.abs(planes_out[:HEIGHT].astype(int) - planes[:HEIGHT])
        assert error.mean() < 8  # lossy at --crf 18: within two 8-bit steps
        assert (planes_out[:HEIGHT] % 4).any()  # and it uses all 10 bits


def test_a_scan_sequence_becomes_video_with_its_sound(
    tmp_path, photo_reference, small_frame_colorizer
):
    rate = Fraction(24000, 1001)
    write_sequence(tmp_path / "scans", 6, bits=16, suffix=".tif")
    sound = write_tone(tmp_path / "sound.wav", float(6 / rate))
    output = tmp_path / "colour.mov"
    summary = color(
        tmp_path / "scans",
        output,
        photo_reference,
        small_frame_colorizer,
        fps=rate,
        audio=sound,
        codec="prores",
    )
    assert summary.frames == 6
    assert not any("lasts" in note for note in summary.notes)  # sound as long as the picture
    output_format, frames = frames_of(output)
    assert output_format == "yuv422p10le"
    assert [pts * time_base for pts, time_base, _ in frames] == [i / rate for i in range(6)]
    for _, _, planes in frames:
        assert_color_planes(planes)
    with av.open(str(output)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "pcm_s16le"
        samples = sum(frame.samples for frame in container.decode(audio))
    assert samples == round(6 / rate * 48000)


def test_video_becomes_a_16_bit_sequence(tmp_path, photo_reference, small_frame_colorizer):
    source = write_deep_video(tmp_path / "reel.mkv", "ffv1", "yuv420p10le", frames=3)
    color(source, tmp_path / "frames", photo_reference, small_frame_colorizer)
    written = sorted((tmp_path / "frames").iterdir())
    assert [path.name for path in written] == [f"reel_{n:06d}.png" for n in range(3)]
    for path in written:
        rgb = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert rgb.dtype == np.uint16 and rgb.shape == (48, 64, 3)
        assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).mean() > 65535 / 50


def test_fps_is_for_sequences_only(tmp_path, photo_reference, small_frame_colorizer):
    source = write_deep_video(tmp_path / "reel.mkv", "ffv1", "yuv420p10le", frames=1)
    with pytest.raises(InputError, match="is a video, which has its own frame rate"):
        color(
            source, tmp_path / "out.mkv", photo_reference, small_frame_colorizer, fps=Fraction(24)
        )
