"""Per-shot adaptation (`--adapt STEPS`): a copy of the network briefly fine-tuned on one refs
entry's own references, with the training recipe (model/train.py).

The reference is both the ground truth and, after the thin-plate-spline warp, rotation, flips
and noise of model/augment.py, the colour source: the network learns this shot's palette and
how its content takes it. Only the reconstruction loss is used (the perceptual loss would
double the cost of a step); the shipped network is never changed.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from model.augment import AugmentConfig, make_reference
from model.color import rgb_to_lab
from model.colorizer import Colorizer, image_to_tensor, resize, scaled_size
from model.losses import reconstruction_loss

LEARNING_RATE = 5e-5  # half the training rate: a few steps should refine, not relearn
BATCH = 4
CROP = 128  # the training crop


@dataclass
class Adapted:
    colorizer: Colorizer
    steps: int
    seconds: float
    loss_first: float  # mean reconstruction loss of the first and last tenth of the steps
    loss_last: float


def training_crops(references: list[np.ndarray], short_side: int) -> list[torch.Tensor]:
    """Each reference as (3, H, W) in [0, 1] at the short side the network sees frames at."""
    crops = []
    for reference in references:
        rgb = image_to_tensor(reference)
        crops.append(resize(rgb, scaled_size(*rgb.shape[-2:], short_side))[0])
    return crops


def random_batch(images: list[torch.Tensor], generator: torch.Generator) -> torch.Tensor:
    batch = []
    for _ in range(BATCH):
        image = images[int(torch.randint(len(images), (1,), generator=generator))]
        height, width = image.shape[-2:]
        crop = min(CROP, height, width)
        top = int(torch.randint(height - crop + 1, (1,), generator=generator))
        left = int(torch.randint(width - crop + 1, (1,), generator=generator))
        batch.append(image[:, top : top + crop, left : left + crop])
    return torch.stack(batch)


def adapt(
    colorizer: Colorizer,
    references: list[np.ndarray],
    steps: int,
    seed: int = 0,
    learning_rate: float = LEARNING_RATE,
) -> Adapted:
    """A colorizer whose network is fine-tuned for `steps` steps on `references`."""
    started = time.perf_counter()
    device = colorizer.device
    network = copy.deepcopy(colorizer.network).to(device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate, betas=(0.9, 0.99))
    generator = torch.Generator().manual_seed(seed)
    images = training_crops(references, colorizer.working_short_side)
    augment = AugmentConfig()
    losses = []
    for _ in range(steps):
        truth = random_batch(images, generator)
        reference = torch.stack([make_reference(image, augment, generator) for image in truth])
        truth, reference = truth.to(device), reference.to(device)
        lab = rgb_to_lab(truth)
        predicted = network(lab[:, :1], reference)
        loss = reconstruction_loss(predicted, lab[:, 1:], network.config.io.ab_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    tenth = max(1, steps // 10)
    adapted = Colorizer(network.eval(), device, colorizer.working_short_side)
    return Adapted(
        adapted,
        steps,
        time.perf_counter() - started,
        float(np.mean(losses[:tenth])) if losses else float("nan"),
        float(np.mean(losses[-tenth:])) if losses else float("nan"),
    )
