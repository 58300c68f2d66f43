"""The benchmark material builder, on real H.264 videos the test makes itself."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from benchmarks.material import (
    BLACK_LEVEL,
    ClipSpec,
    Piece,
    build_clip,
    build_photos,
    built_clip,
    rgb_from_planes,
)
from remaster.media.images import read_image
from remaster.media.video import decode, probe
from remaster.refs.refs_file import load_refs
from tests.media import photo_like, write_photos, write_video

RATE = Fraction(10)
SIZE = (128, 72)


def write_pan(path: Path, frames: int = 20, fps: int = 10, black: int = 2) -> Path:
    """A real H.264 pan across a photo-like picture (4 px a frame), its first frames black."""
    wide = photo_like(96, 256, seed=7)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width, stream.pix_fmt = 96, 128, "yuv420p"
        for index in range(frames):
            image = (
                np.zeros((96, 128, 3), np.uint8) if index < black else wide[:, 4 * index :][:, :128]
            )
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = tmp_path_factory.mktemp("material")
    sources = {
        "pan": write_pan(folder / "pan.mp4"),
        "stills": write_video(folder / "stills.mp4", frames=12, fps=10),
    }
    spec = ClipSpec(
        "test",
        (Piece("pan", 0.0, 1.0, other=1.5), Piece("stills", 0.2, 0.6, other=1.0)),
        "pan to stills",
    )
    clip = build_clip(spec, sources, folder / "out", SIZE, RATE)
    return spec, sources, clip


def truth_frames(path: Path) -> list:
    return list(decode(path))


def test_frames_cuts_and_timing(built):
    _, _, clip = built
    assert (clip.frames, clip.cuts, clip.size, clip.rate) == (16, [10], SIZE, RATE)
    assert [(shot.start, shot.end) for shot in clip.shots] == [(0, 10), (10, 16)]
    for path in (clip.truth, clip.grey):
        pictures = truth_frames(path)
        assert len(pictures) == 16
        assert [picture.seconds for picture in pictures] == pytest.approx(
            [index / 10 for index in range(16)]
        )
        assert pictures[0].y.shape == (72, 128)


def test_grey_is_the_truth_luma_with_neutral_chroma(built):
    _, _, clip = built
    for truth, grey in zip(truth_frames(clip.truth), truth_frames(clip.grey), strict=True):
        assert np.array_equal(truth.y, grey.y)
        assert (grey.u == 128).all() and (grey.v == 128).all()
        if truth.y.mean() > BLACK_LEVEL:  # the truth is in colour where it is not black
            assert np.abs(truth.u.astype(int) - 128).max() > 5


def test_streams_are_tagged_bt601_limited(built):
    _, _, clip = built
    for path in (clip.truth, clip.grey):
        info = probe(path)
        assert (info.colorspace, info.color_range) == (6, 1)
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "ffv1"


def test_keyframes_are_the_truth_frames_skipping_black(built):
    _, _, clip = built
    pictures = truth_frames(clip.truth)
    # The pan opens with two black frames; the stills do not.
    assert [shot.keyframe for shot in clip.shots] == [2, 10]
    assert pictures[1].y.mean() <= BLACK_LEVEL < pictures[2].y.mean()
    for shot, path in zip(clip.shots, clip.keyframes, strict=True):
        picture = pictures[shot.keyframe]
        assert np.array_equal(read_image(path), rgb_from_planes(picture.y, picture.u, picture.v))


def test_refs_files_map_each_shot_to_its_pictures(built):
    _, _, clip = built
    for refs, pictures in ((clip.keyframe_refs, clip.keyframes), (clip.any_refs, clip.others)):
        plan = load_refs(refs, clip.rate)
        for shot, picture in zip(clip.shots, pictures, strict=True):
            for index in range(shot.start, shot.end):
                assert plan.references_for(index, index / 10, clip.rate) == (picture.resolve(),)


def test_other_moment_is_no_truth_frame(built):
    _, _, clip = built
    truths = [rgb_from_planes(p.y, p.u, p.v).astype(int) for p in truth_frames(clip.truth)]
    for path in clip.others:
        other = read_image(path).astype(int)
        assert other.shape == (72, 128, 3)
        assert min(np.abs(other - truth).mean() for truth in truths) > 2


def test_rebuild_is_skipped_only_for_the_same_spec(built):
    spec, sources, clip = built
    assert built_clip(spec, sources, clip.folder.parent, SIZE, RATE) is not None
    assert built_clip(spec, sources, clip.folder.parent, (64, 36), RATE) is None
    assert built_clip(spec, sources, clip.folder.parent, SIZE, Fraction(20)) is None


def test_other_moment_inside_a_piece_is_refused(built, tmp_path):
    _, sources, _ = built
    spec = ClipSpec("bad", (Piece("pan", 0.0, 1.0, other=0.5),))
    with pytest.raises(ValueError, match="inside"):
        build_clip(spec, sources, tmp_path, SIZE, RATE)
    # Outside the piece in time, but the 10 fps source shows its 0.2 s frame at both moments.
    spec = ClipSpec("bad", (Piece("stills", 0.25, 0.4, other=0.21),))
    with pytest.raises(ValueError, match="same source frame"):
        build_clip(spec, sources, tmp_path, SIZE, RATE)


def test_photos_not_yet_made_are_one_line_that_says_how(tmp_path):
    with pytest.raises(SystemExit, match=r"no photos in .*val; `make photos`"):
        build_photos(tmp_path / "photos", tmp_path / "out")


def test_photo_reference_is_a_mirrored_80_percent_crop(tmp_path):
    write_photos(tmp_path / "photos" / "val", 3, size=(96, 128))
    photos = build_photos(tmp_path / "photos", tmp_path / "out", count=2)
    assert [photo.name for photo in photos] == ["photo000", "photo001"]
    for photo in photos:
        truth, reference = read_image(photo.truth), read_image(photo.reference)
        assert truth.shape == (256, 342, 3)
        x, y, width, height = photo.crop
        assert (width, height) == (round(342 * 0.8), round(256 * 0.8))
        assert reference.shape == (height, width, 3)
        assert np.array_equal(reference, truth[:, ::-1][y : y + height, x : x + width])
        assert not np.array_equal(reference, truth[y : y + height, x : x + width])
    again = build_photos(tmp_path / "photos", tmp_path / "again", count=2)
    assert [photo.crop for photo in again] == [photo.crop for photo in photos]
    source = cv2.imread(str(tmp_path / "photos" / "val" / "photo000.png"))
    assert source.shape[:2] == (96, 128)
