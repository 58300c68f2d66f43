"""The review room's state: one film, its refs file, and what the page asks of them.

`ReviewRoom` owns everything the server shows or changes: the checked job (re-read whenever
the refs file changes), the one editor of the refs file, the model (loaded on first use), each
reference set's guide, the frames already decoded or coloured, and the background tasks. The
server (server.py) only turns requests into calls here.

A frame in the viewer is coloured by the film's own colour stage (color/stage.py) as a batch of
one: its shot's guide, keyframes and method, without the frames before it; "play" colours the
first seconds of a shot through the same stage frame by frame, as the film run does. A render
is the film run itself (run/film.py), resumed as `remaster batch` resumes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from remaster.color.batches import Assigned, Batch, assign_entries, batch_by_entry
from remaster.color.predictor import ColorPredictor, Guide
from remaster.color.propagation import STEADY
from remaster.color.stage import ColorStage
from remaster.errors import InputError
from remaster.media.forms import output_codec
from remaster.media.frames import Picture
from remaster.media.images import READABLE, fitted, read_image, read_reference, write_image
from remaster.media.planes import grey_rgb, luma_coefficients, rgb_frames
from remaster.media.video import decode_range, frame_timestamps
from remaster.refs.edits import RefsEditor, StaleEdit, store_reference, version_of
from remaster.refs.refs_file import ShotEntry
from remaster.review.proxy import PROXY_SECONDS, write_proxy
from remaster.review.tasks import Task, Tasks
from remaster.run.check import JobCheck, ShotRow, check_job, check_refs, examine_reference
from remaster.run.film import FilmOptions, batch_for, colorize_film
from remaster.run.journal import DifferentJob, work_folder
from remaster.run.weights import resolve_weights

# Decoded frames kept in memory: a slider dragged back and forth over a shot of 4 s at 24 fps.
FRAMES_KEPT = 96
COLORED_KEPT = 64
# Grey frames kept as JPEG: two thumbnails for each of 1000 shots at about 4 kB each, and views.
GREYS_KEPT = 2500
# The largest reference a colorist may drop: a 16-bit TIFF scan of 6K x 4K is about 150 MB.
UPLOAD_LIMIT = 200 * 2**20
# Images listed for picking, at most (a refs folder is one film's references, not an archive).
LISTED_IMAGES = 2000


@dataclass
class ReviewOptions:
    source: Path
    refs: Path
    output: Path  # what "render" writes
    cuts: Path | None = None
    fps: Fraction | None = None
    weights: Path | None = None
    device: str = "auto"
    method: str = "auto"
    working_size: int | None = None
    codec: str | None = None  # the render's (None: by the output's extension)
    debug: bool = False


class ReviewRoom:
    def __init__(self, options: ReviewOptions) -> None:
        self.options = options
        # The refs folder: the refs file's own, where its relative paths start. The page can
        # name no file outside it.
        self.folder = options.refs.resolve().parent
        self._examined: dict[Path, tuple] = {}  # reference -> (size and time, warnings, error)
        self.job: JobCheck | None = None
        self.job = self._check(options.refs)  # a job that would not run: one line, no server
        output_codec(options.output, options.codec)  # a render it could not write, likewise
        self.version = self._version()
        self.error = ""  # why the file on disk cannot be shown, after an edit elsewhere
        info = self.job.source.info
        self.editor = RefsEditor(options.refs, info.rate, info.start_timecode, self._check)
        self.work = options.output.with_name(f".{options.output.name}.review")
        self.tasks = Tasks(options.debug)
        self.lock = threading.RLock()  # the model and the caches: one request at a time
        self._predictor: ColorPredictor | None = None
        self._guides: dict[tuple, Guide] = {}
        self._frames: OrderedDict[int, Picture] = OrderedDict()
        self._colored: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._greys: OrderedDict[tuple, bytes] = OrderedDict()
        self._timestamps: list[int] | None = None

    # The job and the refs file.

    def _check(self, refs: Path) -> JobCheck:
        """The job as `check` sees it, except that a missing or unusable reference is a
        warning on its shot: the page is where the colorist drops the picture that belongs
        there. A render still refuses it, in the run's own words. The film is opened (and its
        frames counted) once; each reference is read again only when its file changes."""
        o = self.options
        if self.job is None:
            return check_job(o.source, refs, None, o.cuts, o.fps, True, self._examine)
        return check_refs(self.job.source, self.job.frames, refs, None, o.cuts, True, self._examine)

    def _examine(self, path: Path) -> list[str]:
        """examine_reference, remembered by the file's size and time (a refs folder of 500
        painted 4K frames would otherwise be read again at every edit)."""
        try:
            stat = path.stat()
            stamp = (stat.st_size, stat.st_mtime_ns)
        except OSError:
            stamp = None
        known = self._examined.get(path)
        if known is None or known[0] != stamp:
            try:
                known = (stamp, examine_reference(path), None)
            except InputError as error:
                known = (stamp, [], error)
            self._examined[path] = known
        if known[2] is not None:
            raise known[2]
        return known[1]

    def _version(self) -> str:
        return version_of(self.options.refs.read_bytes())

    def refresh(self) -> None:
        """Re-read the refs file where it changed on disk (an edit here or elsewhere)."""
        version = self._version()
        if version == self.version:
            return
        try:
            job = self._check(self.options.refs)
        except InputError as error:
            self.error, self.version = str(error), version
            return
        with self.lock:
            self.job, self.version, self.error = job, version, ""

    def state(self) -> dict:
        self.refresh()
        job, info = self.job, self.job.source.info
        cuts = set(job.cuts)
        return {
            "film": job.source.path.name,
            "refs": self.options.refs.name,
            "version": self.version,
            "error": self.error,
            "frames": job.frames,
            "rate": float(info.rate),
            "width": info.width,
            "height": info.height,
            "method": self.options.method,
            "output": str(self.options.output),
            "shots": [self._shot(row, row.first in cuts) for row in job.rows],
        }

    def _shot(self, row: ShotRow, cut: bool) -> dict:
        job = self.job
        names = [self.name_of(path) for path in row.entry.references]
        warnings = [
            w for w in job.warnings if any(w.startswith(str(p)) for p in row.entry.references)
        ]
        keyframes = [k for k in row.entry.keyframes if k is not None]
        return {
            "number": row.number,
            "first": row.first,
            "last": row.last,
            "frames": row.frames,
            "timecode": job.timecode(row.first),
            "last_timecode": job.timecode(row.last),
            "keyframes": keyframes,
            "references": names,
            "approved": row.entry.approved,
            "warnings": [w.replace(str(self.folder) + "/", "") for w in warnings],
            "cut": cut,  # a cut list starts this shot: no refs edit merges it away
        }

    def name_of(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)  # outside the refs folder: named, never served

    def row(self, first: int) -> tuple[ShotRow, int | None]:
        """The shot starting at `first`, and the next one's first frame (None: the last)."""
        rows = self.job.rows
        for k, row in enumerate(rows):
            if row.first == first:
                return row, rows[k + 1].first if k + 1 < len(rows) else None
        raise InputError(f"no shot starts at frame {first}; reload the page")

    def row_of(self, frame: int) -> ShotRow:
        if not 0 <= frame < self.job.frames:
            raise InputError(f"frame {frame} is not in the film (0 to {self.job.frames - 1})")
        return next(row for row in self.job.rows if row.first <= frame <= row.last)

    # Paths from the page.

    def inside(self, name: str) -> Path:
        """A name from the page as a path, only where it resolves inside the refs folder (no
        `..`, absolute path or symlink leads out) and names an image file."""
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder) or path == self.folder:
            raise PermissionError(f"{name!r} is not inside the refs folder")
        if path.suffix.lower() not in READABLE or not path.is_file():
            raise FileNotFoundError(f"{name!r}: no such image in the refs folder")
        return path

    def images(self) -> list[str]:
        """The images in the refs folder and below (not hidden ones), for picking; the walk
        stops at LISTED_IMAGES, so a refs file kept in a large folder costs no full listing."""
        found = []
        for folder, subfolders, files in os.walk(self.folder):
            subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
            for name in sorted(files):
                path = Path(folder) / name
                if not name.startswith(".") and path.suffix.lower() in READABLE:
                    found.append(path.relative_to(self.folder).as_posix())
                    if len(found) == LISTED_IMAGES:
                        return found
        return found

    def reference_image(self, name: str, height: int) -> np.ndarray:
        return shown(read_image(self.inside(name)), height)

    # Frames.

    def picture(self, frame: int) -> Picture:
        """Frame `frame` as decoded planes, seeking to the keyframe before it."""
        with self.lock:
            if frame in self._frames:
                self._frames.move_to_end(frame)
                return self._frames[frame]
            for picture in self.pictures(frame, frame + 1):
                self._frames[frame] = picture
                while len(self._frames) > FRAMES_KEPT:
                    self._frames.popitem(last=False)
            return self._frames[frame]

    def pictures(self, first: int, end: int):
        source = self.job.source
        if source.sequence is not None:
            return source.frames_between(first, end)
        if self._timestamps is None:
            self._timestamps = frame_timestamps(source.path)
            if self._timestamps is None:
                raise InputError(f"{source.path}: its frames carry no timestamps to find them by")
        return decode_range(source.path, source.info.bits, first, end, self._timestamps)

    def grey(self, frame: int, height: int) -> np.ndarray:
        self.row_of(frame)
        return shown(grey_rgb(self.picture(frame), self.job.source.full_range), height)

    def grey_jpeg(self, frame: int, height: int) -> bytes:
        """A grey frame as JPEG, kept: a strip of many shots asks for two thumbnails each."""
        key = (frame, height)
        with self.lock:
            if key not in self._greys:
                self._greys[key] = jpeg(self.grey(frame, height))
                while len(self._greys) > GREYS_KEPT:
                    self._greys.popitem(last=False)
            return self._greys[key]

    def colored(self, frame: int, height: int) -> np.ndarray:
        """Frame `frame` coloured as its shot is: the colour stage on a batch of one."""
        row = self.row_of(frame)
        key = (frame, row.entry, self._stamp(row.entry.references))
        with self.lock:
            if key not in self._colored:
                stage = self.stage(row.entry)
                batch = Batch([Assigned(self.picture(frame), row.entry)])
                self._colored[key] = self.rgb(stage, [stage.color(batch)])[0]
                while len(self._colored) > COLORED_KEPT:
                    self._colored.popitem(last=False)
            return shown(self._colored[key], height)

    def rgb(self, stage: ColorStage, predictions) -> list[np.ndarray]:
        info = self.job.source.info
        coefficients = luma_coefficients(info.colorspace, info.height)
        frames = rgb_frames(predictions, coefficients, stage.full_range, info.bits, 8)
        return [frame.rgb for frame in frames]

    # The model.

    def stage(self, entry: ShotEntry) -> ColorStage:
        """A colour stage as the film run makes it, for one entry's frames. Guides are made
        when first needed (a film of 500 shots opens without embedding 500 references)."""
        with self.lock:
            predictor = self.predictor()
            references, weights = entry.palette
            key = (references, weights, self._stamp(references))
            if key not in self._guides:
                images = [read_reference(path) for path in references]
                self._guides[key] = predictor.guide(*images, weights=weights)
            guides = {entry.palette: self._guides[key]}
            source = self.job.source
            return ColorStage(predictor, guides, source.full_range, source.info.bits, STEADY)

    def predictor(self) -> ColorPredictor:
        if self._predictor is None:
            from model.colorizer import Colorizer

            o = self.options
            colorizer = Colorizer.from_checkpoint(
                resolve_weights(o.weights), o.device, o.working_size
            )
            self._predictor = ColorPredictor(colorizer, o.method)
        return self._predictor

    def _stamp(self, references: tuple[Path, ...]) -> tuple:
        """When each reference was last written: a repainted file is a new reference."""
        return tuple(p.stat().st_mtime_ns if p.is_file() else None for p in references)

    # Edits: each returns the new state.

    def upload(self, version: str, first: int, filename: str, data: bytes) -> dict:
        """A dropped image checked as the run checks a reference, stored in the refs folder
        as a new PNG (re-encoded; never over an existing file), and made the shot's one
        reference."""
        suffix = Path(filename).suffix.lower()
        stem = safe_stem(filename)
        if suffix not in READABLE:
            raise InputError(f"{filename}: is not a PNG, JPEG or TIFF image; drop one of those")
        if version != self.editor.version():  # before storing a file nobody would use
            raise StaleEdit(
                f"{self.options.refs}: changed on disk since this page read it; "
                "nothing was changed: reload to see it, then drop the image again"
            )
        with self.editor.lock:
            staged = self.folder / f".{stem}.upload{suffix}"
            try:
                staged.write_bytes(data)
                try:
                    image = read_reference(staged)
                except InputError as error:
                    raise InputError(str(error).replace(str(staged), filename)) from None
                target = store_reference(self.folder, stem)
                write_image(target, image)
            finally:
                staged.unlink(missing_ok=True)
        return self.use_reference(version, first, target.relative_to(self.folder).as_posix())

    def use_reference(self, version: str, first: int, name: str) -> dict:
        self.inside(name)
        row, end = self.row(first)
        self.editor.set_reference(version, row.first, end, name)
        return self.state()

    def set_keyframe(self, version: str, first: int, frame: int | None) -> dict:
        row, end = self.row(first)
        if frame is not None and not row.first <= frame <= row.last:
            raise InputError(f"frame {frame} is not in shot {row.number}")
        self.editor.set_keyframe(version, row.first, end, frame)
        return self.state()

    def approve(self, version: str, first: int, approved: bool) -> dict:
        row, end = self.row(first)
        self.editor.approve(version, row.first, end, approved)
        return self.state()

    def split(self, version: str, frame: int) -> dict:
        row = self.row_of(frame)
        if frame == row.first:
            raise InputError(f"frame {frame} already starts shot {row.number}")
        self.editor.split(version, frame)
        return self.state()

    def merge(self, version: str, first: int) -> dict:
        row, following = self.row(first)
        if following is None:
            raise InputError(f"shot {row.number} is the last; there is no next shot to merge")
        self.editor.merge(version, following, cut=following in self.job.cuts)
        return self.state()

    # Long work.

    def play(self, first: int) -> Task:
        """A short before/after proxy of the shot, made once per shot and refs state."""
        row, _ = self.row(first)
        end = min(row.last + 1, row.first + round(PROXY_SECONDS * float(self.job.rate)))
        digest = hashlib.sha256(
            repr((row.entry, self._stamp(row.entry.references), self.options.method)).encode()
        ).hexdigest()[:12]
        path = self.work / f"proxy-{row.first:06d}-{end:06d}-{digest}.mp4"

        def work(task: Task) -> str:
            if not path.exists():
                self.work.mkdir(exist_ok=True)
                task.progress(0, end - row.first)
                stage = self.stage(row.entry)
                pictures = self.pictures(row.first, end)
                items = assign_entries(pictures, self.job.plan, self.job.rate)
                colorizer = stage.predictor.colorizer
                size = batch_for(
                    self.film_options(), self.job.source.info, colorizer.device,
                    colorizer.working_short_side,
                )  # fmt: skip
                batches = batch_by_entry(items, size, end + 1)  # one segment: no warm-up
                write_proxy(path, self.job.source, stage, batches, task.progress, self.lock)
            return f"/proxy/{path.name}"

        return self.tasks.start("proxy", f"shot {row.number}: {path.name}", work)

    def film_options(self, approved_only: bool = False) -> FilmOptions:
        """The film job this room renders, as `remaster FILM --refs FILE` would run it."""
        o = self.options
        return FilmOptions(
            source=o.source,
            output=o.output,
            refs=o.refs,
            cuts=o.cuts,
            fps=o.fps,
            weights=o.weights,
            device=o.device,
            method=o.method,
            working_size=o.working_size,
            codec=o.codec,
            only_approved=approved_only,
            quiet=True,
        )

    def proxy_path(self, name: str) -> Path:
        path = (self.work / name).resolve()
        if path.parent != self.work.resolve() or not name.startswith("proxy-"):
            raise PermissionError(f"{name!r} is not a proxy of this room")
        if not path.is_file():
            raise FileNotFoundError(name)
        return path

    def render(self, approved_only: bool) -> Task:
        """The film job, as `remaster FILM --refs FILE` runs it, in the background; an
        interrupted render is resumed as `remaster batch` resumes one."""
        running = self.tasks.busy("render")
        if running is not None:
            return running
        o, options = self.options, self.film_options(approved_only)

        def work(task: Task) -> str:
            options.progress = task.progress
            with self.lock:
                predictor = self.predictor()
            # Resumed as `remaster batch` resumes: where an interrupted render left its
            # work folder. One of another refs state cannot be used: start over.
            try:
                resume = work_folder(o.output).is_dir()
                summary = colorize_film(replace(options, resume=resume), predictor.colorizer)
            except DifferentJob:
                summary = colorize_film(options, predictor.colorizer)
            task.message = f"wrote {o.output}: {summary.line()}"
            return None

        label = "approved shots" if approved_only else "all shots"
        return self.tasks.start("render", label, work)


def safe_stem(filename: str) -> str:
    """A file name's stem as letters, digits, '-' and '_' only (never a path)."""
    stem = Path(filename.replace("\\", "/")).stem
    kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem).strip("-")
    return kept[:80] or "reference"


def shown(image: np.ndarray, height: int) -> np.ndarray:
    """`fitted`, never enlarged: the page scales it up itself."""
    return fitted(image, min(height, image.shape[0]))


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError("a frame could not be encoded as JPEG")
    return data.tobytes()
