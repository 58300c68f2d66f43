"""Bad input, faults and long runs, each with a real file made here and run as `remaster`.

Every refused case ends alike: exit status 1, one line on stderr naming the file (and frame)
and what to do, no traceback unless --debug (which shows it), nothing under the output's name.
Cases run in-process through the command's own `main()` to keep the battery fast; the 8K case
runs in a child process, to measure its memory.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from model.errors import CheckpointError
from remaster.commands import cli
from remaster.errors import RemasterError
from remaster.media.images import write_image
from tests.helpers import run_remaster
from tests.media import photo_like, write_clip, write_deep_video, write_tone

SIZE = (48, 64)  # height, width


@dataclass
class Run:
    code: int
    out: str
    err: str


def remaster(monkeypatch, capsys, *args) -> Run:
    """`remaster ARGS` through the command's entry point, as the installed script runs it."""
    monkeypatch.setattr(sys, "argv", ["remaster", *map(str, args)])
    capsys.readouterr()
    try:
        cli.main()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return Run(code, captured.out, captured.err)


def encode(
    path: Path,
    frames: int = 6,
    size: tuple[int, int] = SIZE,
    codec: str = "libx264",
    rate: int = 10,
    options: dict | None = None,
    pts: list[int] | None = None,
    rotation: int = 0,
    container_options: dict | None = None,
) -> Path:
    """A real video of photo-like frames, with explicit timestamps (`pts`, in 1/rate units)."""
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = size
        stream.pix_fmt = "yuv420p"
        stream.options = options or {}
        if rotation:
            stream.set_display_rotation(rotation)
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(photo_like(*size, seed=index), format="rgb24")
            frame.pts = index if pts is None else pts[index]
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def timestamps(path: Path) -> list[Fraction]:
    """Each frame's presentation time in seconds, as decoded."""
    with av.open(str(path)) as container:
        return sorted(frame.pts * frame.time_base for frame in container.decode(video=0))


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("refs") / "ref.png"
    write_image(path, photo_like(64, 64, 0))
    return path


@pytest.fixture
def job(monkeypatch, capsys, ref, tiny_checkpoint, tmp_path):
    """Run `remaster SOURCE --ref REF -o OUT` with the tiny network, quietly."""

    def run(source, *extra, output=None, debug=False):
        output = output or tmp_path / "out.mp4"
        args = [source, "--ref", ref, "-o", output, "--weights", tiny_checkpoint]
        args += ["--method", "embed", "--working-size", "64", "-q", *extra]
        return remaster(monkeypatch, capsys, *(["--debug"] if debug else []), *args)

    return run


def refused(job, source, *fragments, extra=(), output=None, exceptions=RemasterError) -> str:
    """Assert the one-line refusal (and the traceback under --debug); return the line."""
    result = job(source, *extra, output=output)
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    with pytest.raises(exceptions):
        job(source, *extra, output=output, debug=True)
    return lines[0]


def written(path: Path) -> bool:
    """Whether anything sits under the output's name (its partial name is not its name)."""
    return path.exists()


# --- the video --------------------------------------------------------------------------


def test_a_missing_file(job, tmp_path):
    refused(job, tmp_path / "gone.mp4", "gone.mp4", "no such file")
    assert not written(tmp_path / "out.mp4")


@pytest.mark.parametrize("kind", ["text", "png"])
def test_a_file_that_is_not_a_video(job, tmp_path, kind):
    source = tmp_path / "film.mp4"
    if kind == "text":
        source.write_text("shots:\n  - start: 0\n")
        fragments = ["film.mp4", "cannot be opened as a video"]
    else:
        write_image(tmp_path / "still.png", photo_like(48, 64, 1))
        (tmp_path / "still.png").rename(source)
        fragments = ["film.mp4", "is a still image", "remaster image"]
    refused(job, source, *fragments)
    assert not written(tmp_path / "out.mp4")


@pytest.mark.parametrize(
    ("suffix", "announced"),
    [(".mkv", "2.40 s"), (".mp4", "24 frames")],  # Matroska has a duration, MP4 a count
)
def test_a_file_cut_short_is_refused_unless_accepted(job, tmp_path, suffix, announced):
    whole = encode(
        tmp_path / f"whole{suffix}", frames=24, container_options={"movflags": "faststart"}
    )
    source = tmp_path / f"cut{suffix}"
    source.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    line = refused(job, source, f"cut{suffix}", "cut short", "--accept-short", announced)
    assert not written(tmp_path / "out.mp4")
    # The frames before the cut were done and kept: accepting the short file finishes them.
    result = job(source, "--resume", "--accept-short")
    assert result.code == 0, result.err
    decoded = int(line.split("ends after ")[1].split()[0])
    assert 0 < decoded < 24
    assert len(timestamps(tmp_path / "out.mp4")) == decoded
    assert "header announces" in result.err


@pytest.fixture(params=["mpeg4", "libx264"])
def damaged(tmp_path, request) -> Path:
    """24 frames of MPEG-4 Part 2 (no B-frames) or H.264 (B-frames: decode order differs)
    with the packet of frame 12 overwritten by zeros (one keyframe, so the frames after it
    still decode, from a damaged reference)."""
    source = encode(tmp_path / "damaged.mp4", frames=24, codec=request.param, options={"g": "100"})
    with av.open(str(source)) as container:
        packet = next(p for p in container.demux(video=0) if p.pts == 12 * 1024)
        position, size = packet.pos, packet.size
    data = bytearray(source.read_bytes())
    data[position : position + size] = bytes(size)
    source.write_bytes(bytes(data))
    return source


def test_a_damaged_frame_stops_by_default_naming_it(job, damaged, tmp_path):
    refused(job, damaged, "damaged.mp4", "frame 12 cannot be decoded", "--on-decode-error")
    assert not written(tmp_path / "out.mp4")


def test_a_damaged_frame_repeated_keeps_count_and_timing(job, damaged, tmp_path):
    result = job(damaged, "--on-decode-error", "repeat")
    assert result.code == 0, result.err
    assert "1 frames could not be decoded (12); repeated the frame before" in result.err
    assert timestamps(tmp_path / "out.mp4") == [Fraction(i, 10) for i in range(24)]


def test_a_damaged_frame_skipped_leaves_the_others_in_place(job, damaged, tmp_path):
    result = job(damaged, "--on-decode-error", "skip")
    assert result.code == 0, result.err
    assert "(12); skipped" in result.err
    assert timestamps(tmp_path / "out.mp4") == [Fraction(i, 10) for i in range(24) if i != 12]


def test_damage_past_the_limit_stops_naming_the_frame(job, damaged, tmp_path):
    refused(
        job,
        damaged,
        "frame 12 cannot be decoded",
        "--max-decode-errors 0",
        extra=("--on-decode-error", "repeat", "--max-decode-errors", "0"),
    )
    assert not written(tmp_path / "out.mp4")


def test_a_file_without_video(job, tmp_path):
    refused(job, write_tone(tmp_path / "sound.wav", 0.5), "sound.wav", "has no video stream")


def test_a_video_without_frames(job, tmp_path):
    source = tmp_path / "empty.mkv"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("ffv1", rate=10)
        stream.height, stream.width = SIZE
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
    refused(job, source, "empty.mkv", "ends before its first video frame", "check it is")
    assert not written(tmp_path / "out.mp4")


def test_an_odd_size_is_refused_before_work(job, tmp_path):
    source = encode(tmp_path / "odd.mp4", size=(47, 63), codec="mpeg4")
    refused(job, source, "odd.mp4", "63x47", "odd side", "crop or pad")
    assert not written(tmp_path / "out.mp4")


def test_a_film_too_small_to_follow_is_refused_before_work(job, tmp_path):
    source = encode(tmp_path / "tiny.mkv", size=(10, 10), codec="ffv1")
    refused(job, source, "tiny.mkv", "10x10", "too small", "at least 12 pixels")
    assert not written(tmp_path / "out.mp4")


def test_ten_bit_four_two_two_goes_through(job, tmp_path):
    source = write_deep_video(tmp_path / "deep.mov", "prores_ks", "yuv422p10le", frames=3)
    output = tmp_path / "out.mkv"
    result = job(source, "--codec", "ffv1", output=output)
    assert result.code == 0, result.err
    with av.open(str(output)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p10le"
    assert len(timestamps(output)) == 3


def test_a_rotated_phone_video_keeps_its_turn(job, tmp_path):
    source = encode(tmp_path / "phone.mp4", rotation=90)
    result = job(source)
    assert result.code == 0, result.err
    assert "turned 90 degrees" in result.err
    with av.open(str(tmp_path / "out.mp4")) as container:
        frame = next(container.decode(video=0))
    # Stored as the source stores it, shown as the source is shown.
    assert (frame.height, frame.width, frame.rotation) == (*SIZE, 90)


def interlaced(tmp_path) -> Path:
    return encode(
        tmp_path / "tv.mp4",
        frames=8,
        options={"flags": "+ildct+ilme", "x264-params": "interlaced=1:tff=1"},
    )


def test_interlaced_footage_is_warned_about(job, tmp_path):
    result = job(interlaced(tmp_path))
    assert result.code == 0, result.err
    assert "is interlaced (field order tt)" in result.err and "--deinterlace" in result.err


def test_interlaced_footage_deinterlaced_keeps_count_and_timing(job, tmp_path):
    source = interlaced(tmp_path)
    plain, smooth = tmp_path / "plain.mkv", tmp_path / "smooth.mkv"
    assert job(source, "--codec", "ffv1", output=plain).code == 0
    result = job(source, "--codec", "ffv1", "--deinterlace", output=smooth)
    assert result.code == 0, result.err
    assert "deinterlaced (bwdif" in result.err
    assert timestamps(smooth) == timestamps(source) == [Fraction(i, 10) for i in range(8)]
    # Deinterlacing changed the luma (combing smoothed); without it the luma is the input's.
    with av.open(str(plain)) as a, av.open(str(smooth)) as b:
        first_plain = next(a.decode(video=0)).to_ndarray(format="gray")
        first_smooth = next(b.decode(video=0)).to_ndarray(format="gray")
    assert not np.array_equal(first_plain, first_smooth)


def test_variable_frame_rate_keeps_every_timestamp(job, tmp_path):
    pts = [0, 1, 3, 4, 8, 9, 15]
    source = encode(tmp_path / "vfr.mkv", frames=len(pts), pts=pts)
    result = job(source, output=tmp_path / "out.mkv")
    assert result.code == 0, result.err
    assert timestamps(tmp_path / "out.mkv") == [Fraction(p, 10) for p in pts]


def test_an_8k_frame_runs_in_bounded_memory(tmp_path, ref, tiny_checkpoint):
    source = encode(
        tmp_path / "8k.mp4", frames=2, size=(4320, 7680), options={"preset": "ultrafast"}
    )
    output = tmp_path / "out.mp4"
    child = (
        "import sys\n"
        "from remaster.commands import cli\n"
        "import remaster.run.film, model.colorizer\n"
        "from remaster.run.malloc import peak_resident_bytes\n"
        "before = peak_resident_bytes()\n"
        "sys.argv = ['remaster', *sys.argv[1:]]\n"
        "try:\n"
        "    cli.main()\n"
        "finally:\n"
        "    print('growth', peak_resident_bytes() - before)\n"
    )
    args = [source, "--ref", ref, "-o", output, "--weights", tiny_checkpoint]
    args += ["--method", "embed", "--working-size", "64", "--preset", "ultrafast", "-q"]
    result = subprocess.run(
        [sys.executable, "-c", child, *map(str, args)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    growth = int(result.stdout.split("growth")[1])
    # An 8K frame is 50 MB as 4:2:0 planes and 400 MB as float Lab; its colour is made a
    # frame at a time (2.5 GiB measured here; 3.4 with both frames in one batch, before
    # batch_for bounded a batch's pixels; 2.9 before the conversion went in bands), and a
    # leak, an unbounded queue of frames or a batch of 8K frames would pass the bound. The
    # child's own peak: see peak_resident_bytes.
    assert growth < 3 * 2**30, growth / 2**30
    assert len(timestamps(output)) == 2


# --- the output and the machine ---------------------------------------------------------


@pytest.fixture
def clip(tmp_path) -> Path:
    return encode(tmp_path / "clip.mp4", frames=4)


def test_an_output_folder_that_does_not_exist(job, clip, tmp_path):
    output = tmp_path / "nowhere" / "out.mp4"
    refused(job, clip, "nowhere", "does not exist", output=output)
    assert not written(output)


def test_an_output_folder_that_is_a_file(job, clip, tmp_path):
    (tmp_path / "notes.txt").write_text("")
    output = tmp_path / "notes.txt" / "out.mp4"
    refused(job, clip, "notes.txt", "is a file, not a folder", output=output)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_output_folder_that_is_not_writable(job, clip, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        refused(job, clip, "locked", "not writable", output=folder / "out.mp4")
        assert not written(folder / "out.mp4")
    finally:
        folder.chmod(0o700)


def test_the_output_is_the_input(job, clip):
    before = clip.read_bytes()
    refused(job, clip, "clip.mp4", "is the input", output=clip)
    assert clip.read_bytes() == before


def test_a_full_disk_while_encoding(job, clip, tmp_path, monkeypatch):
    from remaster.media.video import SegmentWriter

    write = SegmentWriter.write

    def fill_up(self, picture):
        # The disk fills after the first frame: a real write, then the error FFmpeg reports.
        if self.frames:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        write(self, picture)

    monkeypatch.setattr(SegmentWriter, "write", fill_up)
    refused(job, clip, "out.mp4", "disk is full", "free space", "--resume")
    assert not written(tmp_path / "out.mp4")


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "version"])
def test_a_weights_file_that_cannot_be_used(
    monkeypatch, capsys, clip, ref, tiny_checkpoint, tmp_path, damage
):
    weights = tmp_path / "weights.safetensors"
    data = tiny_checkpoint.read_bytes()
    if damage == "corrupt":
        weights.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8)))
        fragment = "not a readable safetensors file"
    elif damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
        fragment = "not a readable safetensors file"
    else:
        from safetensors import safe_open

        with safe_open(str(tiny_checkpoint), "pt") as handle:
            metadata = {**handle.metadata(), "format_version": "99"}
        save_file(load_file(str(tiny_checkpoint)), str(weights), metadata=metadata)
        fragment = "format version '99'"
    output = tmp_path / "out.mp4"
    args = [clip, "--ref", ref, "-o", output, "--weights", weights, "--working-size", "64", "-q"]
    result = remaster(monkeypatch, capsys, *args)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "weights.safetensors" in lines[0] and fragment in lines[0]
    assert "--weights" in lines[0]  # what to do
    with pytest.raises(CheckpointError):
        remaster(monkeypatch, capsys, "--debug", *args)
    assert not written(output)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is here")
def test_cuda_asked_for_where_there_is_none(job, clip, tmp_path):
    refused(job, clip, "--device cuda", "no CUDA GPU", "--device cpu", extra=("--device", "cuda"))
    assert not written(tmp_path / "out.mp4")


def run_on_a_short_clip(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    """`remaster` in a process of its own on a 4-frame clip it writes, to tmp_path/out.mp4."""
    write_clip(tmp_path / "reel.mp4", frames=4, rate=Fraction(24), audio=False)
    write_image(tmp_path / "ref.png", photo_like(48, 64, 0))
    reference, output = tmp_path / "ref.png", tmp_path / "out.mp4"
    return run_remaster(tmp_path / "reel.mp4", "--ref", reference, "-o", output, *options)


def test_a_misspelt_preset_is_refused_before_any_work(tmp_path):
    # FFmpeg checks x264's preset only when the encoder opens, after the first batch is
    # coloured: the run ended there in a traceback and an abort, its work folder left behind.
    result = run_on_a_short_clip(tmp_path, "--preset", "veryfst")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "'--preset'" in error and "'veryfst'" in error and "'veryfast'" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reel.mp4", "ref.png"]


def test_the_presets_offered_are_x264s():
    from remaster.media.codecs import X264_PRESETS

    def opens(preset: str) -> bool:
        context = av.CodecContext.create("libx264", "w")
        context.width, context.height, context.pix_fmt = 64, 48, "yuv420p"
        context.time_base = Fraction(1, 24)
        context.options = {"preset": preset}
        try:
            context.open()
        except av.FFmpegError:
            return False
        return True

    assert all(opens(preset) for preset in X264_PRESETS)
    assert not opens("veryfst")


def test_an_nvenc_codec_without_an_nvidia_gpu_is_one_line_before_any_work(tmp_path):
    from remaster.media.video import nvenc_available

    if nvenc_available("h264-nvenc"):
        pytest.skip("this machine has NVIDIA's encoder")
    result = run_on_a_short_clip(tmp_path, "--codec", "h264-nvenc")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--codec h264-nvenc: NVIDIA's encoder cannot be opened" in lines[0]
    assert not (tmp_path / "out.mp4").exists()
