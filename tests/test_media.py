"""PyAV on real encoded files: probing and decoding keep every frame and its timestamp."""

from fractions import Fraction

import pytest

from remaster.errors import InputError
from remaster.media.video import decode, probe
from tests.media import write_clip, write_timecoded


@pytest.fixture(scope="module")
def ntsc_clip(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "ntsc.mp4", frames=24)


def test_probe_reads_rate_size_and_streams(ntsc_clip):
    info = probe(ntsc_clip)
    assert info.rate == Fraction(30000, 1001)
    assert (info.width, info.height) == (128, 96)
    assert info.frame_count == 24
    assert info.audio_streams == 1 and info.subtitle_streams == 0


def test_decode_keeps_every_frame_and_its_exact_timestamp(ntsc_clip):
    pictures = list(decode(ntsc_clip))
    assert [p.index for p in pictures] == list(range(24))
    # Exact 1001/30000 s steps: nothing was rounded to a whole frame rate.
    assert [p.pts * p.time_base for p in pictures] == [Fraction(1001 * i, 30000) for i in range(24)]
    first = pictures[0]
    assert first.y.shape == (96, 128) and first.u.shape == first.v.shape == (48, 64)
    assert first.y.std() > 5  # a real picture


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\0" * 1000)
    with pytest.raises(InputError, match="junk.mp4: cannot be opened as a video"):
        probe(junk)


def test_a_film_without_sound_probes(tmp_path):
    silent = write_clip(tmp_path / "silent.mp4", frames=2, audio=False)
    assert probe(silent).audio_streams == 0


@pytest.mark.parametrize(
    ("name", "rate", "timecode", "on"),
    [
        ("a.mov", 24, "01:00:00:00", "stream"),  # a tmcd track, as cameras and editors write
        ("b.mov", Fraction(30000, 1001), "00:59:59;28", "container"),  # drop-frame
        ("c.mov", Fraction(60000, 1001), "10:00:00:00", "stream"),
        ("d.mxf", 25, "09:59:50:00", "container"),  # MXF keeps it on the file
    ],
)
def test_probe_reads_the_files_start_timecode(tmp_path, name, rate, timecode, on):
    info = probe(write_timecoded(tmp_path / name, rate, timecode, on=on))
    assert info.start_timecode == timecode
    assert info.rate == rate


def test_a_file_without_a_timecode_has_none(ntsc_clip):
    assert probe(ntsc_clip).start_timecode is None
