"""`remaster FILM --refs shots.yaml`: the film pipeline, stage by stage.

    check the job (run/check.py) -> read and embed the references once (color/predictor.py)
    -> decode (thread) -> assign refs entries -> batch (never across entries or segments)
    -> colour stage: the entry's guide and track (thread; --method, --stabilise;
    color/stage.py) -> chroma planes -> encode into segments (journaled; run/segments.py)
    -> mux with the original audio and subtitles -> rename into place

Under torchrun each process does this for its share of the segments and rank 0 does the
last two steps (run/ranks.py).

An image sequence in or out changes only the ends (media/forms.py): frames read from files, or
RGB frames written per segment and moved into place.

The output appears under its name only when complete; an interrupted run leaves its finished
segments in a work folder beside the output for `--resume`.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import torch

from model.colorizer import Colorizer, resolve_device, scaled_size
from remaster.color.predictor import ColorPredictor, Guide
from remaster.color.propagation import STEADY
from remaster.color.stage import ColorStage
from remaster.errors import InputError, OutputError
from remaster.media.damage import DecodePolicy, DecodeReport
from remaster.media.forms import SequenceSink, VideoSink, input_identity, open_sink, output_codec
from remaster.media.images import read_reference
from remaster.media.side_by_side import SideBySideSink
from remaster.media.video import VideoInfo, codec_for
from remaster.refs.refs_file import RefsPlan
from remaster.run.check import JobCheck, check_job
from remaster.run.journal import Journal, file_digest
from remaster.run.ranks import Ranks
from remaster.run.segments import Share, rank_frames
from remaster.run.weights import resolve_weights

# What a full disk looks like: the user frees space and resumes.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


@dataclass
class FilmOptions:
    source: Path
    output: Path
    refs: Path | None = None
    ref: Path | None = None
    weights: Path | None = None
    device: str = "auto"
    batch_size: int | None = None  # None: the measured best (see batch_for)
    working_size: int | None = None
    codec: str | None = None
    crf: int = 18
    preset: str = "medium"
    segment_frames: int = 1000
    resume: bool = False
    quiet: bool = False
    method: str = "auto"
    stabilise: bool = True
    flow: str = "auto"  # optical flow: opencv, torch, or auto (by device; color/flow.py)
    adapt: int = 0  # fine-tuning steps per reference set before colouring (0: off)
    cuts: Path | None = None  # a cut list (.csv, .edl, .otio): entries split into its shots
    fps: Fraction | None = None  # an image sequence's frame rate (a video carries its own)
    audio: Path | None = None  # sound to mux instead of the source's (a sequence has none)
    on_decode_error: str = "stop"  # a frame the decoder rejects: stop, repeat or skip (damage.py)
    max_decode_errors: int = 10  # damaged frames repeated or skipped before giving up
    deinterlace: bool = False
    accept_short: bool = False  # write a file cut short (fewer frames than its header says)
    side_by_side: Path | None = None  # also a before/after video: grey | colour (side_by_side.py)
    only_approved: bool = False  # colour the shots marked `approved: true`; the rest stay grey
    # Told (frames done, frames in all) as the run goes: the review page's progress bar.
    progress: Callable[[int, int | None], None] | None = None


@dataclass
class FilmSummary:
    frames: int
    shots: int
    references: int
    seconds: float
    resumed_segments: int
    notes: list[str]
    methods: str = ""  # frames coloured by each method, e.g. "120 propagate, 96 exemplar"
    adapt_seconds: list[float] = field(default_factory=list)  # per reference set, with --adapt

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds else float("nan")
        resumed = f", {self.resumed_segments} segments resumed" if self.resumed_segments else ""
        methods = f"; colour from {self.methods}" if self.methods else ""
        return (
            f"{self.frames} frames, {self.shots} shots, {self.references} reference sets, "
            f"{self.seconds:.1f} s ({fps:.1f} frames/s){resumed}{methods}"
        )


# A batch is 4 frames, or fewer where 4 would hold more pixels than 4 frames of the largest
# size batches of 4 were measured at: to pay, on a CPU (640x360); at all, on the GPU machine
# (1920x1080). A batch's memory grows with its pixels, so a 4K or 8K scan goes a frame at a time.
# The pixels are the film's or the network's working size's, whichever is larger: a working
# size above the film's own multiplies the network's and the matcher's memory.
BATCH_FRAMES = 4
BATCH_PIXELS = {"cpu": BATCH_FRAMES * 640 * 360, "gpu": BATCH_FRAMES * 1920 * 1080}


def batch_for(
    options: FilmOptions, info: VideoInfo, device: torch.device, working_short_side: int
) -> int:
    """The batch size asked for, or the measured best for the film's frames (`info`) on
    `device`, coloured at `working_short_side`. On 2 CPU cores `make demo`'s command (the reel,
    640x360) took 111.7 / 112.5 s in batches of 1 and 103.8 / 101.9 s in batches of 4
    (alternating), once the convolutions ran channels-last there (model/colorizer.py
    `on_device`). Larger frames gained less and held more (the reel's first 48 frames scaled
    up, the whole command, means of 2-3 runs; docs/speed.md): 854x480 in batches of 1 / 2 / 4
    1.60 / 1.70 / 1.72 frames/s, peak 1294 / 1471 / 1926 MiB; 1280x720 in batches of 1 and 4
    0.90 and 0.87 frames/s, 1835 and 2748 MiB; 1920x1080 0.83 and 0.81 frames/s, 2186 and 3334
    MiB. So did a larger working size: the reel's first 30 frames at `--working-size 1024`
    (1820x1024), batches of 4 266.5 s and 6.59 GiB, of 1 250.4 s and 2.53 GiB (one run each)."""
    if options.batch_size:
        return options.batch_size
    budget = BATCH_PIXELS["cpu" if device.type == "cpu" else "gpu"]
    working = scaled_size(info.height, info.width, working_short_side)
    pixels = max(info.width * info.height, working[0] * working[1])
    return max(1, min(BATCH_FRAMES, budget // pixels))


def default_output(source: Path) -> Path:
    return source.with_name(f"{source.stem}-remastered{source.suffix}")


def check_paths(options: FilmOptions) -> str | None:
    source, output = options.source.resolve(), options.output.resolve()
    if source == output:
        raise OutputError(f"{options.output}: is the input; choose another output name")
    if output.parent.exists() and not output.parent.is_dir():
        raise OutputError(f"{options.output}: {output.parent} is a file, not a folder")
    if not output.parent.is_dir():
        raise OutputError(f"{options.output}: folder {output.parent} does not exist")
    if not os.access(output.parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"{options.output}: folder {output.parent} is not writable; choose another output "
            "folder or change its permissions"
        )
    check_device(options.device)
    if (options.refs is None) == (options.ref is None):
        raise InputError("give either --refs FILE.yaml or --ref IMAGE (one of them)")
    codec = output_codec(options.output, options.codec)
    if options.side_by_side is not None:
        check_side_by_side(options, codec)
    return codec


def check_side_by_side(options: FilmOptions, codec: str | None) -> None:
    """Before any work: the side-by-side video is muxed from the film's own segments, so it
    needs a video output, and it must not write over a file the run reads or writes."""
    given = options.side_by_side
    path = given.resolve()
    if codec is None:
        raise OutputError(
            f"--side-by-side needs a video output (.mp4, .mov, .mkv); {options.output} is an "
            "image sequence"
        )
    if path == options.output.resolve():
        raise OutputError(f"--side-by-side {given}: is the output; give it another name")
    inputs = [options.source, options.audio, options.refs, options.ref, options.cuts]
    if any(other is not None and path == other.resolve() for other in inputs):
        raise OutputError(f"--side-by-side {given}: is an input; give it another name")
    if not path.parent.is_dir():
        raise OutputError(
            f"--side-by-side {given}: folder {path.parent} does not exist; create it or choose "
            "another"
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"--side-by-side {given}: folder {path.parent} is not writable; choose another "
            "folder or change its permissions"
        )
    try:
        codec_for(given, None)
    except OutputError as error:
        raise OutputError(f"--side-by-side {error}") from None


def check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(
            f"--device {device}: no CUDA GPU is usable here (torch {torch.__version__}); use "
            "--device cpu, or --device auto to take a GPU where there is one"
        )


def job_description(
    options: FilmOptions, plan: RefsPlan, weights: Path, codec: str, cuts: list[int] | None = None
) -> dict:
    """Everything that decides the output's bytes, so a resumed run can check it is the same."""
    references = sorted({str(p) for refs, _ in plan.palettes() for p in refs})
    description = {
        "input": input_identity(options.source, options.fps),
        "refs": plan_identity(plan, options.only_approved) if options.refs else None,
        "references": [[p, file_digest(Path(p))] for p in references],
        "weights": file_digest(weights),
        "options": [
            codec,
            options.crf,
            options.preset,
            options.working_size,
            options.segment_frames,
            options.batch_size,
            options.device,
            options.method,
            options.stabilise,
            options.adapt,
        ],
        "flow": options.flow,
    }
    if options.deinterlace:  # changes every frame's luma
        description["deinterlace"] = "bwdif"
    if cuts:  # the cut frames themselves: the same cuts from another file are the same job
        description["cuts"] = list(cuts)
    if options.only_approved:
        description["only_approved"] = True
    if options.side_by_side is not None:  # its segments are in the work folder too
        description["side_by_side"] = codec_for(options.side_by_side, None)
    return description


def plan_identity(plan: RefsPlan, only_approved: bool) -> list:
    """What of the refs file decides the output: each entry's start, references, keyframes
    and weights, and the default. Not its bytes: comments, the way a start is written and
    (unless only approved shots are coloured) the approval marks change no frame, so a colorist
    who approves shots during a long render can still resume it."""
    entries = [
        [
            entry.start.frame,
            entry.start.seconds,
            [str(path) for path in entry.references],
            list(entry.keyframes),
            list(entry.weights),
            entry.part,
            entry.approved if only_approved else None,
        ]
        for entry in plan.entries
    ]
    default = [str(path) for path in plan.default] if plan.default else None
    return [default, entries]


def reference_guides(predictor: ColorPredictor, plan: RefsPlan) -> dict[tuple, Guide]:
    """Each distinct palette (references and weights) is read, embedded, folded and matched
    once per run."""
    return {
        (references, weights): predictor.guide(*map(read_reference, references), weights=weights)
        for references, weights in plan.palettes()
    }


def colorize_film(
    options: FilmOptions, colorizer: Colorizer | None = None, ranks: Ranks | None = None
) -> FilmSummary:
    """Colour one film. Under torchrun (`ranks`: read from the environment unless given) each
    process colours its share of the segments and rank 0 puts the film together."""
    started = time.perf_counter()
    ranks = ranks or Ranks.from_environment()
    codec = check_paths(options)
    # Everything `remaster check` checks, before the first frame: a mistake in the refs file
    # or a reference costs seconds, not a night.
    job = check_job(options.source, options.refs, options.ref, options.cuts, options.fps)
    check_spread(options, ranks)
    device = colorizer.device if colorizer else resolve_device(ranks.device(options.device))
    sink = open_sink(
        options.output, codec, job.source, options.crf, options.preset, options.audio,
        shares_cores=device.type == "cpu",
    )  # fmt: skip
    if options.side_by_side is not None:
        sink = SideBySideSink(sink, options.side_by_side)
    weights = resolve_weights(options.weights)
    colorizer = colorizer or Colorizer.from_checkpoint(weights, device, options.working_size)
    predictor = ColorPredictor(colorizer, options.method, options.adapt, flow=options.flow)
    guides = reference_guides(predictor, job.plan)
    steady = STEADY if options.stabilise else 0.0
    stage = ColorStage(
        predictor, guides, job.source.full_range, job.source.info.bits, steady,
        options.only_approved,
    )  # fmt: skip
    description = job_description(options, job.plan, weights, codec, job.cuts)
    ranks.join()
    try:
        journal, resumed = open_journal(options, description, ranks)
        frames, notes = colorize_share(options, job, stage, journal, sink, ranks)
        ranks.wait_for_all()  # every rank's segments are written
        if ranks.leads:
            journal.read()  # the other ranks' segments too
            frames = sum(entry["frames"] for entry in journal.segments.values())
            notes += finish(journal, frames, sink)
    except OSError as error:
        if error.errno not in DISK_FULL:
            raise
        raise disk_full(options, error) from None
    finally:
        ranks.leave()
    elapsed = time.perf_counter() - started
    adapt_seconds = [g.adapted.seconds for g in guides.values() if g.adapted is not None]
    return FilmSummary(
        frames, len(job.plan.entries), len(guides), elapsed, resumed, notes, stage.summary(),
        adapt_seconds,
    )  # fmt: skip


def colorize_share(
    options: FilmOptions,
    job: JobCheck,
    stage: ColorStage,
    journal: Journal,
    sink: VideoSink | SequenceSink | SideBySideSink,
    ranks: Ranks,
) -> tuple[int, list[str]]:
    """This process's share of the film into journaled segments: the frames decoded, and
    what the user should know of them."""
    policy = DecodePolicy(options.on_decode_error, options.max_decode_errors, options.deinterlace)
    colorizer = stage.predictor.colorizer
    share = Share(
        job.source,
        job.plan,
        journal,
        sink,
        rank_frames(job.frames, options.segment_frames, ranks),
        options.segment_frames,
        batch_for(options, job.source.info, colorizer.device, colorizer.working_short_side),
        policy,
        options.progress,
    )
    report = DecodeReport()
    frames = share.encode(stage, report, options.quiet)
    notes = job.warnings + adaptation_notes(stage.guides) + stage.notes(job.plan.source)
    if not ranks.spread:
        notes += picture_notes(options, job.source.info, report, frames)
    return frames, notes


def disk_full(options: FilmOptions, error: OSError) -> OutputError:
    """A full disk as the user's error, with what to do."""
    return OutputError(
        f"{options.output}: the disk is full ({os.strerror(error.errno)}); nothing was "
        f"written under this name: free space in {options.output.resolve().parent} and run "
        "the same command with --resume"
    )


def check_spread(options: FilmOptions, ranks: Ranks) -> None:
    """What a run spread over ranks cannot do: each rank numbers its frames by their
    timestamps, so damaged frames can only be repeated or skipped in one process."""
    if ranks.spread and options.on_decode_error != "stop":
        raise InputError(
            f"--on-decode-error {options.on_decode_error}: needs the whole file decoded in one "
            "process; run without torchrun (finished segments are kept with --resume)"
        )
    if ranks.spread and options.deinterlace:
        raise InputError("--deinterlace: run without torchrun (it decodes the whole file)")


def open_journal(options: FilmOptions, description: dict, ranks: Ranks) -> tuple[Journal, int]:
    """Rank 0 prepares the work folder before the other ranks open their journals in it."""
    journal, resumed = None, 0
    if ranks.leads:
        journal, resumed = Journal.open(options.output, description, options.resume)
    ranks.wait_for_all()
    if not ranks.leads:
        journal, resumed = Journal.open(options.output, description, options.resume, ranks.rank)
    return journal, resumed


def picture_notes(options: FilmOptions, info, report: DecodeReport, frames: int) -> list[str]:
    """What became of damage, truncation, rotation and interlacing; a file cut short is an
    error unless the user accepts it (after the work: its finished segments are kept)."""
    notes = []
    source = options.source  # `frames` were decoded; `report` is empty for a sequence
    if report.damaged:
        done = "repeated the frame before" if options.on_decode_error == "repeat" else "skipped"
        shown = ", ".join(map(str, report.damaged[:10])) + (", ..." if report.damaged[10:] else "")
        count = len(report.damaged)
        notes.append(f"{source}: {count} frames could not be decoded ({shown}); {done}")
    announced = f"{info.frame_count} frames"
    short = bool(info.frame_count) and frames + report.skipped < info.frame_count
    if not info.frame_count and info.seconds and report.end is not None:
        # Matroska counts no frames: compare times, allowing for a last frame's own length.
        short = report.end - report.start < info.seconds - 2 / float(info.rate) - 0.1
        announced = f"{info.seconds:.2f} s"
    if short and not options.accept_short:
        raise InputError(
            f"{source}: ends after {frames} frames, but its header announces {announced}; the "
            "file is cut short (an interrupted copy?): copy it again, or run the same command "
            "with --resume --accept-short to write the frames it has"
        )
    if short or (info.frame_count and info.frame_count != frames + report.skipped):
        notes.append(
            f"{source}: its header announces {announced} but {frames} decoded; the output has "
            "all decoded frames"
        )
    if info.rotation:
        notes.append(
            f"{source}: is shown turned {info.rotation} degrees (its display matrix); the "
            "frames are coloured as stored and the output carries the same turn"
        )
    if info.field_order and options.deinterlace:
        notes.append(f"{source}: deinterlaced (bwdif, one frame per frame)")
    elif info.field_order:
        notes.append(
            f"{source}: is interlaced (field order {info.field_order}); its frames were coloured "
            "as they are, where moving edges comb: --deinterlace deinterlaces them first"
        )
    return notes


def adaptation_notes(guides: dict[tuple, Guide]) -> list[str]:
    adaptations = [guide.adapted for guide in guides.values() if guide.adapted is not None]
    return [
        f"adapted to reference set {number}: {adapted.steps} steps in {adapted.seconds:.0f} s, "
        f"reconstruction loss {adapted.loss_first:.4f} -> {adapted.loss_last:.4f}"
        for number, adapted in enumerate(adaptations, start=1)
    ]


def finish(
    journal: Journal, frames: int, sink: VideoSink | SequenceSink | SideBySideSink
) -> list[str]:
    """The output put in place whole (muxed and renamed, or frames moved), then the work
    folder removed."""
    notes = sink.finish(journal.finished(), frames)
    journal.remove()
    return notes
