"""benchmarks/quality.py end to end, on real encoded clips and photos the test makes itself:
every method on every workflow, scored by remaster eval's code, and the table of docs/quality.md."""

from __future__ import annotations

from fractions import Fraction

import pytest

from benchmarks import quality
from benchmarks.material import ClipSpec, Material, Piece, build_clip, build_photos
from tests.media import panning_frames, write_frames, write_photos


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    sources = {
        "left": write_frames(folder / "left.mp4", panning_frames(20, (72, 128), seed=4, step=3)),
        "right": write_frames(folder / "right.mp4", panning_frames(20, (72, 128), seed=5)),
    }
    spec = ClipSpec(
        "pans", (Piece("left", 0.0, 1.0, other=1.8), Piece("right", 0.0, 1.0, other=1.8))
    )
    clip = build_clip(spec, sources, folder / "clips", (128, 72), Fraction(10))
    write_photos(folder / "photos" / "val", 2, size=(72, 96))
    photos = build_photos(folder / "photos", folder / "bench-photos", 2)
    return quality.run(Material(folder, [clip], photos, 0.0, {}, 0.0), weights=None)


@pytest.fixture(scope="module")
def rows(run):
    return run[0]


def test_every_method_on_every_workflow(rows):
    seen = {(row.material, row.workflow, row.method) for row in rows}
    methods = quality.method_names(quality.REMASTER_METHODS)
    expected = {("pans", w, m) for w in quality.WORKFLOWS for m in methods}
    photos = {("photos", w, m) for w in ("any", "other") for m in methods}
    assert seen == expected | photos
    for row in rows:
        numbers = row.numbers()
        assert numbers["fps"] > 0 and numbers["lpips"] >= 0
        assert ("cdc" in numbers) == (row.material != "photos")


def test_baselines_behave_as_their_definitions_say(rows):
    keyframe = {
        r.method: r.numbers() for r in rows if r.material == "pans" and r.workflow == "keyframe"
    }
    # A keyframe carried along the flow of a slow pan is nearly the truth; grey is far from it.
    assert keyframe["flow"]["ciede2000"] < 0.5 * keyframe["mean"]["ciede2000"]
    assert keyframe["flow"]["ciede2000"] < keyframe["copy"]["ciede2000"]
    assert keyframe["grey"]["ciede2000"] > keyframe["flow"]["ciede2000"] + 3
    # One colour per shot does not move: its CDC is no larger than the truth's own.
    assert keyframe["mean"]["cdc"] <= keyframe["mean"]["truth_cdc"] + 1e-3


def test_markdown_table_goes_between_the_quality_page_markers(rows, tmp_path):
    table = quality.markdown(rows, "make quality", 60.0)
    for method in quality.method_names(quality.REMASTER_METHODS):
        assert f"| {method} |" in table
    assert "keyframe, clips" in table and "pans (truth CDC" in table
    page = tmp_path / "quality.md"
    page.write_text(f"before\n{quality.TABLE_START}\nold\n{quality.TABLE_END}\nafter\n")
    quality.update_table(page, table)
    text = page.read_text()
    assert text.startswith("before\n") and text.endswith(f"{quality.TABLE_END}\nafter\n")
    assert "old" not in text and table in text


def test_the_strip_shows_grey_flow_remaster_and_truth_of_one_frame(run):
    _, samples = run
    assert set(samples["pans"]) >= set(quality.STRIP)
    strip = quality.strip_picture(samples)
    assert strip.shape == (quality.STRIP_HEIGHT, 4 * round(128 * quality.STRIP_HEIGHT / 72), 3)
    # The grey cell has no colour; the truth's has.
    width = strip.shape[1] // 4
    grey, truth = strip[30:, :width].astype(int), strip[30:, 3 * width :].astype(int)
    assert abs(grey[..., 0] - grey[..., 2]).mean() < 2 < abs(truth[..., 0] - truth[..., 2]).mean()
