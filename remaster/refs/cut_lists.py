"""Cut lists in the formats editing tools exchange, read and written by the tools' own libraries.

One form inside remaster: the sorted first frames (0-based) of every shot after the first.

    .csv   PySceneDetect's scene list (`scenedetect ... list-scenes`): one row per scene, its
           "Start Frame" counted from 1. Written by scenedetect's own `write_scene_list`.
    .edl   CMX 3600, through OpenTimelineIO's cmx_3600 adapter.
    .otio  OpenTimelineIO's JSON timeline, through OpenTimelineIO.

An EDL or OTIO timeline is read as the film's own timeline: a cut is where a clip or a gap of
a video track begins (an EDL's record side), counted from the track's start (an EDL's first
event), so an EDL that starts at 01:00:00:00 means the same cuts as one that starts at
00:00:00:00. Transitions add no cut of their own: OpenTimelineIO puts the cut in the middle of
a dissolve.
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import opentimelineio as otio
from opentimelineio import opentime, schema
from scenedetect import FrameTimecode
from scenedetect.output import write_scene_list
from scenedetect.scene_manager import get_scenes_from_cuts

from model.files import write_atomically
from remaster.errors import InputError, OutputError

FORMATS = {
    ".csv": "PySceneDetect scene list",
    ".edl": "CMX 3600 EDL",
    ".otio": "OpenTimelineIO JSON",
}
START_FRAME = "Start Frame"  # scenedetect's column, and the one its own `load-scenes` reads
START_SECONDS = "Start Time (seconds)"
# The adapters raise these on files they cannot read (bad JSON, fields, timecodes, encodings;
# the EDL adapter an AttributeError on an event number given twice).
UNREADABLE = (
    otio.exceptions.OTIOError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
)


def read_cuts(path: Path, rate: Fraction, frame_count: int | None = None) -> list[int]:
    """The cut frames a cut list gives for a film at `rate` frames per second; with the film's
    `frame_count`, a cut past its end is refused (the list of another film, or another rate)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputError(f"{path}: {suffix or 'no extension'} is not a cut list; {_formats()}")
    if not path.is_file():
        raise InputError(f"{path}: no such cut list")
    if suffix == ".csv":
        cuts = _read_scene_list(path, rate)
    else:
        cuts = _timeline_cuts(path, _read_timeline(path, rate), rate)
    cuts = sorted({cut for cut in cuts if cut > 0})
    if frame_count is not None and cuts and cuts[-1] >= frame_count:
        raise InputError(
            f"{path}: a cut at frame {cuts[-1]} lies past the film's last frame "
            f"({frame_count - 1}); give the cut list of this film, made at its frame rate "
            f"({float(rate):.3f} fps)"
        )
    return cuts


def check_writable(path: Path, rate: Fraction) -> None:
    """Refuse, before any work, a cut list `write_cuts` could not write at `rate`."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(f"{path}: cannot write {suffix or 'no extension'}; {_formats()}")
    if suffix == ".edl" and not _smpte(rate):
        raise OutputError(f"{path}: {_no_timecodes(rate)}")


def write_cuts(path: Path, cuts: list[int], frame_count: int, rate: Fraction, name: str) -> None:
    """Write the shots between `cuts` of a film of `frame_count` frames at `rate` frames per
    second; `name` is the film's file name (the clips' media, the timeline's title)."""
    cuts = sorted(set(cuts))
    if cuts and (cuts[0] <= 0 or cuts[-1] >= frame_count):
        raise ValueError(f"cuts must lie in 1..{frame_count - 1}, got {cuts}")
    check_writable(path, rate)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = _scene_list_text(cuts, frame_count, rate)
    elif suffix in (".edl", ".otio"):
        timeline = _timeline(cuts, frame_count, rate, name)
        text = (
            _edl_text(timeline, rate)
            if suffix == ".edl"
            else otio.adapters.write_to_string(timeline, "otio_json")
        )
    write_atomically(path, text.encode("utf-8"))


def _smpte(rate: Fraction) -> bool:
    return opentime.RationalTime.is_smpte_timecode_rate(float(rate))


def _no_timecodes(rate: Fraction) -> str:
    return (
        "CMX 3600 timecodes exist only at 23.976, 24, 25, 29.97, 30, 48, 50, 59.94 and 60 "
        f"fps, not at {float(rate):.3f} fps; use a .csv or .otio cut list"
    )


def _formats() -> str:
    return "use " + ", ".join(f"{suffix} ({kind})" for suffix, kind in FORMATS.items())


def _read_scene_list(path: Path, rate: Fraction) -> list[int]:
    """Scene starts from PySceneDetect's CSV, read as its own `load-scenes` command does (the
    header is the first or, after the "Timecode List" row, the second row). scenedetect keeps
    that reader inside its command line, where it needs an opened video, so the csv module
    reads the file here."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if START_FRAME not in header:
                header = next(reader, [])
            if START_FRAME not in header:
                raise InputError(
                    f"{path}: no {START_FRAME!r} column in its first two lines; give "
                    "PySceneDetect's scene list (scenedetect ... list-scenes)"
                )
            column = header.index(START_FRAME)
            seconds_column = header.index(START_SECONDS) if START_SECONDS in header else None
            starts: list[int] = []
            for row in reader:
                if not any(field.strip() for field in row):
                    continue
                where = f"{path}, line {reader.line_num}"
                text = row[column].strip() if column < len(row) else ""
                if not (text.isascii() and text.isdigit()) or int(text) < 1:
                    raise InputError(
                        f"{where}: {START_FRAME} is {text!r}, not a frame number of 1 or more "
                        "(PySceneDetect counts frames from 1); fix or re-export the scene list"
                    )
                start = int(text) - 1
                if starts and start <= starts[-1]:
                    raise InputError(
                        f"{where}: this scene starts at frame {text}, not after the scene "
                        f"before it (frame {starts[-1] + 1}); list scenes in order"
                    )
                _check_seconds(where, row, seconds_column, start, rate)
                starts.append(start)
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: is not a text file; give PySceneDetect's CSV scene list"
        ) from None
    except csv.Error as error:
        raise InputError(f"{path}: not valid CSV ({error}); re-export the scene list") from None
    return starts


def _check_seconds(where: str, row: list[str], column: int | None, start: int, rate: Fraction):
    """A scene list made at another frame rate numbers other frames: its start times say so."""
    if column is None or column >= len(row):
        return
    try:
        seconds = float(row[column])
    except ValueError:
        return
    if abs(seconds * rate - start) > 1:
        raise InputError(
            f"{where}: frame {start + 1} starts at {seconds:.3f} s, which is frame "
            f"{round(seconds * rate) + 1} at this film's {float(rate):.3f} fps; the scene list "
            "was made from a video at another frame rate: detect the scenes on this film"
        )


def _read_timeline(path: Path, rate: Fraction) -> schema.Timeline:
    kind = FORMATS[path.suffix.lower()]
    try:
        if path.suffix.lower() == ".edl":
            # An EDL holds timecodes only: the film's rate says how many frames a second has.
            if not _smpte(rate):
                raise InputError(f"{path}: {_no_timecodes(rate)}")
            text = path.read_text(encoding="utf-8-sig")
            _refuse_clock_timecodes(path, text, rate)
            text = _without_header_comments(text)
            timeline = otio.adapters.read_from_string(text, "cmx_3600", rate=float(rate))
        else:
            timeline = otio.adapters.read_from_file(str(path), "otio_json")
    except UNREADABLE as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{path}: OpenTimelineIO cannot read it as {kind} ({message}); export it again "
            f"from the editing tool as {kind} at the film's {float(rate):.3f} fps"
        ) from None
    if not isinstance(timeline, schema.Timeline):
        raise InputError(
            f"{path}: holds a {type(timeline).__name__}, not a timeline; export the edit's timeline"
        )
    return timeline


def _refuse_clock_timecodes(path: Path, text: str, rate: Fraction) -> None:
    """PySceneDetect's `save-edl` (0.7.2) writes clock time as HH:MM:SS:FF under "NON-DROP
    FRAME": right at whole rates, but at 23.976 and 29.97 its cuts land a frame late for every
    minute or so of film. Its CSV scene list counts frames exactly."""
    if "CREATED WITH PYSCENEDETECT" in text.upper() and rate.denominator != 1:
        raise InputError(
            f"{path}: an EDL from PySceneDetect, whose timecodes at {float(rate):.3f} fps count "
            "clock time, not frames (its cuts drift a frame a minute); give its CSV scene list "
            "instead (scenedetect ... list-scenes)"
        )


def _without_header_comments(text: str) -> str:
    """The EDL without the '*' comment lines before its first event. The adapter takes only
    TITLE and FCM there and refuses anything else ("Unknown event type"), but editing tools,
    and PySceneDetect's own `save-edl`, write comments there; a comment after an event belongs
    to that event and stays."""
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if line.strip()[:1].isdigit()), len(lines))
    header = [line for line in lines[:first] if not line.strip().startswith("*")]
    return "\n".join([*header, *lines[first:]])


def _timeline_cuts(path: Path, timeline: schema.Timeline, rate: Fraction) -> list[int]:
    """Where each clip or gap of the video tracks begins, in frames from the track's start."""
    tracks = timeline.video_tracks()
    if not any(len(track) for track in tracks):
        raise InputError(f"{path}: has no video events; export the edit's video track")
    cuts = []
    for track in tracks:
        for index, child in enumerate(track):
            if not isinstance(child, otio.core.Item):  # transitions take no time of their own
                continue
            start = track.range_of_child_at_index(index).start_time
            if start.value and abs(start.rate - float(rate)) > 1e-3:
                raise InputError(
                    f"{path}: its timeline runs at {start.rate:.3f} fps, the film at "
                    f"{float(rate):.3f} fps; export the cut list at the film's rate (at "
                    "another rate its frame numbers name other frames)"
                )
            cuts.append(round(start.value_rescaled_to(float(rate))))
    return cuts


def _scene_list_text(cuts: list[int], frame_count: int, rate: Fraction) -> str:
    def at(frame: int) -> FrameTimecode:
        return FrameTimecode(frame, fps=rate)

    scenes = get_scenes_from_cuts([at(cut) for cut in cuts], at(0), at(frame_count))
    buffer = io.StringIO(newline="")
    write_scene_list(buffer, scenes)
    return buffer.getvalue()


def _timeline(cuts: list[int], frame_count: int, rate: Fraction, name: str) -> schema.Timeline:
    """One video track of one clip per shot, each the film's own frames (source = record)."""
    fps = float(rate)  # OpenTimelineIO keeps rates as floats

    def span(first: int, length: int) -> opentime.TimeRange:
        return opentime.TimeRange(
            opentime.RationalTime(first, fps), opentime.RationalTime(length, fps)
        )

    stem = Path(name).stem
    timeline = schema.Timeline(name=stem)
    track = schema.Track(name="V1", kind=schema.TrackKind.Video)
    bounds = [0, *cuts, frame_count]
    for number, (first, end) in enumerate(pairwise(bounds), start=1):
        media = schema.ExternalReference(target_url=name, available_range=span(0, frame_count))
        track.append(
            schema.Clip(
                name=f"{stem} shot {number}",
                media_reference=media,
                source_range=span(first, end - first),
            )
        )
    timeline.tracks.append(track)
    return timeline


def _edl_text(timeline: schema.Timeline, rate: Fraction) -> str:
    """The adapter's EDL with the frame-code-mode line it leaves out (a TODO there): editing
    tools read drop-frame timecodes (HH:MM:SS;FF, which it writes at 29.97 and 59.94) by it."""
    text = otio.adapters.write_to_string(timeline, "cmx_3600", rate=float(rate))
    drop = round(rate) in (30, 60) and rate.denominator != 1
    mode = "FCM: DROP FRAME" if drop else "FCM: NON-DROP FRAME"
    if text.startswith("TITLE:"):  # the title stays the first line
        title, _, events = text.partition("\n")
        return f"{title}\n{mode}\n{events}"
    return f"{mode}\n{text}"
