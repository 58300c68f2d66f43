"""`remaster batch jobs.yaml`: many films, one after another; finished ones are skipped.

    defaults:                       # optional: settings for every job (a job's own win)
      weights: weights/archive.safetensors
      codec: ffv1
    jobs:
      - input: reels/reel1.mp4      # paths are relative to this file
        refs: reels/reel1.yaml      # or ref: one-reference.png
        output: colour/reel1.mkv    # optional: INPUT-remastered.EXT beside the input
      - input: scans/reel2/
        ref: refs/street.png
        fps: 24                     # any option of `remaster film`, spelt working-size or
        working-size: 320           # working_size; an empty value means the command's default

A plain list of jobs (no `defaults:`) is a jobs file too. The whole file is checked before any
work; the films, references and cut lists themselves are checked by each job when its turn
comes, so one missing reel fails its own job, not the collection.

A job's state is read from the disk when its turn comes: its output exists -> skipped (the
pipeline puts an output under its name only when complete); its work folder exists -> resumed;
otherwise run. So the same command run again, after a crash or with new jobs added, does only
what is left, and N processes can share a jobs file (`--shard K/N`, torchrun's RANK and
WORLD_SIZE, or simply the same command started N times: claims keep them off each other's jobs).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import yaml

from model.errors import CheckpointError
from remaster.errors import InputError, RemasterError
from remaster.media.sequence_output import SequenceTarget, existing_frame
from remaster.media.sequences import PRINTF
from remaster.refs.refs_file import compose_yaml, mapping_fields
from remaster.run.film import FilmOptions, FilmSummary, colorize_film, default_output
from remaster.run.journal import work_folder
from remaster.run.ranks import Ranks

# `remaster film` options that are the batch's business, not a job's.
NOT_JOB_SETTINGS = {"source", "output", "resume", "quiet"}
JOB_KEYS = ("input", "output")
NULL_TAG = "tag:yaml.org,2002:null"
# A claim's owner touches it this often; one untouched for STALE_AFTER is abandoned (its
# process killed with no chance to clean up, or its machine gone). Generous, for clocks that
# differ between the machines sharing a disk.
HEARTBEAT_SECONDS = 60
STALE_AFTER_SECONDS = 600


@dataclass(frozen=True)
class Job:
    number: int  # its place in the jobs file, from 1
    line: int
    options: FilmOptions


@dataclass(frozen=True)
class Shard:
    """Every `count`-th job from the `index`-th (from 0, as torchrun's RANK counts)."""

    index: int = 0
    count: int = 1

    def takes(self, job: Job) -> bool:
        return (job.number - 1) % self.count == self.index


# ---------------------------------------------------------------- the jobs file


def load_jobs(path: Path, film_options: list[click.Parameter]) -> list[Job]:
    """Parse and check the whole jobs file: InputError naming the file and line otherwise.
    `film_options`: the `remaster film` command's parameters, whose types and callbacks check
    each setting, so a jobs file takes exactly what that command line takes."""
    root = compose_yaml(path, "jobs file", "write 'jobs:' with an entry (input: and ref:) per film")
    defaults_node, jobs_node = top_level(root, path)
    settings = {p.name: p for p in film_options if p.name not in NOT_JOB_SETTINGS}
    defaults = {}
    if defaults_node is not None:
        if not isinstance(defaults_node, yaml.MappingNode):
            raise InputError(f"{where(path, defaults_node)}: 'defaults:' must be a mapping")
        defaults = read_settings(defaults_node, path, settings, allowed=())
    if not isinstance(jobs_node, yaml.SequenceNode) or not jobs_node.value:
        raise InputError(
            f"{where(path, jobs_node or root)}: 'jobs:' must be a list of jobs, each with "
            "'input:' and 'refs:' or 'ref:'"
        )
    jobs = [
        make_job(number, node, path, settings, defaults)
        for number, node in enumerate(jobs_node.value, start=1)
    ]
    check_outputs(jobs, path)
    return jobs


def top_level(root: yaml.Node, path: Path) -> tuple[yaml.Node | None, yaml.Node | None]:
    """(defaults, jobs): a mapping with 'jobs:' and optionally 'defaults:', or a bare list."""
    if isinstance(root, yaml.SequenceNode):
        return None, root
    if not isinstance(root, yaml.MappingNode):
        raise InputError(f"{path}: expected 'jobs:' (and optionally 'defaults:') at the top level")
    fields = mapping_fields(root, path)
    for key, _ in root.value:
        if key.value not in ("defaults", "jobs"):
            raise InputError(
                f"{where(path, key)}: unknown top-level key {key.value!r}; use 'jobs:' and "
                "optionally 'defaults:'"
            )
    return fields.get("defaults"), fields.get("jobs")


def where(path: Path, node: yaml.Node) -> str:
    return f"{path}, line {node.start_mark.line + 1}"


def read_settings(
    node: yaml.MappingNode, path: Path, settings: dict[str, click.Parameter], allowed: tuple
) -> dict[str, object]:
    """A mapping's settings, converted (paths relative to the jobs file), plus the `allowed`
    job keys as plain text. A null value stands for the film command's default."""
    values: dict[str, object] = {}
    mapping_fields(node, path)  # each key plain text, and given once
    for key_node, value in node.value:
        key, name, at = key_node.value, key_node.value.replace("-", "_"), where(path, key_node)
        if name in values:
            raise InputError(f"{at}: {key!r} is given twice (as - and _); keep one")
        if name not in settings and name not in allowed:
            raise InputError(f"{at}: {unknown_key_message(key, settings, allowed)}")
        if not isinstance(value, yaml.ScalarNode):
            raise InputError(f"{at}: {key!r} takes one value, not a list or a mapping")
        if value.tag == NULL_TAG:
            values[name] = None
        elif name in allowed:
            if not value.value.strip():
                raise InputError(f"{at}: {key!r} is empty; give a path")
            values[name] = resolve(Path(value.value), path)
        else:
            values[name] = convert(settings[name], value.value, at, key, path)
    return values


def unknown_key_message(key: str, settings: dict, allowed: tuple) -> str:
    known = [*allowed, *(name.replace("_", "-") for name in settings)]
    close = difflib.get_close_matches(key.replace("_", "-"), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if not allowed:
        return (
            f"unknown setting {key!r}{hint}; 'defaults:' takes options of `remaster film` "
            "(see remaster film --help), but not 'input' or 'output'"
        )
    return (
        f"unknown key {key!r}{hint}; a job has 'input:', 'refs:' or 'ref:', optionally "
        "'output:', and any option of `remaster film` (see remaster film --help)"
    )


def convert(parameter: click.Parameter, text: str, at: str, key: str, path: Path) -> object:
    if isinstance(parameter.type, click.Path):  # checked where it is, not from the cwd
        text = str(resolve(Path(text), path))
    try:
        return parameter.process_value(click.Context(click.Command("film")), text)
    except click.BadParameter as error:
        raise InputError(f"{at}: {key}: {error.message}") from None
    except InputError as error:  # a callback's own check (--fps)
        raise InputError(f"{at}: {error}") from None


def resolve(value: Path, path: Path) -> Path:
    """A path as written in the jobs file: relative to the file's folder, `~` expanded."""
    return path.parent / value.expanduser()


def make_job(
    number: int, node: yaml.Node, path: Path, settings: dict, defaults: dict[str, object]
) -> Job:
    at = where(path, node)
    if not isinstance(node, yaml.MappingNode):
        raise InputError(
            f"{at}: job {number} must be a mapping with 'input:' and 'ref:' or 'refs:'"
        )
    own = read_settings(node, path, settings, allowed=JOB_KEYS)
    if own.get("input") is None:
        raise InputError(
            f"{at}: job {number} has no 'input:'; give the film (a video, a folder of scans or a "
            "pattern such as scan_%06d.dpx)"
        )
    if "refs" in own or "ref" in own:  # a job's own colour source replaces the default one
        defaults = {k: v for k, v in defaults.items() if k not in ("refs", "ref")}
    merged = {k: v for k, v in {**defaults, **own}.items() if v is not None}
    if ("refs" in merged) == ("ref" in merged):
        raise InputError(
            f"{at}: job {number} needs either 'refs:' (a refs file) or 'ref:' (one image), one "
            "of them, here or under 'defaults:'"
        )
    source = merged.pop("input")
    output = merged.pop("output", None) or default_output(source)
    return Job(
        number, node.start_mark.line + 1, FilmOptions(source=source, output=output, **merged)
    )


def check_outputs(jobs: list[Job], path: Path) -> None:
    """No two jobs write one output, and no job writes over a file another job reads."""
    inputs = {}
    for job in jobs:
        for field in ("source", "refs", "ref", "cuts", "audio"):
            if getattr(job.options, field) is not None:
                inputs.setdefault(getattr(job.options, field).resolve(), job)
    outputs: dict[Path, Job] = {}
    for job in jobs:
        output = job.options.output.resolve()
        at = f"{path}, line {job.line}"
        if output in outputs:
            other = outputs[output]
            raise InputError(
                f"{at}: job {job.number} writes {job.options.output}, as job {other.number} (line "
                f"{other.line}) does; give one of them another 'output:'"
            )
        if output in inputs:
            other = inputs[output]
            raise InputError(
                f"{at}: job {job.number}'s output {job.options.output} is a file job "
                f"{other.number} (line {other.line}) reads; give it another 'output:'"
            )
        outputs[output] = job


def parse_shard(text: str | None, environ=os.environ) -> Shard:
    """--shard K/N, else torchrun's (or any launcher's) RANK and WORLD_SIZE, else everything."""
    if text is None and "RANK" in environ and "WORLD_SIZE" in environ:
        text, origin = f"{environ['RANK']}/{environ['WORLD_SIZE']}", "RANK/WORLD_SIZE"
    elif text is None:
        return Shard()
    else:
        origin = "--shard"
    index, _, count = text.partition("/")
    if not (index.strip().isdigit() and count.strip().isdigit()) or not int(index) < int(count):
        raise InputError(
            f"{origin} {text}: give K/N with 0 <= K < N (K counts from 0, as torchrun's RANK), "
            "e.g. 0/4 to 3/4 for four processes"
        )
    return Shard(int(index), int(count))


# ---------------------------------------------------------------- claims


@dataclass
class Claim:
    """An atomic claim on a job, so two processes never make the same output at once.

    The claim is a file beside the output, created with O_CREAT | O_EXCL: of any number of
    processes (on any machine sharing the disk), exactly one creates it. It holds the owner's
    host and pid, and the owner touches it every minute. It is removed when the job ends,
    however it ends, short of kill -9 or a lost machine; such a claim is abandoned, and taken
    over, when its pid is dead on this host or it has not been touched for 10 minutes.
    """

    path: Path
    stop: threading.Event
    heartbeat: threading.Thread

    @classmethod
    def take(cls, output: Path) -> Claim | None:
        """The claim on `output`'s job, or None when a live process holds it."""
        path = claim_path(output)
        for _ in range(2):  # a second try after clearing an abandoned claim
            try:
                descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not abandoned(path):
                    return None
                # Two processes finding the same abandoned claim both remove it; whichever
                # creates the next one first wins, the other finds it live. (One could remove
                # the winner's new claim in the microseconds between its check and removal:
                # a window we accept rather than build a lock manager.)
                path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w") as handle:
                json.dump({"host": socket.gethostname(), "pid": os.getpid()}, handle)
            stop = threading.Event()
            heartbeat = threading.Thread(target=touch_until, args=(path, stop), daemon=True)
            heartbeat.start()
            return cls(path, stop, heartbeat)
        return None

    def release(self) -> None:
        self.stop.set()
        self.heartbeat.join()
        self.path.unlink(missing_ok=True)


def claim_path(output: Path) -> Path:
    return output.with_name(f".{output.name}.remaster-claim")


def touch_until(path: Path, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            os.utime(path)
        except OSError:
            pass  # a shared disk's hiccup: the next minute tries again


def abandoned(path: Path) -> bool:
    try:
        age = time.time() - path.stat().st_mtime
        owner = json.loads(path.read_text())
    except FileNotFoundError:
        return True  # released meanwhile: try again
    except (OSError, ValueError):
        return False  # just created, not yet written: its owner is alive
    if age > STALE_AFTER_SECONDS:
        return True
    return owner.get("host") == socket.gethostname() and not process_alive(owner.get("pid"))


def process_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def claim_holder(output: Path) -> str:
    try:
        owner = json.loads(claim_path(output).read_text())
        return f"pid {owner['pid']} on {owner['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


# ---------------------------------------------------------------- running


def output_written(output: Path) -> bool:
    """Whether the output is under its name: a file or folder, or a pattern's frames."""
    if PRINTF.search(output.name):
        return existing_frame(SequenceTarget(output.parent, output.name, 0)) is not None
    return output.exists()


def job_state(options: FilmOptions) -> str:
    """'resume' (an interrupted run's work folder is there), 'finished' or 'new'. A work
    folder comes first: an output beside one may be a sequence still being moved into place."""
    if work_folder(options.output).is_dir():
        return "resume"
    return "finished" if output_written(options.output) else "new"


@dataclass
class Tally:
    done: list[int] = dataclasses.field(default_factory=list)
    skipped: list[int] = dataclasses.field(default_factory=list)
    failed: list[int] = dataclasses.field(default_factory=list)

    def line(self, path: Path, shard: Shard, jobs: int) -> str:
        part = f" (shard {shard.index}/{shard.count}: {jobs} jobs)" if shard.count > 1 else ""
        failed = f" (jobs {', '.join(map(str, self.failed))})" if self.failed else ""
        return (
            f"batch {path}{part}: {len(self.done)} done, {len(self.skipped)} skipped, "
            f"{len(self.failed)} failed{failed}"
        )


Report = Callable[[str, bool], None]  # a line, and whether it is an error or a note


def run_jobs(
    jobs: list[Job],
    quiet: bool,
    report: Report,
    colorize: Callable[[FilmOptions], FilmSummary] = colorize_film,
    debug: bool = False,
) -> Tally:
    """Run each job in turn; a job that fails is reported and the rest still run."""
    tally = Tally()
    for job in jobs:
        outcome = run_job(job, quiet, report, colorize, debug)
        getattr(tally, outcome).append(job.number)
    return tally


def run_job(job: Job, quiet: bool, report: Report, colorize, debug: bool) -> str:
    """'done', 'skipped' or 'failed', with a line saying why."""
    output = job.options.output
    if job_state(job.options) == "finished":  # the common case on a rerun: no claim, no write
        report(f"job {job.number}: skipped: {output} exists", False)
        return "skipped"
    try:
        claim = Claim.take(output)
    except OSError as error:
        report(
            f"job {job.number} (line {job.line}): failed: {output}: cannot write beside it "
            f"({error.strerror}); check that its folder exists and is writable",
            True,
        )
        return "failed"
    if claim is None:
        report(
            f"job {job.number}: skipped: {claim_holder(output)} is making {output} (claim "
            f"{claim_path(output)}; delete it if that process is gone)",
            False,
        )
        return "skipped"
    try:
        return run_claimed(job, quiet, report, colorize, debug)
    finally:
        claim.release()


def run_claimed(job: Job, quiet: bool, report: Report, colorize, debug: bool) -> str:
    name, options = f"job {job.number}", job.options
    state = job_state(options)  # again: another process may have finished it meanwhile
    if state == "finished":
        report(f"{name}: skipped: {options.output} exists", False)
        return "skipped"
    resuming = " (resuming)" if state == "resume" else ""
    report(f"{name}: {options.source} -> {options.output}{resuming}", False)
    options = dataclasses.replace(options, resume=state == "resume", quiet=quiet)
    try:
        summary = colorize(options)
    except Exception as error:  # noqa: BLE001 - one film's failure must not stop the rest
        if debug:
            traceback.print_exc()
        report(f"{name} (line {job.line}): failed: {describe(error)}", True)
        return "failed"
    for note in summary.notes:
        report(f"{name}: note: {note}", True)
    report(f"{name}: wrote {options.output}: {summary.line()}", False)
    return "done"


def describe(error: Exception) -> str:
    if isinstance(error, RemasterError | CheckpointError):
        return str(error)  # complete: names the file and what to do
    return f"{type(error).__name__}: {error} (remaster --debug batch ... shows the traceback)"


class SharedColorizer:
    """One network loaded for all the jobs, reloaded only when a job asks for other
    weights, device or working size: loading costs seconds a job, which adds up over an
    archive of short reels."""

    def __init__(self) -> None:
        self.key = None
        self.colorizer = None

    def __call__(self, options: FilmOptions) -> FilmSummary:
        from model.colorizer import Colorizer
        from remaster.run.weights import resolve_weights

        weights = resolve_weights(options.weights).resolve()
        key = (weights, options.device, options.working_size)
        if key != self.key:
            self.colorizer, self.key = None, None  # the old network freed before the new loads
            self.colorizer = Colorizer.from_checkpoint(
                weights, Ranks.from_environment().device(options.device), options.working_size
            )
            self.key = key
        # Under torchrun each process colours its own films whole, not a share of each.
        return colorize_film(options, self.colorizer, Ranks())


def agree_on_failures(failed: int) -> int:
    """Under torchrun, the failures of all its processes, once every one has finished.

    torchrun stops every process as soon as one exits non-zero; a process whose own job
    failed would cut the others' films short. So each waits here for the rest (through
    torchrun's own rendezvous, no other coordination) and all exit alike."""
    return Ranks.from_environment().total(failed)
