"""Where colour comes from (--method), with the shipped weights and the real ImageNet VGG-16."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import model.colorizer
from model.color import rgb_to_lab
from model.colorizer import Colorizer
from remaster.color.predictor import ColorPredictor
from remaster.run.weights import resolve_weights
from tests.media import panning_frames, photo_like

BEFORE = Path(__file__).parent / "data" / "embed-before.npy"


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer.from_checkpoint(resolve_weights(None), "cpu")


def lab_of(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)


def test_embed_is_unchanged_from_before_the_methods_existed(monkeypatch):
    """tests/data/embed-before.npy is what `Colorizer.colorize` returned for this input before
    the stages were split into methods; `--method embed` must still give exactly that. In
    float32, as then: on a CPU with AMX the network runs in bf16 (half_precision), whose own
    difference tests/test_shipped_weights.py holds."""
    monkeypatch.setattr(model.colorizer, "cpu_has_amx", lambda: False)
    colorizer = Colorizer.from_checkpoint(resolve_weights(None), "cpu")
    generator = torch.Generator().manual_seed(0)
    lightness = torch.rand(2, 1, 12, 16, generator=generator)
    lightness = torch.nn.functional.interpolate(lightness, size=(72, 100), mode="bilinear") * 100
    predictor = ColorPredictor(colorizer, "embed")
    coloring = predictor.predict(lightness, predictor.guide(photo_like(120, 160, seed=11)))
    assert np.allclose(coloring.ab.numpy(), np.load(BEFORE), atol=1e-4)
    assert coloring.sources == ["embed", "embed"] and coloring.track is None


def ab_error(ab: torch.Tensor, truth_lab: torch.Tensor) -> float:
    return (ab - truth_lab[:, 1:]).square().sum(dim=1).sqrt().mean().item()


def test_a_keyframe_is_carried_along_its_shot(colorizer):
    """The reference is frame 0 of a pan; frame 6 is coloured from it along the flow, far more
    faithfully than Color2Embed alone can."""
    frames = panning_frames(8, size=(144, 256), seed=21, step=3)
    truth = lab_of(frames[6])
    results = {}
    for method in ("embed", "propagate"):
        predictor = ColorPredictor(colorizer, method)
        coloring = predictor.predict(truth[:, :1], predictor.guide(frames[0]))
        results[method] = ab_error(coloring.ab, truth)
        if method == "propagate":
            assert coloring.sources == ["propagate"]
    assert results["propagate"] < 0.5 * results["embed"]


def test_propagation_does_not_cross_into_another_scene(colorizer):
    """A frame after a cut shows something else: the flow to the reference cannot be followed,
    so the frame is not coloured by propagation."""
    reference = panning_frames(1, size=(144, 256), seed=21)[0]
    other_scene = panning_frames(1, size=(144, 256), seed=99)[0]
    predictor = ColorPredictor(colorizer, "auto")
    coloring = predictor.predict(lab_of(other_scene)[:, :1], predictor.guide(reference))
    assert coloring.sources != ["propagate"]


def test_exemplar_puts_colors_where_the_reference_shows_them(colorizer):
    """The reference is the target mirrored: matching puts its colours back in place, closer to
    the truth than Color2Embed's palette."""
    from skimage import data
    from skimage.transform import resize

    photo = (resize(data.astronaut(), (192, 192), anti_aliasing=True) * 255).astype(np.uint8)
    truth = lab_of(photo)
    errors = {}
    for method in ("embed", "exemplar"):
        predictor = ColorPredictor(colorizer, method)
        reference = np.ascontiguousarray(photo[:, ::-1])
        errors[method] = ab_error(
            predictor.predict(truth[:, :1], predictor.guide(reference)).ab, truth
        )
    assert errors["exemplar"] < 0.75 * errors["embed"]


def test_an_unknown_method_is_refused(colorizer):
    with pytest.raises(ValueError, match="unknown method"):
        ColorPredictor(colorizer, "magic")


def test_a_film_track_is_moved_on_in_a_copy_and_never_changed(colorizer):
    """The predictor writes into nothing it is handed: the track it returns has moved on past
    the batch; the one it was given is as it was, so predicting again from it gives the same
    colour."""
    frames = panning_frames(4, size=(144, 256), seed=21, step=3)
    lightness = torch.cat([lab_of(frame)[:, :1] for frame in frames])
    predictor = ColorPredictor(colorizer, "auto")
    guide = predictor.guide(frames[0])
    track = predictor.track(guide)
    first = predictor.predict(lightness[:2], guide, track, [0, 1])
    assert track.last is None and track.grey is None and track.chains == [None]
    assert first.track is not track and first.track.last == 1
    again = predictor.predict(lightness[:2], guide, track, [0, 1])
    assert torch.equal(first.ab, again.ab)
    following = predictor.predict(lightness[2:], guide, first.track, [2, 3])
    assert following.sources == ["propagate", "propagate"] and following.track.last == 3
    assert first.track.last == 1


def test_a_learned_fusion_checkpoint_is_refused_with_one_line(tmp_path, colorizer):
    """The learned fusion is not in the inference path: a checkpoint with hint layers is
    refused by name, never coloured with as if it had none."""
    import dataclasses

    from model.checkpoint import save_checkpoint
    from model.errors import CheckpointError
    from model.network import Color2Embed

    config = dataclasses.replace(colorizer.network.config, hint_channels=3)
    path = tmp_path / "fusion.safetensors"
    save_checkpoint(path, Color2Embed(config), {"trained": False})
    with pytest.raises(CheckpointError, match="fusion.safetensors: is a learned-fusion network"):
        Colorizer.from_checkpoint(path, "cpu")


def test_a_batch_is_followed_as_its_frames_one_at_a_time(colorizer):
    """`follow` does for a whole batch what does not depend on the frame before (the checks,
    the carried colour, the soft masks) and the rest frame by frame: a batch gives the colour,
    the sources and the track that its frames give one at a time, to the bit. Two keyframes
    (frames 0 and 4), a cut to another scene inside the batch, stabilisation on."""
    frames = panning_frames(5, size=(144, 256), seed=21, step=3)
    frames += panning_frames(3, size=(144, 256), seed=5, step=3)
    lightness = torch.cat([lab_of(frame)[:, :1] for frame in frames])
    generator = torch.Generator().manual_seed(1)
    network_ab = torch.rand(len(frames), 2, 36, 64, generator=generator) * 40 - 20
    predictor = ColorPredictor(colorizer, "auto")
    guide = predictor.guide(frames[0], frames[4])
    indices = list(range(len(frames)))
    with torch.inference_mode():
        track = predictor.track(guide, (0, 4))
        together, carried, moved = predictor.follow(lightness, network_ab, guide, track, indices)
        alone, alone_carried = [], []
        for k in indices:
            one = predictor.follow(lightness[k : k + 1], network_ab[k : k + 1], guide, track, [k])
            alone.append(one[0])
            alone_carried += one[1]
            track = one[2]
    assert carried == alone_carried == [True] * 5 + [False] * 3
    assert torch.equal(together, torch.cat(alone))
    assert moved.last == track.last == 7 and torch.equal(moved.ab, track.ab)
