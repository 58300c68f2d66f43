"""The inference API that remaster/ calls: embed a reference once, colorize many frames with it.

    colorizer = Colorizer.from_checkpoint("weights.safetensors")
    style = colorizer.embed(reference_rgb)           # once per shot
    ab = colorizer.colorize(lightness, style)        # for every batch of the shot's frames

The network runs at a working size (short side 256 by default, aspect kept, padded to a multiple
of 16); only ab comes back from it, upsampled to full size, so the caller keeps its own
full-resolution L and the output's luminance is the input's exactly.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from model.checkpoint import load_checkpoint
from model.color import gray_to_lightness, rgb_to_lab
from model.errors import CheckpointError
from model.network import Color2Embed, ColorEmbedding, FoldedEmbedding


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def half_precision(device: torch.device) -> torch.dtype | None:
    """The dtype the convolutions run in on `device`; None: float32.

    On CUDA bf16, or fp16 where bf16 is missing. On a CPU bf16 only where it has AMX, the matrix
    units oneDNN's bf16 convolutions run on; measured on 2 such cores at the example reel's
    working size (455x256, batches of 4, ms a frame): the network's decoding 134.8 -> 51.1,
    VGG's features 54.1 -> 14.6. The same CPU with oneDNN held to AVX-512's bf16 instructions
    (`ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`, as on a CPU that has them but no AMX): decoding
    149 -> 147, VGG 59 -> 88; held to AVX-512 without them or to AVX2, 2.5 to 10.6 times
    slower. So every other CPU stays in float32. The colour moves by bf16's rounding, as it
    does on a GPU (docs/speed.md has the quality benchmark).
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_amx():
        return torch.bfloat16
    return None


@functools.cache
def cpu_has_amx() -> bool:
    """Whether this CPU has AMX tiles and the operating system lets this process use them
    (torch's own checks, private ones: it has no public one; without them, float32)."""
    supported = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(supported and supported() and torch.cpu._init_amx())


def autocast(device: torch.device, dtype: torch.dtype | None):
    """A context running convolutions and matrix products in `dtype` (None: as they are)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def on_device(module: nn.Module, device: torch.device) -> nn.Module:
    """`module` moved to `device`; on a CPU with its convolutions' weights channels-last, which
    oneDNN's convolutions run faster, their outputs following (measured on 2 cores at the example
    reel's working size, 455x256, medians of six: the matcher's VGG features 84.6 -> 58.8 ms,
    the network's decoding 148.5 -> 129.7 ms; the same results but for rounding, 1e-6 and 2e-5
    at most). On a GPU not measured, so left as it was."""
    module = module.to(device)
    if device.type == "cpu":
        module = module.to(memory_format=torch.channels_last)
    return module


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) resized so the short side is `short_side`, aspect ratio kept."""
    scale = short_side / min(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, C, H, W) -> (B, C, *size), bilinear, antialiased when shrinking."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)


def upsample(ab: Tensor, size) -> Tensor:
    """Colour predicted at the working size, brought to the full size: bilinear is enough, as
    colour carries little detail and the full-resolution luminance carries the rest."""
    if tuple(ab.shape[-2:]) == tuple(size):
        return ab
    return F.interpolate(ab, size=tuple(size), mode="bilinear", align_corners=False)


def image_to_tensor(image: np.ndarray) -> Tensor:
    """(H, W) or (H, W, 3) uint8/uint16/float array -> (1, C, H, W) float32 in [0, 1]."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255
    elif array.dtype == np.uint16:
        scaled = array.astype(np.float32) / 65535
    elif np.issubdtype(array.dtype, np.floating):
        scaled = np.clip(array.astype(np.float32), 0, 1)
    else:
        raise ValueError(f"unsupported pixel type {array.dtype}; use uint8, uint16 or float")
    tensor = torch.from_numpy(np.ascontiguousarray(scaled))
    if tensor.ndim == 2:
        return tensor[None, None]
    if tensor.ndim == 3 and tensor.shape[2] == 3:
        return tensor.permute(2, 0, 1)[None]
    raise ValueError(f"expected a grey (H, W) or RGB (H, W, 3) image, got shape {array.shape}")


def tensor_to_image(rgb: Tensor, dtype: np.dtype) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) array of `dtype` (uint8, uint16 or float32)."""
    array = rgb[0].permute(1, 2, 0).cpu().numpy()
    if dtype == np.uint8:
        return np.round(array * 255).astype(np.uint8)
    if dtype == np.uint16:
        return np.round(array * 65535).astype(np.uint16)
    return array.astype(np.float32)


def lightness_of(image: Tensor) -> Tensor:
    """(B, 1 or 3, H, W) sRGB in [0, 1] -> (B, 1, H, W) L in [0, 100]."""
    if image.shape[1] == 1:
        return gray_to_lightness(image)
    return rgb_to_lab(image)[:, :1]


class Colorizer:
    def __init__(
        self,
        network: Color2Embed,
        device: str | torch.device = "auto",
        working_short_side: int | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.network = on_device(network, self.device).eval()
        self.precision = half_precision(self.device)
        io = network.config.io
        self.working_short_side = working_short_side or io.working_short_side
        self.size_multiple = io.size_multiple
        self.reference_short_side = io.reference_short_side
        self.embed_calls = 0  # reference sets embedded (each is one call, whatever its size)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device = "auto",
        working_short_side: int | None = None,
    ) -> Colorizer:
        network, _ = load_checkpoint(path)
        if network.config.hint_channels:
            # The learned fusion was measured level with the blend and not shipped; inference
            # has no path for it (docs/model.md).
            raise CheckpointError(
                path,
                f"is a learned-fusion network (hint_channels {network.config.hint_channels}), "
                "which remaster does not colour with; use a checkpoint without hint layers",
            )
        return cls(network, device=device, working_short_side=working_short_side)

    @torch.inference_mode()
    def embed(
        self, *references: np.ndarray | Tensor, weights: tuple[float, ...] = ()
    ) -> FoldedEmbedding:
        """One or more reference images -> the folded style of a shot.

        Each reference is an RGB array (H, W, 3) or tensor (1, 3, H, W) in [0, 1]; several
        references are averaged in embedding space, as one colour palette for the shot,
        weighted by `weights` (one per reference, summing to 1) where given. They go
        through the colour encoder as one batch, at the first one's working size (the encoder
        pools globally, so a small change of aspect ratio hardly matters).
        """
        if not references:
            raise ValueError("embed needs at least one reference image")
        batch = []
        for reference in references:
            rgb = reference if isinstance(reference, Tensor) else image_to_tensor(reference)
            if rgb.shape[1] != 3:
                raise ValueError("a reference must be a colour (RGB) image")
            size = (
                batch[0].shape[-2:]
                if batch
                else scaled_size(*rgb.shape[-2:], self.reference_short_side)
            )
            batch.append(resize(rgb.to(self.device, torch.float32), tuple(size)))
        with autocast(self.device, self.precision):
            embeddings = self.network.embed(torch.cat(batch))
        self.embed_calls += 1
        share = torch.tensor(weights) if weights else None
        embedding = ColorEmbedding(embeddings.z.float(), embeddings.mean_ab.float()).mean(share)
        return self.network.fold(embedding)

    @torch.inference_mode()
    def colorize(self, lightness: Tensor, style: FoldedEmbedding) -> Tensor:
        """(B, 1, H, W) L in [0, 100], any H and W -> (B, 2, H, W) ab on the input's device.

        Every frame of the batch shares `style` (one shot, one reference set).
        """
        ab = self.decode_working(self.working_lightness(lightness), style)
        return upsample(ab, lightness.shape[-2:]).to(lightness.device)

    def working_lightness(self, lightness: Tensor) -> Tensor:
        """(B, 1, H, W) L -> L at the working size (short side `working_short_side`), on the
        colorizer's device: the size at which colour is predicted, then upsampled."""
        height, width = lightness.shape[-2:]
        working = lightness.to(self.device, torch.float32, non_blocking=True)
        return resize(working, scaled_size(height, width, self.working_short_side))

    @torch.inference_mode()
    def decode_working(self, working: Tensor, style: FoldedEmbedding) -> Tensor:
        """(B, 1, h, w) L at the working size -> (B, 2, h, w) ab from the network, float32."""
        work_h, work_w = working.shape[-2:]
        pad_h = -work_h % self.size_multiple
        pad_w = -work_w % self.size_multiple
        # Replicate, not zeros: a black border would read as content and tint the edges.
        working = F.pad(working, (0, pad_w, 0, pad_h), mode="replicate")
        with autocast(self.device, self.precision):
            ab = self.network.decode(working, style)
        return ab[..., :work_h, :work_w].float()
