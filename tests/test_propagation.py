"""The frame-to-frame track: chained flow, cuts, several keyframes, stabilisation."""

import numpy as np
import torch

from model.color import rgb_to_lab
from remaster.color.flow import FlowEstimator
from remaster.color.predictor import lab_grey
from remaster.color.propagation import Keyframe, ShotTrack
from tests.media import panning_frames


def lab(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float()[None] / 255)[0]


def keyframe_of(rgb: np.ndarray, frame: int | None = None, ab_shift=(0.0, 0.0)) -> Keyframe:
    color = lab(rgb)
    ab = color[1:] + torch.tensor(ab_shift).view(2, 1, 1)
    return Keyframe(lab_grey(color[0]), ab, frame)


def run(track: ShotTrack, frames: list[np.ndarray], first: int = 0):
    """Each frame's carried colour, in order."""
    results = []
    for index, rgb in enumerate(frames, start=first):
        grey = lab_grey(lab(rgb)[0])
        motion = track.step(index, grey)
        results.append(track.carry(index, grey, motion))
    return results


def follow_in_batches(track: ShotTrack, greys: list, batches, prefetched: bool):
    """Each frame's carried trust and stabilised ab, batch by batch as `ColorPredictor.follow`
    goes (with `prefetched`, a batch's motions found together first), and what each batch's
    `prefetch` found."""
    outputs, found = [], []
    for batch in batches:
        if prefetched:
            track.prefetch(list(batch), greys[batch.start : batch.stop], carries=True)
        found.append(dict(track.ahead))
        for index in batch:
            motion = track.step(index, greys[index])
            carried = track.carry(index, greys[index], motion)
            outputs += [carried.trust, track.stabilise(carried.ab, motion)]
        track.ahead = {}
    return outputs, found


def ab_error(ab: np.ndarray, rgb: np.ndarray) -> float:
    truth = lab(rgb)[1:].permute(1, 2, 0).numpy()
    return float(np.sqrt(((ab - truth) ** 2).sum(-1)).mean())


def test_propagation_stops_at_a_cut_and_never_carries_into_the_next_shot():
    """A pan of one scene cut to a pan of another, in one entry: the keyframe's colour follows
    the first shot and nothing of it reaches the second."""
    shot_a = panning_frames(6, size=(96, 128), seed=3, step=2)
    shot_b = panning_frames(6, size=(96, 128), seed=77, step=2)
    track = ShotTrack(FlowEstimator(finest_scale=0), [keyframe_of(shot_a[0], frame=0)])
    carried = run(track, shot_a + shot_b)
    assert all(c.trust.mean() > 0.8 for c in carried[:6])
    assert all(c.trust.max() == 0 for c in carried[6:])
    assert track.chains == [None]


def test_the_chain_follows_a_pan_further_than_the_direct_flow_can():
    """A long pan: the last frame shares 41% of the keyframe, too little for the direct flow
    to follow (a track without history colours nothing), yet the chained flow colours that
    shared part faithfully and leaves what came into view since to the other sources."""
    frames = panning_frames(16, size=(96, 128), seed=8, step=5)
    keyframe = keyframe_of(frames[0], frame=0)
    alone = run(ShotTrack(FlowEstimator(finest_scale=0), [keyframe]), frames[-1:], first=15)
    assert alone[0].trust.max() == 0
    last = run(ShotTrack(FlowEstimator(finest_scale=0), [keyframe]), frames)[-1]
    covered = last.trust > 0.9
    assert 0.3 < covered.float().mean() < 0.45
    truth = lab(frames[-1])[1:]
    assert ((last.ab - truth) ** 2).sum(0).sqrt()[covered].mean() < 5.0


def test_several_keyframes_blend_by_distance():
    """Keyframes at frames 0 and 8, painted with ab shifted +10 and -10: frame 2 takes three
    quarters of the first and a quarter of the second."""
    frames = panning_frames(9, size=(96, 128), seed=4, step=1)
    keyframes = [
        keyframe_of(frames[0], frame=0, ab_shift=(10.0, 0.0)),
        keyframe_of(frames[8], frame=8, ab_shift=(-10.0, 0.0)),
    ]
    track = ShotTrack(FlowEstimator(finest_scale=0), keyframes)
    carried = run(track, frames)
    truth = lab(frames[2])[1:]
    inside = carried[2].trust > 0.99
    shift = float((carried[2].ab[0] - truth[0])[inside].mean())
    assert abs(shift - 5.0) < 1.0  # 0.75 * 10 + 0.25 * -10
    assert track.weighted(2)[0][1] == 0.75 and track.weighted(9)[1][1] == 1.0


def test_stabilisation_damps_flicker_and_leaves_the_first_frame_alone():
    """Colour that jumps +-6 in a from frame to frame on a static scene comes out steadier."""
    frame = panning_frames(1, size=(96, 128), seed=2)[0]
    grey = lab_grey(lab(frame)[0])
    track = ShotTrack(FlowEstimator(), [], steady=0.5)
    outputs = []
    for index in range(6):
        ab = torch.zeros(2, 96, 128)
        ab[0] = 6.0 if index % 2 else -6.0
        outputs.append(float(track.stabilise(ab, track.step(index, grey))[0].mean()))
    assert outputs[0] == -6.0
    swings = np.abs(np.diff(outputs[1:]))
    assert swings.max() < 8.0  # unsteadied: 12


def test_a_batchs_motions_found_together_colour_as_those_found_frame_by_frame():
    """`prefetch` checks a batch's flows together (on a GPU one wait for the device, not one a
    frame); the frames come out exactly as when each frame's motions are found as it comes,
    across a cut inside a batch and with stabilisation on."""
    frames = panning_frames(5, size=(96, 128), seed=3, step=2)
    frames += panning_frames(3, size=(96, 128), seed=77, step=2)
    greys = [lab_grey(lab(rgb)[0]) for rgb in frames]

    def follow(prefetched: bool) -> list[torch.Tensor]:
        keyframes = [keyframe_of(frames[0], frame=0)]
        track = ShotTrack(FlowEstimator(finest_scale=0), keyframes, steady=0.5)
        return follow_in_batches(track, greys, (range(0, 4), range(4, 8)), prefetched)[0]

    together, alone = follow(prefetched=True), follow(prefetched=False)
    assert all(torch.equal(a, b) for a, b in zip(together, alone, strict=True))
    trusts = together[::2]
    assert trusts[3].mean() > 0.8 and trusts[6].max() == 0  # the first shot's colour, and a cut


def test_a_reference_too_far_to_follow_costs_a_look_not_its_full_flows():
    """An unplaced reference, three frames of another scene, then its own shot (a cut inside
    the first batch): `prefetch` looks at each frame no chain reaches at half resolution first,
    skips the full flows from the reference to the three it cannot follow and to none after the
    one that starts a chain; the frames come out exactly as when every flow is found in full."""
    own = panning_frames(5, size=(96, 128), seed=3, step=2)
    frames = panning_frames(3, size=(96, 128), seed=77, step=2) + own
    greys = [lab_grey(lab(rgb)[0]) for rgb in frames]
    batches = (range(0, 4), range(4, 8))

    def follow(prefetched: bool) -> tuple[list[torch.Tensor], list[int], list[set]]:
        flows = FlowEstimator(finest_scale=0)
        full_pairs = []
        between_many = flows.between_many

        def counted(pairs, finest_scale=None):
            if finest_scale is None:
                full_pairs.append(len(pairs))
            return between_many(pairs, finest_scale)

        flows.between_many = counted
        track = ShotTrack(flows, [keyframe_of(own[0])], steady=0.5)
        outputs, found = follow_in_batches(track, greys, batches, prefetched)
        skipped = [{key for key, motion in ahead.items() if motion is None} for ahead in found]
        return outputs, full_pairs, skipped

    (looked, looked_pairs, skipped), (full, full_pairs, _) = follow(True), follow(False)
    assert all(torch.equal(a, b) for a, b in zip(looked, full, strict=True))
    assert skipped == [{("direct", 0, 0), ("direct", 0, 1), ("direct", 0, 2)}, set()]
    # Each pair is two flows. Every frame after the first: a step; every frame: the reference.
    assert sum(full_pairs) == 7 + 8
    assert sum(looked_pairs) == 7 + 8 - 3
