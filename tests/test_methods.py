"""Where colour comes from (--method), with the shipped weights and the real ImageNet VGG-16."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.color import rgb_to_lab
from model.colorizer import Colorizer
from remaster.methods import ColourPredictor
from remaster.weights import resolve_weights
from tests.media import panning_frames, photo_like

BEFORE = Path(__file__).parent / "data" / "embed-before.npy"


@pytest.fixture(scope="module")
def colorizer():
    return Colorizer.from_checkpoint(resolve_weights(None), "cpu")


def lab_of(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)


def test_embed_is_unchanged_from_before_the_methods_existed(colorizer):
    """tests/data/embed-before.npy is what `Colorizer.colorize` returned for this input before
    the stages were split into methods; `--method embed` must still give exactly that."""
    generator = torch.Generator().manual_seed(0)
    lightness = torch.rand(2, 1, 12, 16, generator=generator)
    lightness = torch.nn.functional.interpolate(lightness, size=(72, 100), mode="bilinear") * 100
    predictor = ColourPredictor(colorizer, "embed")
    ab = predictor.predict(lightness, predictor.guide(photo_like(120, 160, seed=11)))
    assert np.allclose(ab.numpy(), np.load(BEFORE), atol=1e-4)
    assert predictor.summary() == "2 embed"


def ab_error(ab: torch.Tensor, truth_lab: torch.Tensor) -> float:
    return (ab - truth_lab[:, 1:]).square().sum(dim=1).sqrt().mean().item()


def test_a_keyframe_is_carried_along_its_shot(colorizer):
    """The reference is frame 0 of a pan; frame 6 is coloured from it along the flow, far more
    faithfully than Color2Embed alone can."""
    frames = panning_frames(8, size=(144, 256), seed=21, step=3)
    truth = lab_of(frames[6])
    results = {}
    for method in ("embed", "propagate"):
        predictor = ColourPredictor(colorizer, method)
        ab = predictor.predict(truth[:, :1], predictor.guide(frames[0]))
        results[method] = ab_error(ab, truth)
        if method == "propagate":
            assert predictor.counts["propagate"] == 1
    assert results["propagate"] < 0.5 * results["embed"]


def test_propagation_does_not_cross_into_another_scene(colorizer):
    """A frame after a cut shows something else: the flow to the reference cannot be followed,
    so the frame is not coloured by propagation."""
    reference = panning_frames(1, size=(144, 256), seed=21)[0]
    other_scene = panning_frames(1, size=(144, 256), seed=99)[0]
    predictor = ColourPredictor(colorizer, "auto")
    predictor.predict(lab_of(other_scene)[:, :1], predictor.guide(reference))
    assert predictor.counts["propagate"] == 0


def test_exemplar_puts_colours_where_the_reference_shows_them(colorizer):
    """The reference is the target mirrored: matching puts its colours back in place, closer to
    the truth than Color2Embed's palette."""
    from skimage import data
    from skimage.transform import resize

    photo = (resize(data.astronaut(), (192, 192), anti_aliasing=True) * 255).astype(np.uint8)
    truth = lab_of(photo)
    errors = {}
    for method in ("embed", "exemplar"):
        predictor = ColourPredictor(colorizer, method)
        ab = predictor.predict(truth[:, :1], predictor.guide(np.ascontiguousarray(photo[:, ::-1])))
        errors[method] = ab_error(ab, truth)
    assert errors["exemplar"] < 0.75 * errors["embed"]


def test_an_unknown_method_is_refused(colorizer):
    with pytest.raises(ValueError, match="unknown method"):
        ColourPredictor(colorizer, "magic")


def test_a_learned_fusion_network_corrects_the_blend_and_starts_as_it(colorizer):
    """A network that reads hints is given the match and its output is blended like the plain
    network's: with its hint layers still at zero it colours exactly as the training-free blend
    does, and the hints change the colour once those layers are trained."""
    import dataclasses

    from model.network import Color2Embed

    config = dataclasses.replace(colorizer.network.config, hint_channels=3)
    network = Color2Embed(config)
    network.load_state_dict(colorizer.network.state_dict(), strict=False)
    fused = Colorizer(network, "cpu")
    photo = photo_like(96, 128, seed=3)
    lightness = lab_of(photo)[:, :1]
    reference = np.ascontiguousarray(photo[:, ::-1])

    def colour(source: Colorizer, method: str = "exemplar") -> torch.Tensor:
        predictor = ColourPredictor(source, method)
        return predictor.predict(lightness, predictor.guide(reference))

    blended = colour(colorizer)
    assert not torch.allclose(blended, colour(colorizer, "embed"))
    assert torch.allclose(colour(fused), blended, atol=1e-5)
    for conv in network.hints.convs:
        torch.nn.init.normal_(conv.weight, std=0.5)
    assert (colour(fused) - blended).abs().max() > 1
