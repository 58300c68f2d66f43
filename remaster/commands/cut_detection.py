"""Finding the cuts of a black-and-white film: hard cuts and fades, on luminance alone.

    detector = cut_detector("scenedetect", rate)
    for picture in decode(film):
        detector.feed(picture.index, analysis_grey(picture.y, full_range))
    cuts = detector.finish()                   # first frame of each shot after the first

PySceneDetect, the tool editors know, does the work: its AdaptiveDetector in luma-only mode
(a frame's change against the average change of the frames around it, so a moving camera does
not read as a run of cuts) for hard cuts, and its ThresholdDetector for fades through black.
benchmarks/cuts.py measures it against its ContentDetector and a detector of our own on real
clips cut at known frames; docs/archive-workflow.md gives the numbers and the reason for the choice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, ThresholdDetector

# Frames are analysed at this width: PySceneDetect's own default, and plenty for a cut.
ANALYSIS_WIDTH = 256
# No shot is shorter than this: a flash or a fast pan must not split a shot into slivers.
MIN_SHOT_SECONDS = 0.4
# A fade through black passes below this mean luma (0-255).
FADE_LEVEL = 12
# The adaptive detector's floor on a frame's change (mean absolute luma difference, 0-255).
# PySceneDetect's default, 15, misses every jump cut of a fixed camera (the background stays;
# only the people move: 5.5-10); at 4-5 the benchmark's cuts are all found with no false ones,
# at 3 and 6 F1 drops to 0.99 (benchmarks/cuts.py, clips 0-2; 3-5 held out).
MIN_CHANGE = 5.0
# A frame that differs from the one before by less than this (mean absolute luma, 0-255) is a
# repeat of it.
REPEATED = 0.5
# Our own detector: a cut where DIS flow from the frame before is consistent on less than this
# share of the frame (remaster eval's rule).
FLOW_SHARE = 0.35


def analysis_grey(luma: np.ndarray, full_range: bool) -> np.ndarray:
    """A frame's 8-bit luma plane as the grey it shows (0-255, black at 0 whatever the range,
    so a fade's level means the same in every file), at the analysis width (aspect kept)."""
    height, width = luma.shape
    if width > ANALYSIS_WIDTH:
        size = (ANALYSIS_WIDTH, max(1, round(height * ANALYSIS_WIDTH / width)))
        luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
    if full_range:
        return luma
    # Limited range: black is code 16 and white 235.
    return cv2.convertScaleAbs(luma, alpha=255 / 219, beta=-16 * 255 / 219)


def mean_change(before: np.ndarray, after: np.ndarray) -> float:
    return float(cv2.absdiff(before, after).mean())


@dataclass
class SceneDetectCuts:
    """PySceneDetect detectors run on luma frames; their cuts joined."""

    rate: Fraction
    detectors: list = field(default_factory=list)
    found: set[int] = field(default_factory=set)
    last: int = -1
    previous: np.ndarray | None = None

    def feed(self, index: int, grey: np.ndarray) -> None:
        # A repeated frame (a frame-rate conversion's: 20 to 29.97 frames/s repeats every
        # third) changes nothing; fed in, its zero change makes the next frame's ordinary
        # change look large against its neighbours', and the adaptive detector cuts a
        # handheld shot into pieces. It cannot be a cut, so the detectors never see it.
        if self.previous is not None and mean_change(self.previous, grey) < REPEATED:
            self.last = index
            return
        self.previous = grey
        # The detectors read BGR; a grey frame's three channels are its luma (and luma_only
        # makes them look at the HSV value channel alone, which for grey is the luma).
        bgr = np.repeat(grey[..., None], 3, axis=2)
        timecode = FrameTimecode(index, float(self.rate))
        for detector in self.detectors:
            self.found.update(cut.frame_num for cut in detector.process_frame(timecode, bgr))
        self.last = index

    def finish(self) -> list[int]:
        if self.last >= 0:
            timecode = FrameTimecode(self.last, float(self.rate))
            for detector in self.detectors:
                self.found.update(cut.frame_num for cut in detector.post_process(timecode))
        return merge_close(sorted(cut for cut in self.found if cut > 0), self.min_frames)

    @property
    def min_frames(self) -> int:
        return max(1, round(MIN_SHOT_SECONDS * float(self.rate)))


def merge_close(cuts: list[int], min_frames: int) -> list[int]:
    """Cuts closer than `min_frames` to the one before are one transition: keep the first."""
    kept: list[int] = []
    for cut in cuts:
        if not kept or cut - kept[-1] >= min_frames:
            kept.append(cut)
    return kept


DETECTORS = ("scenedetect", "content", "adaptive-default", "adaptive", "flow")


def cut_detector(name: str, rate: Fraction) -> SceneDetectCuts:
    """A fresh detector: "scenedetect" (the default: adaptive cuts and fades); for the
    benchmark, PySceneDetect's "content", "adaptive-default" (its own settings) and "adaptive"
    (ours) alone, and "flow", a detector of our own."""
    shortest = max(1, round(MIN_SHOT_SECONDS * float(rate)))
    adaptive = AdaptiveDetector(luma_only=True, min_scene_len=shortest, min_content_val=MIN_CHANGE)
    fades = ThresholdDetector(threshold=FADE_LEVEL, min_scene_len=shortest, fade_bias=1.0)
    chosen = {
        "scenedetect": [adaptive, fades],
        "content": [ContentDetector(luma_only=True, min_scene_len=shortest)],
        "adaptive-default": [AdaptiveDetector(luma_only=True, min_scene_len=shortest)],
        "adaptive": [adaptive],
    }
    if name == "flow":
        return FlowCuts(rate)
    if name not in chosen:
        raise ValueError(f"unknown cut detector {name!r}; choose from {', '.join(DETECTORS)}")
    return SceneDetectCuts(rate, chosen[name])


@dataclass
class FlowCuts:
    """Our own: a cut where the frame cannot be followed from the one before by optical flow
    (remaster/color/flow.py, forward-backward consistent on less than FLOW_SHARE of the frame)."""

    rate: Fraction
    found: list[int] = field(default_factory=list)
    previous: np.ndarray | None = None

    def __post_init__(self) -> None:
        from remaster.color.flow import FlowEstimator

        self.flows = FlowEstimator()

    def feed(self, index: int, grey: np.ndarray) -> None:
        if self.previous is not None:
            if self.flows.between(self.previous, grey).visible.float().mean() < FLOW_SHARE:
                self.found.append(index)
        self.previous = grey

    def finish(self) -> list[int]:
        return merge_close(self.found, max(1, round(MIN_SHOT_SECONDS * float(self.rate))))
