"""`remaster eval` reads each video in its own form: RGB and 4:4:4 at full chroma resolution and
their own depth, 4:2:0 as its planes; two files of different forms are compared in the finer.

Checked against an independent reading: every frame through PyAV's own conversion to RGB
(`to_ndarray(format="rgb24")`), scored with numpy and scikit-image."""

from __future__ import annotations

import warnings

import av
import numpy as np
import pytest
from skimage import color, data, metrics
from skimage.transform import resize

from remaster.commands.evaluate import evaluate, video_rgb
from tests.helpers import run_remaster
from tests.media import write_frames

SMPTE170M, MPEG = 6, 1  # FFmpeg's codes for BT.601 and limited range


def real_clip(frames: int = 8, size: tuple[int, int] = (144, 256)) -> list[np.ndarray]:
    """A camera panning across a real photo (scikit-image's coffee), 3 pixels a frame."""
    height, width = size
    photo = resize(data.coffee(), (height + 8, width + 3 * frames + 8), anti_aliasing=True)
    photo = (photo * 255).round().astype(np.uint8)
    return [photo[4 : 4 + height, 4 + 3 * k : 4 + 3 * k + width] for k in range(frames)]


def colorized(frames: list[np.ndarray]) -> list[np.ndarray]:
    """What a colorizer might give: the right luminance, colour smeared across fine detail and
    a little off, the error that reducing chroma to 4:2:0 hides."""
    out = []
    for rgb in frames:
        lab = color.rgb2lab(rgb)
        coarse = resize(lab[..., 1:], (rgb.shape[0] // 4, rgb.shape[1] // 4), anti_aliasing=True)
        lab[..., 1:] = resize(coarse, rgb.shape[:2]) * 1.15 + [3, -4]
        with warnings.catch_warnings():  # a few colours fall outside sRGB: clipped, as meant
            warnings.simplefilter("ignore", UserWarning)
            rgb = color.lab2rgb(lab)
        out.append((rgb.clip(0, 1) * 255).round().astype(np.uint8))
    return out


def write_ffv1(path, frames: list[np.ndarray], pixel_format: str):
    """Lossless FFV1 in `pixel_format`; YUV tagged BT.601 limited range, converted so."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pixel_format
        if not av.VideoFormat(pixel_format).is_rgb:
            stream.codec_context.colorspace, stream.codec_context.color_range = SMPTE170M, MPEG
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if not av.VideoFormat(pixel_format).is_rgb:
                frame = frame.reformat(
                    format=pixel_format, dst_colorspace="itu601", dst_color_range="MPEG"
                )
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def read_independently(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def independent_scores(truth, output) -> tuple[float, float]:
    """Mean per-frame PSNR (dB) and CIEDE2000, by numpy and scikit-image."""
    pairs = list(zip(read_independently(truth), read_independently(output), strict=True))
    psnr = np.mean([metrics.peak_signal_noise_ratio(t, o, data_range=255) for t, o in pairs])
    delta = [color.deltaE_ciede2000(color.rgb2lab(t), color.rgb2lab(o)).mean() for t, o in pairs]
    return float(psnr), float(np.mean(delta))


@pytest.fixture(scope="module")
def clip():
    truth = real_clip()
    return truth, colorized(truth)


@pytest.mark.parametrize("pixel_format, form", [("bgr0", "RGB"), ("yuv444p", "4:4:4")])
def test_a_full_chroma_pair_scores_as_read_exactly(tmp_path, clip, pixel_format, form):
    truth = write_ffv1(tmp_path / "truth.mkv", clip[0], pixel_format)
    output = write_ffv1(tmp_path / "output.mkv", clip[1], pixel_format)
    report = evaluate(truth, output, cuts=[])
    expected_psnr, expected_delta = independent_scores(truth, output)
    mean = report.means()
    assert mean["psnr"] == pytest.approx(expected_psnr, abs=0.01)
    assert mean["ciede2000"] == pytest.approx(expected_delta, rel=0.005)
    assert f"truth {form} 8-bit ({pixel_format}), output {form}" in report.form
    # Read through 4:2:0 planes, as before, the same pair looks better than it is: the test
    # would catch a return to that.
    reduced = write_frames(tmp_path / "reduced.mkv", clip[1], codec="ffv1")
    reduced_truth = write_frames(tmp_path / "reduced-truth.mkv", clip[0], codec="ffv1")
    assert evaluate(reduced_truth, reduced, cuts=[]).means()["psnr"] > expected_psnr + 0.2


def test_two_forms_are_compared_in_the_finer_and_the_report_says_so(tmp_path, clip):
    truth = write_ffv1(tmp_path / "truth.mkv", clip[0], "bgr0")
    output = write_frames(tmp_path / "output.mkv", clip[1], codec="ffv1")  # 4:2:0
    # The 4:2:0 file is upsampled to full chroma resolution; the RGB one is read as it is.
    assert [rgb.shape for _, rgb in video_rgb(output)] == [(144, 256, 3)] * 8
    assert np.array_equal(next(video_rgb(truth))[1], read_independently(truth)[0])
    result = run_remaster("eval", "--truth", truth, output)
    assert result.returncode == 0, result.stderr
    assert (
        "compared as RGB at full resolution: truth RGB 8-bit (bgr0), output 4:2:0 8-bit "
        "(yuv420p), the output's chroma upsampled" in result.stdout
    )


def test_a_deep_file_is_read_at_its_depth(tmp_path, clip):
    truth = write_ffv1(tmp_path / "truth.mkv", clip[0], "yuv444p10le")
    frames = [rgb for _, rgb in video_rgb(truth)]
    assert frames[0].dtype == np.uint16 and frames[0].shape == (144, 256, 3)
    eight = read_independently(truth)[0].astype(np.int32)
    assert np.abs(np.round(frames[0] / 257).astype(np.int32) - eight).max() <= 1
    assert (frames[0] % 257 != 0).mean() > 0.5  # more than 8 bits' worth of levels
