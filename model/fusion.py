"""Fusing exemplar matching with Color2Embed: matched colour where the match is sure, the
network's elsewhere.

The blend. The matcher's colours (model/correspondence.py) go over the network's by a weight
that ramps with the match's confidence, then a guided filter smooths the result along the
picture's own edges (matched colour is blotchy and bleeds over edges). How careful the ramp is
depends on what is known of the reference: once it is known to be a frame of the shot, or the
frame's matches agree both ways, weaker matches are trusted.

The learned fusion (a network with `hint_channels: 3`) corrects the blend instead of replacing
it: the network is given the blend's own inputs (the matched ab, in the network's units, and the
blend weight) as hints added to its content features at every scale (model/network.py,
HintInjection), and its output is blended exactly as the plain network's is. Its hint layers
start at zero, so before training it *is* the blend; training (model/train.py with a `hints`
section, the loss taken after the blend) can then only learn what the blend gets wrong: where
the weak matches are right after all, and what colour to give what nothing matches. A first
design, the network given the match and left to place the colour itself, lost to the blend by
twice its error: it leaned on the match too little. This one, trained for 7 minutes on a GPU,
came out level with the blend (docs/model.md), so the blend over the plain network ships.

It is trained with the paper's self-augmented self-reference recipe: the matcher runs on the
warped, flipped reference, so it has to find where each colour went, which is exactly what the
thin-plate-spline warp makes necessary. Two kinds of bad hints teach the network when not to
trust them: for some samples the match is of another sample's reference (another scene: low
confidence, little agreement), for some there is none (weight zero: the network alone, which
is also how `embed` colours).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from model.color import rgb_to_lab
from model.correspondence import Match, Matcher, guided_filter

# Match confidence (best cosine similarity, in the reference's 64 principal directions) below
# LOW takes the network's colour, above HIGH the match's, linearly between. Measured on real
# photos at 256x384 (10th-50th-90th percentile): the same scene shifted 0.91-0.99-1.0, mirrored
# and shifted 0.65-0.83-0.94, a reference of another scene 0.37-0.46-0.59 and 0.41-0.54-0.72.
# On 12 held-out photos (mirrored crops) 0.35/0.55 gave CIEDE2000 2.74, 0.5/0.75 2.79 and
# 0.6/0.85 3.12: 0.5/0.75 keeps most of the gain and leaves other scenes mostly to Color2Embed.
CONFIDENCE_LOW, CONFIDENCE_HIGH = 0.5, 0.75
# Once the flow has shown that a reference is a frame of this shot (or the refs file says so),
# it is the same scene by proof, not by a guess from the match: the ramp starts lower. Measured
# on the benchmark's whip-pan clip (keyframe workflow), where the flow loses the keyframe and
# matching takes over for the rest of the shot: CIEDE2000 there 6.47 with 0.5/0.75, 5.90 with
# 0.3/0.5, 5.92 with 0/0.01.
SAME_SHOT_LOW, SAME_SHOT_HIGH = 0.3, 0.5
# A frame whose matches mostly agree both ways shows the reference's scene (model/correspondence.py:
# same-scene photos 0.39-0.50, another scene's 0.16-0.37), so it earns the same-shot ramp too,
# by degrees between these two agreements. Measured on the benchmark's any-reference clips (a
# frame of the same scene at another moment; auto, CIEDE2000) and on its 30 photos each given the
# most similar *other* photo as reference (where every colour is a guess; grey scores 9.11):
# the 0.5/0.75 ramp everywhere 3.35 and 13.15; the 0.3/0.5 ramp everywhere 3.16 and 14.07;
# the ramp by agreement 3.19 and 13.18. Ramping by the frame's median confidence instead
# (0.6-0.75) gave 3.26 and 13.35.
SAME_SCENE_AGREEMENT = (0.32, 0.42)
# Blended colour is smoothed along the picture's own edges by a guided filter of this radius (at
# the working size). A radius of 16 took the whip-pan clip of the quality benchmark from 2.050 to
# 2.023 CIEDE2000, but the quick benchmark's exemplar path from 1.52 to 2.15: it blurs matches
# that were right, so 4 stays.
GUIDED_RADIUS, GUIDED_EPS = 4, 1e-3


def match_weight(match: Match, size: tuple[int, int], same_shot: bool) -> Tensor:
    """A match -> (B, 1, *size) weight of the matched colour: a ramp of the confidence, between
    CONFIDENCE_LOW and _HIGH, moving to SAME_SHOT_LOW and _HIGH for a frame of the shot, or as
    far as the frame's agreement shows the reference's scene (SAME_SCENE_AGREEMENT)."""
    if same_shot:
        same_scene = match.confidence.new_ones(len(match.confidence))
    else:
        lowest, highest = SAME_SCENE_AGREEMENT
        same_scene = ((match.agreement - lowest) / (highest - lowest)).clamp(0, 1)
    same_scene = same_scene.view(-1, 1, 1, 1)
    low = CONFIDENCE_LOW + same_scene * (SAME_SHOT_LOW - CONFIDENCE_LOW)
    high = CONFIDENCE_HIGH + same_scene * (SAME_SHOT_HIGH - CONFIDENCE_HIGH)
    weight = ((match.confidence - low) / (high - low)).clamp(0, 1)
    return F.interpolate(weight, size=size, mode="bilinear", align_corners=False)


@dataclass
class Fusion:
    """What a batch of frames gets from the matcher, at the working size: the matched colour
    and how much of it to take."""

    matched: Tensor  # (B, 2, H, W) ab
    weight: Tensor  # (B, 1, H, W) in [0, 1]
    lightness: Tensor  # (B, 1, H, W) L, which guides the smoothing

    @classmethod
    def of(cls, match: Match, lightness: Tensor, same_shot: bool = False) -> Fusion:
        """A transferred match (full-size colours, Matcher.transfer) of frames with L
        `lightness`; `same_shot`: the reference is known to be a frame of their shot."""
        weight = match_weight(match, lightness.shape[-2:], same_shot)
        return cls(match.colors, weight, lightness)

    @classmethod
    def nothing_matched(cls, lightness: Tensor) -> Fusion:
        zeros = torch.zeros_like(lightness)
        return cls(zeros.expand(-1, 2, -1, -1), zeros, lightness)

    def hints(self, ab_scale: float) -> Tensor:
        """(B, 3, H, W): the inputs of a network that reads hints."""
        return torch.cat([self.matched / ab_scale, self.weight], dim=1)

    def blend(self, network_ab: Tensor) -> Tensor:
        """The network's (B, 2, H, W) ab under the matched colour, smoothed along the edges."""
        blended = self.weight * self.matched + (1 - self.weight) * network_ab
        return guided_filter(self.lightness / 100, blended, GUIDED_RADIUS, GUIDED_EPS)

    def matched_share(self) -> list[float]:
        """Each frame's share of matched colour."""
        return self.weight.mean(dim=(1, 2, 3)).tolist()

    def __getitem__(self, frames: slice) -> Fusion:
        return Fusion(self.matched[frames], self.weight[frames], self.lightness[frames])

    def to(self, device: torch.device) -> Fusion:
        return Fusion(self.matched.to(device), self.weight.to(device), self.lightness.to(device))


@dataclass(frozen=True)
class HintConfig:
    drop: float = 0.15  # share of samples trained without a match (the network alone)
    swap: float = 0.2  # share of samples matched against another sample's reference


class TrainingFusion:
    """The fusion for a training batch: each sample's reference matched onto its own lightness,
    as a film's frame is matched onto its reference, so the loss is taken on what inference
    gives."""

    def __init__(self, matcher: Matcher, config: HintConfig, seed: int) -> None:
        self.matcher = matcher
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, lightness: Tensor, references: Tensor) -> Fusion:
        """(B, 1, H, W) L and (B, 3, H, W) references -> their Fusion, as plain tensors
        (outside inference mode, so the network's backward pass may keep them)."""
        count = len(lightness)
        draws = torch.rand(count, generator=self.generator)
        parts = []
        for index in range(count):
            frame = lightness[index : index + 1].float()
            if draws[index] < self.config.drop:
                parts.append(Fusion.nothing_matched(frame))
                continue
            source = index
            if draws[index] < self.config.drop + self.config.swap and count > 1:
                source = (index + 1) % count
            guide = self.matcher.reference(references[source : source + 1].float())
            parts.append(Fusion.of(self.matcher.transfer(frame, guide), frame))
        return Fusion(
            torch.cat([part.matched for part in parts]).clone(),
            torch.cat([part.weight for part in parts]).clone(),
            torch.cat([part.lightness for part in parts]).clone(),
        )


def fusion_for_validation(matcher: Matcher, truths: Tensor, references: Tensor) -> Fusion:
    """The fusion of fixed (truth, reference) pairs, each matched to its own reference."""
    lightness = rgb_to_lab(truths)[:, :1]
    no_bad_matches = TrainingFusion(matcher, HintConfig(drop=0, swap=0), seed=0)
    return no_bad_matches(lightness, references)
