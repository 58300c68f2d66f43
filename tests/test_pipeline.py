"""The film pipeline on real encoded clips: timing, sound, luminance, embeddings, resume."""

import dataclasses
import re
import subprocess
import threading
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

from model.colorizer import Colorizer
from remaster.errors import OutputError
from remaster.media.images import write_image
from remaster.media.video import SegmentWriter, decode, probe
from remaster.run.film import FilmOptions, batch_for, colorize_film
from remaster.run.journal import work_folder
from tests.helpers import decoded_planes as planes
from tests.helpers import film_command, kill_after_segment
from tests.media import (
    add_subtitles,
    grey_of,
    panning_frames,
    photo_like,
    write_clip,
    write_frames,
    write_video,
)

FRAMES = 24


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A 30000/1001 fps clip with sound, two shots, and a refs file with a two-image entry."""
    folder = tmp_path_factory.mktemp("film")
    write_clip(folder / "reel.mp4", frames=FRAMES, shots=2)
    for name, seed in (("warm", 1), ("cool", 2), ("green", 3)):
        write_image(folder / f"{name}.png", photo_like(64, 80, seed))
    (folder / "shots.yaml").write_text(
        "shots:\n"
        "  - start: 0\n    ref: warm.png\n"
        '  - start: "00:00:00:12"\n    ref: [cool.png, green.png]\n'
        "  - start: 0.7s\n    ref: warm.png\n"
    )
    return folder


def run_film(film, output, weights, **settings):
    colorizer = Colorizer.from_checkpoint(weights, device="cpu")
    colorizer.encoder_calls = 0

    def count(module, args, output):
        colorizer.encoder_calls += 1

    colorizer.network.color_encoder.register_forward_hook(count)
    options = FilmOptions(
        source=film / "reel.mp4",
        output=output,
        refs=film / "shots.yaml",
        weights=weights,
        device="cpu",
        quiet=True,
        **settings,
    )
    return colorize_film(options, colorizer), colorizer


def audio_packets(path):
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def duration(path):
    with av.open(str(path)) as container:
        return container.duration / 1e6


def x264_settings(path) -> bytes:
    """The settings x264 writes into the stream it encodes."""
    found = re.search(rb"x264 - core .*? options: ([^\x00]*)", path.read_bytes())
    assert found is not None
    return found.group(1)


def test_timing_sound_and_luminance_survive(film, tmp_path, tiny_checkpoint):
    output = tmp_path / "colour.mp4"
    summary, colorizer = run_film(film, output, tiny_checkpoint, segment_frames=10, batch_size=3)
    assert summary.frames == FRAMES and summary.shots == 3 and summary.references == 2
    # One colour-encoder call per distinct reference set (the pair goes through as one batch),
    # however many frames and entries use it.
    assert colorizer.encoder_calls == 2 and colorizer.embed_calls == 2
    source, result = list(decode(film / "reel.mp4")), list(decode(output))
    assert len(result) == len(source) == FRAMES
    assert [p.pts * p.time_base for p in result] == [p.pts * p.time_base for p in source]
    assert probe(output).rate == Fraction(30000, 1001)
    assert audio_packets(output) == audio_packets(film / "reel.mp4")
    assert abs(duration(output) - duration(film / "reel.mp4")) <= 1001 / 30000
    error = np.mean(
        [
            np.mean((a.y.astype(float) - b.y.astype(float)) ** 2)
            for a, b in zip(source, result, strict=True)
        ]
    )
    assert 10 * np.log10(255**2 / error) > 40  # luma kept, within H.264's error
    assert max(np.abs(p.u.astype(int) - 128).mean() for p in result) > 2  # and it has colour
    assert not work_folder(output).exists()
    # Coloured on the CPU: x264 in slices, beside the model (one thread where the frame is too
    # small to slice); frame threads would be 1.5 a core.
    settings = x264_settings(output)
    assert b" sliced_threads=1 " in settings or b" threads=1 " in settings


def test_lossless_ffv1_keeps_luma_exactly_and_prores_encodes(film, tmp_path, tiny_checkpoint):
    output = tmp_path / "colour.mkv"
    run_film(film, output, tiny_checkpoint, codec="ffv1")
    source, result = list(decode(film / "reel.mp4")), list(decode(output))
    assert all(np.array_equal(a.y, b.y) for a, b in zip(source, result, strict=True))
    # Matroska cannot start below zero, so it shifts every stream alike (the AAC priming).
    steps = np.diff([float(p.pts * p.time_base) for p in result])
    assert np.allclose(steps, 1001 / 30000, atol=1e-3)
    prores = tmp_path / "colour.mov"
    run_film(film, prores, tiny_checkpoint, codec="prores")
    with av.open(str(prores)) as container:
        assert container.streams.video[0].codec_context.name == "prores"
    assert len(list(decode(prores))) == FRAMES


def test_x264_threads_follow_where_the_colour_is_computed(tmp_path):
    """Frame threads where the cores are the encoder's (the colour on a GPU), slices beside the
    model on the CPU (remaster/media/codecs.py). x264 makes one slice per core: on one core
    there is nothing to slice."""
    source = write_video(tmp_path / "source.mp4", frames=4, size=(240, 320))
    for shares_cores in (False, True):
        path = tmp_path / f"segment-{shares_cores}.mp4"
        writer = SegmentWriter(path, probe(source), "h264", shares_cores=shares_cores)
        for picture in decode(source):
            writer.write(picture)
        writer.close()
        settings = x264_settings(path)
        sliced = shares_cores and b" threads=1 " not in settings
        assert f" sliced_threads={int(sliced)} ".encode() in settings


def test_a_film_without_sound(tmp_path, tiny_checkpoint):
    write_clip(tmp_path / "silent.mp4", frames=6, audio=False, shots=1)
    write_image(tmp_path / "ref.png", photo_like(64, 64, 0))
    options = FilmOptions(
        source=tmp_path / "silent.mp4",
        output=tmp_path / "out.mp4",
        ref=tmp_path / "ref.png",
        weights=tiny_checkpoint,
        device="cpu",
        quiet=True,
    )
    assert colorize_film(options).frames == 6
    assert len(list(decode(tmp_path / "out.mp4"))) == 6


def test_a_writer_that_fails_leaves_no_thread_running(film, tmp_path, tiny_checkpoint, monkeypatch):
    """Decoding and colouring run on in their threads unless stopped: at the interpreter's exit
    they ended the process in an abort, where the error should have been its last word."""
    write = SegmentWriter.write

    def fail_on_the_second_frame(self, picture):
        if self.frames:
            raise RuntimeError("the encoder failed")
        write(self, picture)

    monkeypatch.setattr(SegmentWriter, "write", fail_on_the_second_frame)
    with pytest.raises(RuntimeError, match="the encoder failed") as failure:
        run_film(film, tmp_path / "out.mp4", tiny_checkpoint)
    assert failure.value is not None  # the traceback is held, as an interpreter exiting holds it
    running = [t.name for t in threading.enumerate() if t.name.startswith("remaster-")]
    assert running == []


def test_output_equal_to_input_is_refused(film, tiny_checkpoint):
    before = (film / "reel.mp4").read_bytes()
    with pytest.raises(OutputError, match="is the input"):
        run_film(film, film / "reel.mp4", tiny_checkpoint)
    assert (film / "reel.mp4").read_bytes() == before


def kill_and_resume(command, output, after_segment: int) -> subprocess.CompletedProcess:
    """Run `command`, kill -9 it once segment `after_segment` is journaled, then resume."""
    kill_after_segment(command, output, after_segment)
    result = subprocess.run([*command, "--resume"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "segments resumed" in result.stdout
    return result


def test_resume_after_kill_9_equals_an_uninterrupted_run(film, tmp_path, tiny_checkpoint):
    straight = tmp_path / "straight.mp4"
    run_film(film, straight, tiny_checkpoint, segment_frames=6, batch_size=2)
    output = tmp_path / "resumed.mp4"
    command = film_command(
        film / "reel.mp4", film / "shots.yaml", output, tiny_checkpoint,
        "--segment-frames", "6", "--batch-size", "2",
    )  # fmt: skip
    kill_and_resume(command, output, after_segment=1)
    assert planes(output) == planes(straight)


def test_resume_inside_a_shot_carries_propagation_and_stabilisation_over(tmp_path, tiny_checkpoint):
    """A pan coloured from a keyframe in its middle, interrupted mid-shot: the resumed run
    rebuilds the chained flow and the stabilised colour from the warm-up frames before its
    first segment, as the uninterrupted run did there, so their frames are equal."""
    frames = panning_frames(20, size=(72, 96), seed=5, step=2)
    write_frames(tmp_path / "pan.mkv", [grey_of(frame) for frame in frames], codec="ffv1")
    write_image(tmp_path / "key.png", frames[6])
    refs = tmp_path / "shots.yaml"
    refs.write_text("shots:\n  - start: 0\n    ref: key.png\n    keyframe: 6\n")
    # Lossless, so the frames compared are the colour itself (x264 need not encode the same
    # pictures to the same bytes twice).
    settings = ("--segment-frames", "5", "--batch-size", "2", "--codec", "ffv1")
    straight = tmp_path / "straight.mkv"
    command = film_command(tmp_path / "pan.mkv", refs, straight, tiny_checkpoint, *settings)
    subprocess.run(command, check=True, capture_output=True)
    output = tmp_path / "resumed.mkv"
    command = film_command(tmp_path / "pan.mkv", refs, output, tiny_checkpoint, *settings)
    kill_and_resume(command, output, after_segment=1)
    assert planes(output) == planes(straight)


def subtitle_packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.subtitles[0]
        return [(bytes(p), p.pts * p.time_base) for p in container.demux(stream) if p.size]


def test_subtitles_are_copied_where_the_container_takes_them(tmp_path, tiny_checkpoint):
    clip = write_clip(tmp_path / "clip.mkv", frames=12, shots=1)
    srt = "1\n00:00:00,100 --> 00:00:00,300\nHello\n\n2\n00:00:00,300 --> 00:00:00,390\nAgain\n"
    source = add_subtitles(clip, srt, tmp_path / "subtitled.mkv")
    write_image(tmp_path / "ref.png", photo_like(64, 64, 0))
    common = dict(ref=tmp_path / "ref.png", weights=tiny_checkpoint, device="cpu", quiet=True)
    colorize_film(FilmOptions(source=source, output=tmp_path / "out.mkv", **common))
    assert subtitle_packets(tmp_path / "out.mkv") == subtitle_packets(source)
    assert [text for text, _ in subtitle_packets(source)] == [b"Hello", b"Again"]
    # MP4 cannot hold SRT: the run says so instead of failing or dropping it silently.
    summary = colorize_film(FilmOptions(source=source, output=tmp_path / "out.mp4", **common))
    assert any("srt" in note and "left out" in note for note in summary.notes)


def test_an_unplaced_keyframe_is_found_and_adaptation_is_reported(tmp_path, tiny_checkpoint):
    """The reference is frame 4 of a pan, with no `keyframe:`: the run says it found it there.
    With --adapt, each reference set's fine-tuning is reported with its time and loss."""
    frames = panning_frames(8, size=(72, 96), seed=6, step=2)
    write_frames(tmp_path / "pan.mkv", [grey_of(frame) for frame in frames], codec="ffv1")
    write_image(tmp_path / "key.png", frames[4])
    refs = tmp_path / "shots.yaml"
    refs.write_text("shots:\n  - start: 0\n    ref: key.png\n")
    command = film_command(tmp_path / "pan.mkv", refs, tmp_path / "out.mkv", tiny_checkpoint)
    result = subprocess.run([*command, "--adapt", "2"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{refs}, line 2: key.png matches frame 4" in result.stderr
    assert "adapted to reference set 1: 2 steps in" in result.stderr
    assert "8 propagate" in result.stdout


@pytest.mark.parametrize(
    ("device", "width", "height", "working", "frames"),
    [
        ("cpu", 640, 360, 256, 4),  # measured to pay on a CPU
        ("cpu", 854, 480, 256, 2),
        ("cpu", 1920, 1080, 256, 1),
        ("cuda", 1920, 1080, 256, 4),  # measured to pay on the GPU machine
        ("cuda", 3840, 2160, 256, 1),
        ("cuda", 7680, 4320, 256, 1),  # never none
        ("cpu", 160, 120, 256, 4),  # never more than 4
        ("cpu", 640, 360, 360, 4),  # the film's own size
        ("cpu", 640, 360, 1024, 1),  # a working size above the film's counts, not the film's
        ("cuda", 1280, 720, 2048, 1),
    ],
)
def test_a_batch_holds_fewer_frames_of_a_larger_picture(
    device, width, height, working, frames, film
):
    info = dataclasses.replace(probe(film / "reel.mp4"), width=width, height=height)
    options = FilmOptions(source=film / "reel.mp4", output=film / "out.mp4")
    assert batch_for(options, info, torch.device(device), working) == frames
    options.batch_size = 3  # asked for
    assert batch_for(options, info, torch.device(device), working) == 3
