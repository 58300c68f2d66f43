"""The learned fusion of exemplar matching and Color2Embed (a network with `hint_channels: 3`).

The training-free fusion (remaster/methods.py) blends the matcher's colours over Color2Embed's
by a fixed ramp of the match's confidence, then smooths them along the picture's edges. The
learned one gives the decoder the match itself: the hints are the matched ab (in the network's
units) and the confidence, at the working size, added to the content features at every scale
(model/network.py, HintInjection). The network then decides, from the content as well as the
confidence, where the match is right, and draws the colour's edges itself.

It is trained with the paper's self-augmented self-reference recipe (model/train.py with a
`hints` section): the matcher runs on the warped, flipped reference, so it has to find where
each colour went, which is exactly what the thin-plate-spline warp makes necessary. Two kinds
of bad hints teach the network when not to trust them: for some samples the hints come from
another sample's reference (a match of another scene, low confidence), for some there are none
(all zero, which is also how the network colours when no matcher runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from model.color import rgb_to_lab
from model.correspondence import Matcher


def hint_tensor(matched: Tensor, confidence: Tensor, size, ab_scale: float) -> Tensor:
    """The matcher's (B, 2, h, w) ab and (B, 1, h, w) confidence -> (B, 3, *size) hints."""
    matched = F.interpolate(matched, size=tuple(size), mode="bilinear", align_corners=False)
    confidence = F.interpolate(confidence, size=tuple(size), mode="bilinear", align_corners=False)
    return torch.cat([matched / ab_scale, confidence], dim=1)


@dataclass(frozen=True)
class HintConfig:
    drop: float = 0.15  # share of samples trained without hints (all zero)
    swap: float = 0.2  # share of samples whose hints match another sample's reference


class TrainingHints:
    """Hints for a training batch: each sample's reference matched onto its own lightness."""

    def __init__(self, matcher: Matcher, config: HintConfig, ab_scale: float, seed: int) -> None:
        self.matcher = matcher
        self.config = config
        self.ab_scale = ab_scale
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, lightness: Tensor, references: Tensor) -> Tensor:
        """(B, 1, H, W) L and (B, 3, H, W) references -> (B, 3, H, W) hints, as plain tensors
        (outside inference mode, so the network's backward pass may keep them)."""
        count = len(lightness)
        draws = torch.rand(count, generator=self.generator)
        hints = []
        for index in range(count):
            if draws[index] < self.config.drop:
                hints.append(torch.zeros(1, 3, *lightness.shape[-2:], device=lightness.device))
                continue
            source = index
            if draws[index] < self.config.drop + self.config.swap and count > 1:
                source = (index + 1) % count
            guide = self.matcher.reference(references[source : source + 1].float())
            match = self.matcher.match(lightness[index : index + 1].float(), guide)
            hints.append(
                hint_tensor(match.colours, match.confidence, lightness.shape[-2:], self.ab_scale)
            )
        return torch.cat(hints).clone()


def hints_for_validation(matcher: Matcher, truths: Tensor, references: Tensor, ab_scale) -> Tensor:
    """Hints for fixed (truth, reference) pairs, each matched to its own reference."""
    lightness = rgb_to_lab(truths)[:, :1]
    no_bad_hints = TrainingHints(matcher, HintConfig(drop=0, swap=0), ab_scale, seed=0)
    return no_bad_hints(lightness, references)
