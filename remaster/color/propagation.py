"""Carrying keyframes' colours through a shot, and keeping colour steady from frame to frame.

A `ShotTrack` follows one refs entry frame by frame, in film order, at the propagation size:

- Each frame's place in each keyframe is found two ways: directly (DIS flow from the frame to
  the keyframe, flow.py), and chained (the previous frame's place, moved along the flow
  from this frame to the previous one). Chained follows large, slow changes (a handheld camera
  drifting away from the keyframe) that the direct flow loses; direct never drifts. Each pixel
  takes whichever lands on the keyframe's luminance more closely; the chain itself goes on
  unpicked. Measured on the four benchmark clips (keyframe workflow, CIEDE2000, every 2nd
  frame, before the pipeline's chroma planes): direct alone 0.75 / 1.44 / 2.68 / 2.47, chained
  alone 0.74 / 1.23 / 2.49 / 2.30, picked per pixel 0.65 / 1.12 / 2.39 / 2.13; chaining the
  picked maps instead did 2-6% worse than that, a third candidate (DIS at its default finest
  level) and a local luminance-to-colour model over the carried colour did not help.
- The chain starts at the keyframe (`keyframe: N` in the refs file), or at the first frame the
  direct flow can follow, so a reference that is a frame of its shot needs no `keyframe:`; the
  frame it matches best is reported. It stops at a cut (a frame the previous one cannot be
  followed into) and never leaves its entry.
- With several keyframes, a frame takes each keyframe's colour weighted by its nearness in
  frames (only the two around it count).
- Stabilisation: where the flow from the previous frame is consistent and the luminance agrees,
  the frame's ab moves part of the way toward the previous output carried along it. It damps
  the flicker of matched and embedded colour; carried colour is steady already. L is never
  touched: only ab passes through here.

A track is rebuilt at every segment from the frames before it (stage.py), so an
interrupted run, or one spread over several processes, makes the frames one run makes.

Everything here is torch on the colorizer's device: greys are (H, W) uint8 tensors, colour
(2, H, W) ab. On a GPU a frame's work here is many small operations, so a batch is worked
through in three passes, and only what depends on the frame before goes frame by frame:
- for the whole batch (`prefetch`, `motions`): the flows, in one call (flow.py), their checks,
  the luminance agreement and each frame's share of it, stabilisation's soft masks; where no
  chain reaches a frame, a look at half resolution first, which spares the full flows from a
  keyframe the frame cannot be followed from (`unfollowable`);
- frame by frame (`step`, `reach`): the cut test and the chains, where each keyframe lands;
- for the whole batch (`colours`): the keyframes' colour at those places, and its soft trust;
- frame by frame (`stabilise`): the blend toward the previous output.
ColorPredictor.follow (predictor.py) runs the passes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from remaster.color.flow import Flow, FlowEstimator, lands_inside, remap
from remaster.color.masks import gaussian_blur, soft

# A flow vector is trusted where it passes the forward-backward check (remaster/color/flow.py) and
# the two luminances it joins differ by less than LUMA_AGREEMENT (of 255).
LUMA_AGREEMENT = 12.0
# A frame is followable from a picture when at least this share of it passes the check.
# Measured on the benchmark clips: a frame and a keyframe of its own shot 0.47-0.93, of another
# scene 0.00-0.04. The same test between neighbouring frames finds cuts.
FOLLOWABLE = 0.15
# Where no chain can reach a frame, a quick look decides whether the full flow from a keyframe
# is worth computing: the flow at half resolution (finest scale 1), 4.3 times cheaper (18.5
# against 80 ms a flow at 640x360, one core), whose share of the frame that agrees follows the
# full flow's closely: on 1287 real pairs (the example reel, four sources of the benchmark
# clips; 1 to 150 frames apart; at most 360 lines), where the full flow's share was 0.1-0.4 the
# half-resolution one's was at least 0.89 of it, and no followable pair's was under 0.142; on
# 412 pairs of three of those sources at their own 528-720 lines, at least 0.97. A look below
# LOOK_FOLLOWABLE takes a frame as not followable: half of FOLLOWABLE, a margin of 1.7 against
# that ratio.
LOOK_SCALE = 1
LOOK_FOLLOWABLE = FOLLOWABLE / 2
# A direct match this good means the reference is this very frame (a frame and itself:
# 0.97-1.0); the run's summary says where each unplaced reference was found.
FOUND = 0.9
# Scale of the smoothing of luminance errors before each pixel picks direct or chained.
PICK_SIGMA = 1.5
# How far stabilisation moves ab toward the previous frame's, where the flow is trusted.
STEADY = 0.5
# In a followed frame, where the flow is not sure of its colour (outside the chain's reach it
# fails the check), the carried colour still counts this much against the exemplar path's:
# measured on the benchmark's handheld clip (keyframe workflow), 0.5 took CIEDE2000 from 2.31
# to 2.25; 0.8 did less.
GUESS = 0.5
OUTSIDE = -1e4  # a map coordinate that lands nowhere


@dataclass
class Keyframe:
    """A reference at the propagation size: its grey (uint8) and ab, and the film frame it
    shows when the refs file says so."""

    grey: Tensor  # (h, w) uint8
    ab: Tensor  # (2, h, w) float32
    frame: int | None = None


@dataclass
class Carried:
    """Frames' colour from the keyframes: ab and a soft per-pixel trust in [0, 1]; one frame's,
    or a batch's (a leading dimension N)."""

    ab: Tensor  # (2, h, w) or (N, 2, h, w)
    trust: Tensor  # (h, w) or (N, h, w)


@dataclass
class Reach:
    """Where one keyframe's colour lands on one frame (`ShotTrack.reach`): the maps into the
    keyframe, where its colour is sure and where it lands at all; no maps: nowhere."""

    keyframe: Keyframe  # at the frame's size
    weight: float  # by nearness (`ShotTrack.weighted`)
    maps: tuple[Tensor, Tensor] | None = None  # (h, w) x and y in the keyframe
    trusted: Tensor | None = None  # (h, w) bool
    inside: Tensor | None = None  # (h, w) bool


@dataclass
class Motion:
    """How a frame follows from another picture: the frame before it, or a keyframe."""

    flow: Flow  # where each pixel of this frame shows in the other picture
    agrees: Tensor  # (h, w) bool: consistent, inside, and the luminances agree
    share: float  # of the frame that agrees
    # (h, w) for a step: how far stabilisation moves the frame toward the previous output
    # carried along it, the track's `steady` where it agrees, softened.
    steady: Tensor | None = None
    # (h, w) for a keyframe: the luminance mismatch of the direct flow, smoothed (`pick`).
    error: Tensor | None = None


def resized(keyframe: Keyframe, shape: tuple[int, int]) -> Keyframe:
    """The keyframe at a frame's size (a reference of another shape is stretched to it): area
    averages down, bilinear up, as OpenCV's INTER_AREA does."""
    if tuple(keyframe.grey.shape) == tuple(shape):
        return keyframe
    down = shape[0] <= keyframe.grey.shape[0] and shape[1] <= keyframe.grey.shape[1]
    mode = {"mode": "area"} if down else {"mode": "bilinear", "align_corners": False}
    grey = F.interpolate(keyframe.grey.float()[None, None], size=shape, **mode)[0, 0]
    ab = F.interpolate(keyframe.ab[None], size=shape, **mode)[0]
    return Keyframe(grey.round().clamp(0, 255).to(torch.uint8), ab, keyframe.frame)


def mismatch(flow: Flow, source: Tensor, target: Tensor) -> Tensor:
    """How far each target pixel's luminance is from what it lands on in the source (a batch
    of flows: sources and targets (N, h, w))."""
    return (flow.warp(source) - target.float()).abs()


def colours(reaches: list[list[Reach]], shape: tuple[int, int], device) -> Carried:
    """The keyframes' colours for a batch of frames, from where each lands on each frame
    (`ShotTrack.reach`, a list a frame): each keyframe's colour sampled at its maps and its
    trust softened for all the frames at once, then weighed by nearness, in the order each
    frame lists its keyframes. A keyframe that lands nowhere adds nothing."""
    total_ab = torch.zeros((len(reaches), 2, *shape), device=device)
    total_trust = torch.zeros((len(reaches), *shape), device=device)
    for slot in range(max(map(len, reaches), default=0)):  # each frame's first keyframe, ...
        placed = [
            (k, frame[slot])
            for k, frame in enumerate(reaches)
            if len(frame) > slot and frame[slot].maps is not None
        ]
        if not placed:
            continue
        rows, found = [k for k, _ in placed], [reach for _, reach in placed]
        map_x, map_y = (torch.stack([reach.maps[side] for reach in found]) for side in (0, 1))
        ab = remap(torch.stack([reach.keyframe.ab for reach in found]), map_x, map_y)
        trusted = soft(torch.stack([reach.trusted for reach in found]))
        inside = soft(torch.stack([reach.inside for reach in found]))
        trust = torch.maximum(trusted, GUESS * inside)
        weights = torch.tensor([reach.weight for reach in found], device=device).view(-1, 1, 1)
        total_ab[rows] = total_ab[rows] + (weights * trust)[:, None] * ab
        total_trust[rows] = total_trust[rows] + weights * trust
    ab = total_ab / total_trust.clamp(min=1e-6)[:, None]
    return Carried(ab, total_trust.clamp(0, 1))


class ShotTrack:
    """The frame-to-frame state of one refs entry (see the module's docstring)."""

    def __init__(
        self,
        flows: FlowEstimator,
        keyframes: list[Keyframe],
        steady: float = STEADY,
    ) -> None:
        self.flows = flows
        self.keyframes = keyframes
        self.steady = steady
        self.last: int | None = None  # index of the previous frame
        self.grey: Tensor | None = None  # previous frame's grey
        self.ab: Tensor | None = None  # previous frame's output ab
        # Per keyframe: the previous frame's place in it (x and y maps), or None.
        self.chains: list[tuple[Tensor, Tensor] | None] = [None] * len(keyframes)
        self.found: list[tuple[float, int]] = [(0.0, -1)] * len(keyframes)  # best direct match
        # What `prefetch` found for the coming frames; None: a keyframe its look showed too far
        # from the frame to follow.
        self.ahead: dict[tuple, Motion | None] = {}

    def copy(self) -> ShotTrack:
        """A track to move on while this one stays as it is. Its tensors are only ever
        replaced, never changed in place, so copying the containers that hold them is enough."""
        twin = copy.copy(self)
        twin.keyframes, twin.chains, twin.found = [*self.keyframes], [*self.chains], [*self.found]
        twin.ahead = dict(self.ahead)
        return twin

    # -- motions, ahead of the frames -------------------------------------------------------

    def prefetch(self, indices: list[int], greys: list[Tensor], carries: bool) -> None:
        """Find in one batch every motion the frames `indices` (in order) will ask for: each
        from the frame before it, and (`carries`) from each keyframe that colours it, but for
        the keyframes `unfollowable` shows too far from their frames. What follows is frame by
        frame; this is what does not depend on the frames before."""
        wanted: dict[tuple, tuple[Tensor, Tensor]] = {}
        previous, last = self.grey, self.last
        for index, grey in zip(indices, greys, strict=True):
            if previous is not None and last == index - 1 and previous.shape == grey.shape:
                wanted[("step", index)] = (previous, grey)
            previous, last = grey, index
            for position, (_, weight) in enumerate(self.weighted(index) if carries else []):
                if weight > 0:
                    keyframe = self.sized(position, tuple(grey.shape))
                    wanted[("direct", position, index)] = (keyframe.grey, grey)
        skipped = self.unfollowable(wanted)
        wanted = {key: pair for key, pair in wanted.items() if key not in skipped}
        steps = [key[0] == "step" for key in wanted]
        self.ahead = dict(zip(wanted, self.motions(list(wanted.values()), steps), strict=True))
        self.ahead.update(dict.fromkeys(skipped))

    def unfollowable(self, wanted: dict[tuple, tuple[Tensor, Tensor]]) -> set[tuple]:
        """The direct motions among `wanted` (keyframe to frame, in film order) not worth their
        full flows. Where no chain can reach a frame, a keyframe's colour is carried only if
        the frame can be followed from it (`reach_one`); a look at half resolution shows where
        it cannot (`LOOK_FOLLOWABLE`). A chain can reach a frame when its keyframe has one now,
        or when the frame or one before it in the batch may start one (the keyframe's own
        frame, or a look at or above `LOOK_FOLLOWABLE`); those are never skipped, so whatever
        is carried is carried as the full flows alone would carry it."""
        looks = {
            key: pair
            for key, pair in wanted.items()
            if key[0] == "direct"
            and self.chains[key[1]] is None
            and key[2] != self.keyframes[key[1]].frame
        }
        if not looks:
            return set()
        looked = self.agreement(list(looks.values()), LOOK_SCALE)[3]
        shares = dict(zip(looks, looked, strict=True))
        skipped, reachable = set(), set()  # reachable: keyframes a chain may carry on from
        for key in wanted:
            if key[0] != "direct" or key[1] in reachable:
                continue
            if shares.get(key, 1.0) >= LOOK_FOLLOWABLE:  # not looked at: a chain, or its keyframe
                reachable.add(key[1])
            else:
                skipped.add(key)
        return skipped

    def agreement(
        self, pairs: list[tuple[Tensor, Tensor]], finest_scale: int | None = None
    ) -> tuple[Flow, Tensor, Tensor, list[float]]:
        """The flows of pairs of greys of one size (in one call), how far each target pixel's
        luminance is from where it lands, where the two agree, and each pair's share of that."""
        flows = self.flows.between_many(pairs, finest_scale)
        sources, targets = (torch.stack(greys) for greys in zip(*pairs, strict=True))
        differences = mismatch(flows, sources, targets)
        agrees = flows.visible & (differences < LUMA_AGREEMENT)
        return flows, differences, agrees, agrees.float().mean((1, 2)).tolist()

    def motions(self, pairs: list[tuple[Tensor, Tensor]], steps: list[bool]) -> list[Motion]:
        """How each target follows from its source, for pairs of greys of one size, all at
        once: their flows in one call, the checks and shares together (one wait for the
        device, not one a frame), stabilisation's trust for the `steps` the frames can follow,
        and `pick`'s error for the rest (keyframes)."""
        if not pairs:
            return []
        flows, differences, agrees, shares = self.agreement(pairs)
        motions = [
            Motion(flow, agree, share)
            for flow, agree, share in zip(flows.unbind(), agrees, shares, strict=True)
        ]
        steadied = [k for k, step in enumerate(steps) if step and shares[k] >= FOLLOWABLE]
        if steadied and self.steady > 0:
            steadies = self.steady * soft(agrees[steadied])
            for k, steady in zip(steadied, steadies, strict=True):
                motions[k].steady = steady
        directs = [k for k, step in enumerate(steps) if not step]
        if directs:
            errors = gaussian_blur(differences[directs], PICK_SIGMA)
            for k, error in zip(directs, errors, strict=True):
                motions[k].error = error
        return motions

    def motion(self, key: tuple, source: Tensor, target: Tensor) -> Motion:
        """`prefetch`'s motion for `key`, or (a frame it was not asked for, or skipped) found
        now."""
        found = self.ahead.get(key)
        if found is None:
            found = self.motions([(source, target)], [key[0] == "step"])[0]
        return found

    # -- one frame ------------------------------------------------------------------------
    def step(self, index: int, grey: Tensor) -> Motion | None:
        """Move the track onto frame `index`: how it follows from the previous frame, or None
        where there is no usable previous frame (the first, after a gap, after a cut)."""
        motion = None
        if self.grey is not None and self.last == index - 1 and self.grey.shape == grey.shape:
            motion = self.motion(("step", index), self.grey, grey)
            if motion.share < FOLLOWABLE:  # a cut: nothing carries over it
                motion = None
        if motion is None:
            self.chains = [None] * len(self.keyframes)
            self.ab = None
        self.last, self.grey = index, grey
        return motion

    def carry(self, index: int, grey: Tensor, motion: Motion | None) -> Carried:
        """The keyframes' colours for this one frame, by direct and chained flow."""
        carried = colours([self.reach(index, grey, motion)], tuple(grey.shape), grey.device)
        return Carried(carried.ab[0], carried.trust[0])

    def reach(self, index: int, grey: Tensor, motion: Motion | None) -> list[Reach]:
        """Where each keyframe that colours frame `index` lands on it, the chains moved on: the
        part of carrying colour that depends on the frame before (`colours` does the rest,
        for a whole batch)."""
        return [
            self.reach_one(position, index, grey, motion, weight)
            for position, (_, weight) in enumerate(self.weighted(index))
            if weight != 0
        ]

    def sized(self, position: int, shape: tuple[int, int]) -> Keyframe:
        """Keyframe `position` at the frames' size, resized once per track, not per frame."""
        keyframe = self.keyframes[position]
        if tuple(keyframe.grey.shape) != tuple(shape):
            keyframe = self.keyframes[position] = resized(keyframe, shape)
        return keyframe

    def reach_one(self, position: int, index: int, grey: Tensor, motion, weight: float) -> Reach:
        shape = tuple(grey.shape)
        keyframe = self.sized(position, shape)
        key = ("direct", position, index)
        if key in self.ahead and self.ahead[key] is None and self.chains[position] is None:
            # Too far to follow (`unfollowable`), and no chain. Its share, under FOLLOWABLE,
            # would change neither `found`'s report nor `shows_its_shot`.
            return Reach(keyframe, weight)
        found = self.motion(key, keyframe.grey, grey)
        direct, agrees, share = (found.flow.map_x, found.flow.map_y), found.agrees, found.share
        if share > self.found[position][0]:
            self.found[position] = (share, index)
        chain = self.chains[position]
        inside = found.flow.inside  # where the direct flow lands inside the keyframe
        if index == keyframe.frame:
            maps, trusted, chain = direct, inside, direct  # the chain starts on its keyframe
        elif chain is not None and motion is not None:
            chained = tuple(motion.flow.warp(torch.stack(chain)).unbind(0))
            reached = lands_inside(*chained, shape) & motion.flow.inside
            maps = self.pick(keyframe.grey, grey, direct, chained, reached, found.error)
            inside = lands_inside(*maps, shape)
            # What the chain does not reach came into view since it started: the direct
            # flow's colour is sure there only where it passes the check.
            trusted = inside & (reached | agrees)
            # The chain goes on unpicked (measured: picking per frame and chaining the picked
            # maps did 2-6% worse); what came into view joins it where the direct flow is sure.
            joins = reached | agrees
            outside = torch.full_like(direct[0], OUTSIDE)
            chain = (
                torch.where(reached, chained[0], torch.where(joins, direct[0], outside)),
                torch.where(reached, chained[1], direct[1]),
            )
        elif share >= FOLLOWABLE:
            # The chain starts here. A followed frame takes the carried colour wherever it
            # lands inside the keyframe, even where the check fails: measured on the benchmark
            # clips, the flow's colour there (moving people, small occlusions) beat the
            # exemplar path's.
            maps, trusted, chain = direct, inside, direct
        else:  # another scene, or lost: nothing is carried (never across a cut)
            self.chains[position] = None
            return Reach(keyframe, weight)
        self.chains[position] = chain
        return Reach(keyframe, weight, maps, trusted, inside)

    @staticmethod
    def pick(keyframe_grey, grey, direct, chained, reached, direct_error):
        """Per pixel, whichever map lands on the keyframe's luminance more closely (errors
        smoothed, so the choice is made by neighbourhoods, not by single noisy pixels; the
        direct flow's, `direct_error`, found with its motion)."""
        landed = remap(keyframe_grey, *chained)
        chained_error = gaussian_blur((landed - grey.float()).abs(), PICK_SIGMA)
        take_chained = reached & (chained_error < direct_error)
        return (
            torch.where(take_chained, chained[0], direct[0]),
            torch.where(take_chained, chained[1], direct[1]),
        )

    def shows_its_shot(self) -> bool:
        """Whether a reference is known to be a frame of this shot: the refs file places it,
        or the flow has followed it into a frame."""
        return any(keyframe.frame is not None for keyframe in self.keyframes) or any(
            share >= FOLLOWABLE for share, _ in self.found
        )

    def weighted(self, index: int) -> list[tuple[Keyframe, float]]:
        """Each keyframe and its weight for frame `index`: with known frames, the two around
        it by nearness (the nearest alone outside them); otherwise the first reference."""
        placed = [k for k, keyframe in enumerate(self.keyframes) if keyframe.frame is not None]
        weights = [0.0] * len(self.keyframes)
        if not placed:
            weights[0] = 1.0
        else:
            before = [k for k in placed if self.keyframes[k].frame <= index]
            after = [k for k in placed if self.keyframes[k].frame > index]
            if before and after:
                a = max(before, key=lambda k: self.keyframes[k].frame)
                b = min(after, key=lambda k: self.keyframes[k].frame)
                span = self.keyframes[b].frame - self.keyframes[a].frame
                weights[a] = (self.keyframes[b].frame - index) / span
                weights[b] = (index - self.keyframes[a].frame) / span
            else:
                nearest = before or after
                weights[min(nearest, key=lambda k: abs(self.keyframes[k].frame - index))] = 1.0
        return list(zip(self.keyframes, weights, strict=True))

    def stabilise(self, ab: Tensor, motion: Motion | None) -> Tensor:
        """ab (2, h, w) moved toward the previous output where the flow from it is trusted."""
        if motion is not None and self.ab is not None and self.steady > 0:
            carried = motion.flow.warp(self.ab)
            ab = ab + motion.steady * (carried - ab)
        self.ab = ab
        return ab
