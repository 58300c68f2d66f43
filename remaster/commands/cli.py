"""The `remaster` command line: parse, build options, call one library function.

Domain errors become one line on stderr and exit status 1; `--debug` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from model.errors import CheckpointError
from remaster.color.methods import FLOWS, METHODS
from remaster.errors import OutputError, RemasterError
from remaster.media.codecs import CODECS, X264_PRESETS
from remaster.media.damage import ON_ERROR

DEVICES = click.Choice(["auto", "cpu", "cuda"])
INTERRUPTED = (
    "interrupted; nothing was written under the output's name (a film's finished segments are "
    "kept: run the same command with --resume to continue)"
)


class FilmByDefault(click.Group):
    """`remaster FILM ...` means `remaster film FILM ...`: the main job needs no subcommand."""

    def parse_args(self, context: click.Context, args: list[str]) -> list[str]:
        for position, arg in enumerate(args):
            if arg.startswith("-"):
                continue
            if arg not in self.commands:
                args = [*args[:position], "film", *args[position:]]
            break
        return super().parse_args(context, args)


@click.group(cls=FilmByDefault, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(context: click.Context, debug: bool) -> None:
    """Colorize black-and-white images and film from reference images."""
    context.obj = {"debug": debug}


def weights_option(function):
    return click.option(
        "--weights",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Checkpoint (.safetensors). Default: the weights shipped with remaster.",
    )(function)


def method_option(function):
    return click.option(
        "--method",
        type=click.Choice(METHODS),
        default="auto",
        show_default=True,
        help="Where colour comes from: auto (propagate, falling back to exemplar), embed "
        "(Color2Embed alone, fastest), exemplar (VGG-16 matching fused with Color2Embed), "
        "propagate (the reference carried along optical flow where it can be followed).",
    )(function)


def working_size_option(function):
    return click.option(
        "--working-size",
        type=click.IntRange(min=64),
        default=None,
        help="Short side, in pixels, the network works at (default 256); colour is upsampled.",
    )(function)


def parse_fps(context, parameter, value: str | None):
    if value is None:
        return None
    from remaster.media.sequences import parse_rate

    return parse_rate(value)


@cli.command()
@click.argument("target", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--ref",
    "references",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Colour reference image; repeat to blend several.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
@weights_option
@click.option("--device", type=DEVICES, default="auto", show_default=True)
@working_size_option
@method_option
def image(
    target: Path,
    references: tuple[Path, ...],
    output: Path,
    weights: Path | None,
    device: str,
    working_size: int | None,
    method: str,
) -> None:
    """Colorize the still image TARGET (grey or colour, PNG/JPEG/TIFF, 8 or 16 bit)."""
    from remaster.commands.image import colorize_still

    colorize_still(target, list(references), output, weights, device, working_size, method)
    click.echo(f"wrote {output}")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--refs",
    type=click.Path(path_type=Path, dir_okay=False),
    help="YAML file saying which reference colours which frames.",
)
@click.option(
    "--ref",
    type=click.Path(path_type=Path, dir_okay=False),
    help="One reference image for the whole film.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output file (.mp4, .mov, .mkv), or an image sequence: a pattern such as "
    "colour_%06d.png (.png, .tif, .dpx) or a folder. Default: SOURCE-remastered.EXT beside it.",
)
@weights_option
@click.option("--device", type=DEVICES, default="auto", show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Frames per batch through the network (default: 4, fewer for larger pictures; see docs).",
)
@working_size_option
@click.option(
    "--codec",
    type=click.Choice(list(CODECS)),
    default=None,
    help="h264 (default; .mp4/.mov/.mkv), prores (ProRes 422 HQ, .mov), ffv1 (lossless, .mkv), "
    "h264-nvenc or hevc-nvenc (NVIDIA's encoders, on the GPU).",
)
@click.option(
    "--crf",
    type=click.IntRange(0, 51),
    default=18,
    show_default=True,
    help="H.264 quality (lower is better).",
)
@click.option(
    "--preset",
    type=click.Choice(X264_PRESETS),
    default="medium",
    show_default=True,
    help="x264's speed preset (--codec h264): faster ones encode faster into larger files.",
)
@click.option(
    "--segment-frames",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Frames per resumable segment.",
)
@method_option
@click.option(
    "--stabilise/--no-stabilise",
    default=True,
    show_default=True,
    help="Steady colour from frame to frame along the optical flow, within each shot.",
)
@click.option(
    "--flow",
    type=click.Choice(FLOWS),
    default="auto",
    show_default=True,
    help="Optical flow: opencv (OpenCV's DIS on the CPU's cores, the fastest measured on a CPU), "
    "torch (the same algorithm in PyTorch on the device, with Triton kernels on a GPU: the "
    "fastest measured there), or auto (the fastest: torch on a GPU with Triton, else opencv).",
)
@click.option(
    "--adapt",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="STEPS",
    help="Fine-tune a copy of the network on each reference set for STEPS steps before "
    "colouring its frames (about 1 s a step on a CPU); 0: off.",
)
@click.option(
    "--cuts",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Cut list (.csv from PySceneDetect, .edl CMX 3600, .otio OpenTimelineIO): refs entries "
    "are split into its shots, and colour is never carried across a cut.",
)
@click.option(
    "--fps",
    callback=parse_fps,
    help="Frames per second of an image sequence (SOURCE a folder or a pattern such as "
    "scan_%06d.dpx), e.g. 24 or 24000/1001; a sequence carries none.",
)
@click.option(
    "--audio",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Sound file whose audio streams go into the video output, instead of the source's.",
)
@click.option(
    "--side-by-side",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write a before/after video here: grey on the left, colour on the right, same "
    "timing and sound.",
)
@click.option(
    "--on-decode-error",
    type=click.Choice(ON_ERROR),
    default="stop",
    show_default=True,
    help="A frame the decoder rejects (a damaged file): stop with an error naming it; repeat "
    "the frame before (frame count and timing kept); or skip it (the rest keep their timing).",
)
@click.option(
    "--max-decode-errors",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Damaged frames repeated or skipped before the run stops.",
)
@click.option(
    "--deinterlace",
    is_flag=True,
    help="Deinterlace interlaced footage first (FFmpeg's bwdif, one frame out per frame in).",
)
@click.option(
    "--accept-short",
    is_flag=True,
    help="Write a file that is cut short (fewer frames than its header says) as far as it goes.",
)
@click.option(
    "--only-approved",
    is_flag=True,
    help="Colour only the shots the refs file marks `approved: true`; the others stay grey "
    "(frames, timing and sound all kept).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same job.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def film(source: Path, output: Path | None, **settings) -> None:
    """Colorize the film SOURCE; sound, subtitles and timing are kept."""
    from remaster.run.film import FilmOptions, colorize_film, default_output
    from remaster.run.ranks import Ranks

    output = output or default_output(source)
    summary = colorize_film(FilmOptions(source=source, output=output, **settings))
    if not Ranks.from_environment().leads:  # under torchrun, rank 0 speaks for the film
        return
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {output}: {summary.line()}")
    if settings["side_by_side"] is not None:
        click.echo(f"wrote {settings['side_by_side']} (side by side)")


def parse_cuts(context, parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        cuts = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise click.BadParameter(f"{value!r}: give frame numbers separated by commas") from None
    if any(cut <= 0 for cut in cuts):
        raise click.BadParameter("a cut is the first frame of a shot after the first: 1 or more")
    return cuts


@cli.command("eval")
@click.option(
    "--truth",
    type=click.Path(path_type=Path),
    required=True,
    help="The true colours: a video, an image or a folder of images.",
)
@click.argument("output", type=click.Path(path_type=Path))
@click.option(
    "--json",
    "json_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write every number here.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Per-frame curves (.png).",
)
@click.option(
    "--cuts",
    callback=parse_cuts,
    help="First frames of the shots after the first, e.g. 90,180. Default: found in the truth.",
)
def evaluate_command(
    truth: Path, output: Path, json_path: Path | None, plot_path: Path | None, cuts
) -> None:
    """Score the colorized OUTPUT against the true colours: PSNR, SSIM, Delta-E, LPIPS,
    colourfulness, and for videos CDC and the flow warp error."""
    from remaster.commands.evaluate import evaluate, plot_report, write_json

    for path in (json_path, plot_path):
        if path is not None and not path.resolve().parent.is_dir():
            raise OutputError(f"{path}: folder {path.resolve().parent} does not exist")
    report = evaluate(truth, output, cuts)
    for line in report.lines():
        click.echo(line)
    if json_path:
        write_json(report, json_path)
        click.echo(f"wrote {json_path}")
    if plot_path:
        plot_report(report, plot_path)
        click.echo(f"wrote {plot_path}")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The refs file to write (.yaml): one entry per shot.",
)
@click.option(
    "--keyframes",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the keyframe PNGs to paint. Default: OUTPUT-keyframes/ beside OUTPUT.",
)
@click.option(
    "--sheet",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Contact sheet of all the shots (.png). Default: OUTPUT-sheet.png beside OUTPUT.",
)
@click.option(
    "--cut-list",
    type=click.Path(path_type=Path, dir_okay=False),
    multiple=True,
    help="Also write the cuts for an editing tool: .csv (PySceneDetect's scene list), .edl "
    "(CMX 3600) or .otio (OpenTimelineIO); may be given several times.",
)
@click.option("--fps", callback=parse_fps, help="Frames per second of an image sequence.")
def shots(
    source: Path, output: Path, keyframes: Path | None, sheet: Path | None, cut_list, fps
) -> None:
    """Find the shots of SOURCE (hard cuts and fades, on luminance), export one keyframe per
    shot for a colorist to paint, and write the refs file that colours each shot from it."""
    from remaster.commands.shots import write_shot_list

    keyframes = keyframes or output.with_name(f"{output.stem}-keyframes")
    sheet = sheet or output.with_name(f"{output.stem}-sheet.png")
    listing = write_shot_list(source, output, keyframes, sheet, list(cut_list), fps)
    click.echo(
        f"{len(listing.shots)} shots in {listing.frames} frames "
        f"({listing.frames_per_second:.0f} frames/s analysed); wrote {output}, "
        f"{len(listing.shots)} keyframes in {keyframes}/ and {sheet}"
        + "".join(f", {path}" for path in cut_list)
    )


def job_options(function):
    """What names a job's input: the film, its references, a cut list, a sequence's rate."""
    for option in reversed(
        [
            click.argument("source", type=click.Path(path_type=Path)),
            click.option("--refs", type=click.Path(path_type=Path, dir_okay=False)),
            click.option("--ref", type=click.Path(path_type=Path, dir_okay=False)),
            click.option(
                "--cuts",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Cut list (.csv, .edl, .otio) splitting the entries into shots.",
            ),
            click.option("--fps", callback=parse_fps, help="Frames per second of a sequence."),
        ]
    ):
        function = option(function)
    return function


@cli.command()
@job_options
def check(source: Path, refs, ref, cuts, fps) -> None:
    """Check a job without running the model: the film's streams and frames, every
    reference, keyframe and range. Prints the shot table."""
    from remaster.run.check import check_job

    job = check_job(source, refs, ref, cuts, fps)
    click.echo(job.headline())
    for line in job.table():
        click.echo(line)
    for warning in job.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo("ok: nothing found that would stop a run")


@cli.command()
@job_options
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The review sheet (.png): grey | reference | result, a row per shot.",
)
@weights_option
@click.option("--device", type=DEVICES, default="auto", show_default=True)
@working_size_option
@method_option
def preview(source: Path, output: Path, **settings) -> None:
    """Colour one frame per shot (its keyframe, else its middle frame) and write a review
    sheet, to check the references before the long run."""
    from remaster.commands.preview import PreviewOptions, write_preview

    job = write_preview(PreviewOptions(source=source, output=output, **settings))
    for warning in job.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {output}: {len(job.rows)} shots")


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option(
    "--refs",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The refs file to review and edit (its folder is the refs folder).",
)
@click.option(
    "--cuts",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Cut list (.csv, .edl, .otio) splitting the entries into shots.",
)
@click.option("--fps", callback=parse_fps, help="Frames per second of a sequence.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help='What "Render" writes. Default: SOURCE-remastered.EXT beside it.',
)
@click.option(
    "--codec",
    type=click.Choice(list(CODECS)),
    default=None,
    help="The render's codec, as for `remaster film`.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. Anything but 127.0.0.1 lets other machines reach your files.",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the default browser.")
@weights_option
@click.option("--device", type=DEVICES, default="auto", show_default=True)
@working_size_option
@method_option
@click.pass_context
def review(
    context: click.Context,
    source: Path,
    output: Path | None,
    port: int,
    host: str,
    open_page: bool,
    **settings,
) -> None:
    """Open a review room for SOURCE in the browser: its shots, each coloured on demand
    with a before/after wipe, and the edits a colorist makes (references, keyframes, splits,
    approval) written to the refs file; then render the film from the page."""
    from remaster.commands.review import serve
    from remaster.review.room import ReviewOptions
    from remaster.run.film import default_output

    options = ReviewOptions(
        source=source,
        output=output or default_output(source),
        debug=context.obj["debug"],
        **settings,
    )
    serve(options, host, port, open_page, click.echo)


@cli.command()
@click.argument("jobs_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--shard",
    metavar="K/N",
    help="Take every N-th job from the K-th (K from 0), for N processes sharing the file. "
    "Default: torchrun's RANK/WORLD_SIZE where set, else every job.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check the jobs file and list each job's state; run none."
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.pass_context
def batch(context: click.Context, jobs_file: Path, shard, dry_run: bool, quiet: bool) -> None:
    """Colorize every film JOBS_FILE lists (YAML: input, refs or ref, output, and any option
    of `remaster film`), one after another. Finished jobs are skipped and interrupted ones
    resumed, so the same command continues a collection; a failed job is reported and the
    rest still run (exit status 1 at the end)."""
    import signal

    from remaster.commands.jobs import (
        SharedColorizer,
        agree_on_failures,
        job_state,
        load_jobs,
        parse_shard,
        run_jobs,
    )

    jobs = load_jobs(jobs_file, film.params)
    part = parse_shard(shard)
    mine = [job for job in jobs if part.takes(job)]
    if dry_run:
        for job in mine:
            options = job.options
            click.echo(
                f"job {job.number}: {job_state(options)}: {options.source} -> {options.output}"
            )
        return

    def report(line: str, error: bool) -> None:
        click.echo(line, err=error)

    # A scheduler ends a job with SIGTERM: stop as Ctrl-C does, so the claim is released and
    # the finished segments are kept for the next run.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        tally = run_jobs(mine, quiet, report, SharedColorizer(), context.obj["debug"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(tally.line(jobs_file, part, len(mine)))
    if agree_on_failures(len(tally.failed)):
        sys.exit(1)


def main() -> None:
    from remaster.run.malloc import keep_freed_memory

    keep_freed_memory()
    debug = "--debug" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(INTERRUPTED, err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (RemasterError, CheckpointError) as error:
        if debug:
            raise
        if isinstance(error, CheckpointError):  # the fix is always the same: other weights
            error = f"{error}; give --weights a checkpoint remaster wrote, or leave it out"
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
