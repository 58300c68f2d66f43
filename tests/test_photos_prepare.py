"""training_data.prepare: naming, the split and the output; no network, apt or packages."""

from __future__ import annotations

import json

import cv2

from tests.test_photos_dedupe import as_photo, bgr_photo
from training_data.photo import Photo
from training_data.prepare import Report, gcompris_photo_name, sanitise, split_of, write_output


def test_split_is_stable_and_about_val_percent():
    names = [f"es-photo{i}.jpg" for i in range(1000)]
    splits = [split_of(name, 10) for name in names]
    assert splits == [split_of(name, 10) for name in names]
    assert 70 <= splits.count("val") <= 130
    assert {split_of(name, 0) for name in names} == {"train"}
    assert {split_of(name, 100) for name in names} == {"val"}
    # raising the share only moves photos from train to val, never back
    assert all(split_of(n, 20) == "val" for n, s in zip(names, splits, strict=True) if s == "val")


def test_names_are_sanitised():
    assert sanitise("es-Fields5.jpg") == "es-fields5.jpg"
    assert sanitise("gc-details-Caf\u00e9 (1)/x.WEBP") == "gc-details-caf-1-x.webp"
    assert gcompris_photo_name("erase", "gcompris/src/activities/erase/resource/gorilla.webp") == (
        "gc-erase-gorilla.webp"
    )
    assert (
        gcompris_photo_name(
            "categorization",
            "gcompris/src/activities/categorization/resource/images/fishes/fish1.webp",
        )
        == "gc-categorization-fishes-fish1.webp"
    )


# ---------------------------------------------------------------------------------------------
# Output


def encoded_photo(name: str, seed: int) -> Photo:
    image = bgr_photo(60, 80, seed)
    photo = as_photo(name, image)
    photo.data = cv2.imencode(".png", image)[1].tobytes()
    return photo


def test_output_is_idempotent_and_cleans_up_only_its_own_files(tmp_path, capsys):
    photos = [encoded_photo(f"es-photo{i}.png", seed=i) for i in range(12)]
    write_output(tmp_path, photos, 50, Report())
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {e["file"] for e in manifest["photos"]} == {
        f"{split_of(p.name, 50)}/{p.name}" for p in photos
    }
    assert sum(manifest["summary"]["per_split"].values()) == 12
    for entry in manifest["photos"]:
        photo = next(p for p in photos if entry["file"].endswith(p.name))
        assert (tmp_path / entry["file"]).read_bytes() == photo.data  # bytes unchanged
    (tmp_path / "train" / "mine.txt").write_text("not the script's")

    capsys.readouterr()
    write_output(tmp_path, photos, 50, Report())
    assert "wrote 0 new or changed files" in capsys.readouterr().out

    write_output(tmp_path, photos, 0, Report())  # everything moves to train/
    assert sorted(p.name for p in (tmp_path / "val").iterdir()) == []
    assert len(list((tmp_path / "train").glob("*.png"))) == 12
    assert (tmp_path / "train" / "mine.txt").exists()
