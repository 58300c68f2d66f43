"""`remaster eval`: each measure against an independent implementation or a hand-worked case,
and the command on real encoded videos, images and folders."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from skimage import color, data, metrics
from skimage.transform import resize

from model.metrics import ciede2000, colorfulness, psnr, ssim
from remaster.commands.evaluate import FramePair, Scorer
from remaster.commands.steadiness import StreamStats, js_divergence
from tests.helpers import run_remaster
from tests.media import panning_frames, photo_like, write_frames


def tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255


def real_photo_pairs():
    """Real photos from scikit-image, each with a distorted copy: noise, a tint, a blur."""
    rng = np.random.default_rng(0)
    for photo in (data.astronaut(), data.coffee(), data.chelsea()):
        photo = (resize(photo, (96, 128), anti_aliasing=True) * 255).round().astype(np.uint8)
        noisy = np.clip(photo + rng.normal(0, 12, photo.shape), 0, 255).astype(np.uint8)
        tinted = np.clip(photo.astype(int) + [25, -10, 5], 0, 255).astype(np.uint8)
        blurred = (resize(photo, (48, 64)) * 255).round().astype(np.uint8)
        blurred = (resize(blurred, (96, 128)) * 255).round().astype(np.uint8)
        for other in (noisy, tinted, blurred):
            yield photo, other


def test_psnr_and_ssim_agree_with_scikit_image():
    for truth, output in real_photo_pairs():
        expected_psnr = metrics.peak_signal_noise_ratio(truth, output, data_range=255)
        expected_ssim = metrics.structural_similarity(
            truth, output, channel_axis=-1, data_range=255
        )
        assert psnr(tensor(output), tensor(truth)).item() == pytest.approx(expected_psnr, abs=1e-3)
        assert ssim(tensor(output), tensor(truth)).item() == pytest.approx(expected_ssim, abs=1e-4)


def test_ciede2000_agrees_with_scikit_image():
    for truth, output in real_photo_pairs():
        expected = color.deltaE_ciede2000(color.rgb2lab(truth), color.rgb2lab(output)).mean()
        assert ciede2000(tensor(output), tensor(truth)).item() == pytest.approx(expected, abs=2e-3)


def test_colorfulness_by_hand():
    grey = np.full((4, 4, 3), 90, np.uint8)
    assert colorfulness(tensor(grey)).item() == pytest.approx(0, abs=1e-4)
    # Two pixels: rg = {100, 0}, yb = {50, 0}: std sqrt(50^2 + 25^2), mean sqrt(50^2 + 25^2).
    two = np.array([[[100, 0, 0], [0, 0, 0]]], np.uint8)
    expected = np.hypot(50, 25) + 0.3 * np.hypot(50, 25)
    assert colorfulness(tensor(two)).item() == pytest.approx(expected, rel=1e-5)


def test_cdc_by_hand():
    """A, B, A: B has half its pixels at another value in every channel.

    JS(A, B) per channel, in bits: M = (3/4, 1/4); KL(A||M) = log2(4/3) = 0.415037,
    KL(B||M) = 0.5 log2(2/3) + 0.5 log2(2) = 0.207519; JS = 0.311278. Steps of 1: two pairs,
    both 0.311278; steps of 2: (A, A) = 0; steps of 4: none. CDC = (0.311278 + 0) / 2."""
    a = np.full((2, 2, 3), 40, np.uint8)
    b = a.copy()
    b[0] = 200
    stats = StreamStats()
    for frame in (a, b, a):
        stats.add(frame, new_shot=False, flow=None)
    assert stats.cdc() == pytest.approx(0.311278 / 2, abs=1e-6)
    assert js_divergence(np.array([1.0, 0]), np.array([0, 1.0])) == pytest.approx(1)


def test_cdc_and_pairs_never_cross_a_cut():
    a = np.full((2, 2, 3), 40, np.uint8)
    b = np.full((2, 2, 3), 200, np.uint8)
    stats = StreamStats()
    stats.add(a, new_shot=True, flow=None)
    stats.add(a, new_shot=False, flow=None)
    stats.add(b, new_shot=True, flow=None)
    stats.add(b, new_shot=False, flow=None)
    assert stats.cdc() == 0


def test_warp_error_separates_steady_from_flickering_color():
    """A real pan: the truth scored against itself has the truth's own warp error; an output
    whose tint flickers frame to frame has a far larger one, and a larger CDC."""
    truth = panning_frames(12, seed=3)
    flicker = [
        np.clip(frame.astype(int) + (30 if i % 2 else -30) * np.array([1, -1, 0]), 0, 255).astype(
            np.uint8
        )
        for i, frame in enumerate(truth)
    ]
    scorer = Scorer()
    steady, track = scorer.score([FramePair(str(i), f, f) for i, f in enumerate(truth)], cuts=[])
    assert steady.temporal["output"] == steady.temporal["truth"]
    assert steady.temporal["truth"]["warp_error"] < 3
    pairs = [FramePair(str(i), t, o) for i, (t, o) in enumerate(zip(truth, flicker, strict=True))]
    flickering, _ = scorer.score(pairs, cuts=[], track=track)
    assert flickering.temporal["output"]["warp_error"] > 5 * steady.temporal["truth"]["warp_error"]
    assert flickering.temporal["output"]["cdc"] > 2 * steady.temporal["truth"]["cdc"]


def test_eval_videos_finds_the_cut_and_writes_json_and_plot(tmp_path):
    frames = panning_frames(10, seed=1) + panning_frames(10, seed=2)
    truth = write_frames(tmp_path / "truth.mp4", frames)
    grey = [np.repeat(f.mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8) for f in frames]
    output = write_frames(tmp_path / "grey.mp4", grey)
    json_path, plot_path = tmp_path / "r.json", tmp_path / "r.png"
    result = run_remaster(
        "eval", "--truth", truth, output, "--json", json_path, "--plot", plot_path
    )
    assert result.returncode == 0, result.stderr
    assert "2 shots (cuts at 10)" in result.stdout
    report = json.loads(json_path.read_text())
    assert report["frames"] == 20 and report["cuts"] == [10]
    assert report["mean"]["colourfulness"] < 3 < report["mean"]["truth_colourfulness"]
    assert report["mean"]["ciede2000"] > 5 and report["mean"]["psnr"] < 40
    assert len(report["per_frame"]["lpips"]) == 20
    assert plot_path.stat().st_size > 1000


def test_eval_refuses_mismatched_videos_in_one_line(tmp_path):
    truth = write_frames(tmp_path / "truth.mp4", panning_frames(8))
    shorter = write_frames(tmp_path / "short.mp4", panning_frames(7))
    smaller = write_frames(tmp_path / "small.mp4", panning_frames(8, size=(64, 96)))
    for output, words in ((shorter, "has 7 frames"), (smaller, "is 96x64")):
        result = run_remaster("eval", "--truth", truth, output)
        assert result.returncode == 1
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_eval_images_and_folders_matched_by_name(tmp_path):
    import cv2

    truth_dir, output_dir = tmp_path / "truth", tmp_path / "out"
    truth_dir.mkdir()
    output_dir.mkdir()
    for index in range(3):
        image = photo_like(48, 64, seed=index)
        cv2.imwrite(str(truth_dir / f"{index}.png"), image[..., ::-1])
        cv2.imwrite(str(output_dir / f"{index}.png"), image[..., ::-1])
    result = run_remaster("eval", "--truth", truth_dir, output_dir)
    assert result.returncode == 0, result.stderr
    assert "3 frames" in result.stdout and "CIEDE2000 0.00" in result.stdout
    single = run_remaster("eval", "--truth", truth_dir / "0.png", output_dir / "1.png")
    assert single.returncode == 0 and "CDC" not in single.stdout
    (output_dir / "2.png").unlink()
    missing = run_remaster("eval", "--truth", truth_dir, output_dir)
    assert missing.returncode == 1 and "lacks 1 of the truth's 3 images, 2.png" in missing.stderr
