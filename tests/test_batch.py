"""`remaster batch jobs.yaml` on real clips: every job run, finished ones skipped, interrupted
ones resumed, a failure reported without stopping the rest, and processes sharing the file."""

import os
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from remaster.commands.cli import cli, film
from remaster.commands.jobs import Claim, claim_path, load_jobs, run_jobs
from remaster.errors import InputError, OutputError
from remaster.media.images import write_image
from remaster.run.journal import work_folder
from tests.helpers import run_remaster as run
from tests.media import photo_like, write_clip

SIZE = (48, 64)  # small frames, the tiny network at its smallest working size: seconds a job


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """Two short clips, a longer one, a reference and a refs file."""
    folder = tmp_path_factory.mktemp("archive")
    write_clip(folder / "a.mp4", frames=4, shots=2, size=SIZE)
    write_clip(folder / "b.mp4", frames=4, shots=1, size=SIZE)
    write_clip(folder / "long.mp4", frames=120, shots=1, size=SIZE)
    write_image(folder / "ref.png", photo_like(128, 128, 0))
    (folder / "shots.yaml").write_text("shots:\n  - start: 0\n    ref: ref.png\n")
    return folder


def write_jobs(folder, weights, jobs: str, extra_defaults: str = "") -> object:
    """A jobs file in `folder` with fast settings for every job, then `jobs` (YAML lines)."""
    path = folder / "jobs.yaml"
    path.write_text(
        "defaults:\n"
        f"  weights: {weights}\n"
        "  device: cpu\n"
        "  working-size: 64\n"
        "  method: embed\n" + extra_defaults + "jobs:\n" + jobs
    )
    return path


def batch(*args, env=None):
    return CliRunner().invoke(cli, ["batch", *map(str, args)], env=env)


def test_a_batch_runs_every_job_and_a_second_run_skips_them(archive, tmp_path, tiny_checkpoint):
    jobs = write_jobs(
        tmp_path,
        tiny_checkpoint,
        f"  - input: {archive}/a.mp4\n"
        f"    refs: {archive}/shots.yaml\n"
        "    output: a-colour.mp4\n"
        f"  - input: {archive}/b.mp4\n"
        f"    ref: {archive}/ref.png\n"
        "    output: colour/b.mkv\n"
        "    codec: ffv1\n",
    )
    (tmp_path / "colour").mkdir()
    first = batch(jobs, "-q")
    assert first.exit_code == 0, first.output
    assert f"job 1: wrote {tmp_path}/a-colour.mp4: 4 frames, 1 shots" in first.stdout
    assert f"job 2: wrote {tmp_path}/colour/b.mkv: 4 frames, 1 shots" in first.stdout
    assert "2 done, 0 skipped, 0 failed" in first.stdout
    outputs = [tmp_path / "a-colour.mp4", tmp_path / "colour" / "b.mkv"]
    written = [path.stat().st_mtime_ns for path in outputs]
    assert not list(tmp_path.glob(".*")) and not list((tmp_path / "colour").glob(".*"))

    started = time.perf_counter()
    second = batch(jobs, "-q")
    assert time.perf_counter() - started < 2  # no model loaded, no frame decoded
    assert second.exit_code == 0, second.output
    assert "0 done, 2 skipped, 0 failed" in second.stdout
    assert f"job 2: skipped: {tmp_path}/colour/b.mkv exists" in second.stdout
    assert [path.stat().st_mtime_ns for path in outputs] == written


def test_an_interrupted_job_is_resumed(archive, tmp_path, tiny_checkpoint):
    """Its work folder (what an interrupted run leaves; resuming from it is the pipeline's, and
    tested there with kill -9) makes the job run with resume, not start over."""
    jobs = write_jobs(
        tmp_path,
        tiny_checkpoint,
        f"  - input: {archive}/a.mp4\n    ref: {archive}/ref.png\n    output: a.mp4\n"
        f"  - input: {archive}/b.mp4\n    ref: {archive}/ref.png\n    output: b.mp4\n",
    )
    work_folder(tmp_path / "b.mp4").mkdir()
    asked, lines = [], []

    def colorize(options):
        asked.append((options.output.name, options.resume))
        raise OutputError("stopped here")

    run_jobs(load_jobs(jobs, film.params), True, lambda line, error: lines.append(line), colorize)
    assert asked == [("a.mp4", False), ("b.mp4", True)]
    assert f"job 2: {archive}/b.mp4 -> {tmp_path}/b.mp4 (resuming)" in lines


def test_a_failing_job_is_reported_and_the_rest_still_run(archive, tmp_path, tiny_checkpoint):
    jobs = write_jobs(
        tmp_path,
        tiny_checkpoint,
        f"  - input: {archive}/missing.mp4\n"
        f"    ref: {archive}/ref.png\n"
        "    output: missing-colour.mp4\n"
        f"  - input: {archive}/b.mp4\n"
        f"    ref: {archive}/ref.png\n"
        "    output: b-colour.mp4\n",
    )
    result = batch(jobs, "-q")
    assert result.exit_code == 1
    failures = [line for line in result.stderr.splitlines() if "failed" in line]
    assert len(failures) == 1 and failures[0].startswith("job 1 (line 7): failed: ")
    assert "missing.mp4" in failures[0]
    assert "1 done, 0 skipped, 1 failed (jobs 1)" in result.stdout
    assert (tmp_path / "b-colour.mp4").is_file() and not (tmp_path / "missing-colour.mp4").exists()


def five_jobs(folder, weights):
    return write_jobs(
        folder,
        weights,
        "".join(f"  - input: clip{n}.mp4\n    ref: ref.png\n" for n in range(1, 6)),
    )


@pytest.mark.parametrize(
    ("arguments", "env", "expected"),
    [
        (["--shard", "0/2"], {}, [1, 3, 5]),
        (["--shard", "1/2"], {}, [2, 4]),
        ([], {"RANK": "2", "WORLD_SIZE": "3"}, [3]),
        (["--shard", "0/4"], {"RANK": "2", "WORLD_SIZE": "3"}, [1, 5]),  # --shard wins
        ([], {}, [1, 2, 3, 4, 5]),
    ],
)
def test_a_shard_takes_every_nth_job(tmp_path, tiny_checkpoint, arguments, env, expected):
    jobs = five_jobs(tmp_path, tiny_checkpoint)
    result = batch(jobs, "--dry-run", *arguments, env={"RANK": None, "WORLD_SIZE": None, **env})
    assert result.exit_code == 0, result.output
    listed = [int(line.split(":")[0].removeprefix("job ")) for line in result.stdout.splitlines()]
    assert listed == expected
    assert f"job {expected[0]}: new: {tmp_path}/clip{expected[0]}.mp4" in result.stdout


def test_a_shard_outside_its_count_is_refused(tmp_path, tiny_checkpoint):
    result = batch(five_jobs(tmp_path, tiny_checkpoint), "--dry-run", "--shard", "2/2")
    assert isinstance(result.exception, InputError)
    assert "--shard 2/2: give K/N with 0 <= K < N" in str(result.exception)


@pytest.mark.parametrize(
    ("job", "fragments"),
    [
        (
            "  - input: a.mp4\n    ref: ref.png\n  - input: b.mp4\n    ref: ref.png\n"
            "    wokring-size: 128\n",
            ["jobs.yaml, line 11:", "unknown key 'wokring-size'", "did you mean 'working-size'"],
        ),
        (
            "  - input: a.mp4\n    ref: ref.png\n  - ref: ref.png\n    output: x.mp4\n",
            ["jobs.yaml, line 9:", "job 2 has no 'input:'"],
        ),
    ],
)
def test_a_bad_jobs_file_is_one_line_with_its_line_number(
    tmp_path, tiny_checkpoint, job, fragments
):
    result = run("batch", write_jobs(tmp_path, tiny_checkpoint, job))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""  # nothing ran


@pytest.mark.parametrize(
    ("job", "fragments"),
    [
        (
            "  - input: a.mp4\n    ref: ref.png\n    output: same.mp4\n"
            "  - input: b.mp4\n    ref: ref.png\n    output: ./same.mp4\n",
            ["line 10:", "job 2 writes", "as job 1 (line 7) does"],
        ),
        (
            "  - input: a.mp4\n    ref: ref.png\n    output: b.mp4\n"
            "  - input: b.mp4\n    ref: ref.png\n",
            ["line 7:", "job 1's output", "job 2 (line 10) reads"],
        ),
        ("  - input: a.mp4\n    ref: ref.png\n    crf: 99\n", ["line 9:", "crf: 99 is not in"]),
        ("  - input: a.mp4\n    refs: s.yaml\n    ref: r.png\n", ["line 7:", "either 'refs:'"]),
        ("  - input: a.mp4\n", ["line 7:", "either 'refs:'"]),
        ("  - input: a.mp4\n    ref: r.png\n    fps: fast\n", ["line 9:", "fps fast"]),
        ("  - input: a.mp4\n    ref: r.png\n  oops\n", ["line 10, column 1", "not valid YAML"]),
    ],
)
def test_the_whole_jobs_file_is_checked_before_any_work(tmp_path, tiny_checkpoint, job, fragments):
    with pytest.raises(InputError) as error:
        load_jobs(write_jobs(tmp_path, tiny_checkpoint, job), film.params)
    for fragment in [f"{tmp_path}/jobs.yaml", *fragments]:
        assert fragment in str(error.value)


def test_defaults_apply_to_every_job_and_a_job_overrides_them(tmp_path, tiny_checkpoint):
    jobs = load_jobs(
        write_jobs(
            tmp_path,
            tiny_checkpoint,
            "  - input: a.mp4\n  - input: scans/\n    refs: b.yaml\n    method: exemplar\n"
            "    fps: 23.976\n    stabilise: false\n    codec:\n",
            extra_defaults="  ref: ref.png\n  codec: ffv1\n",
        ),
        film.params,
    )
    first, second = (job.options for job in jobs)
    assert first.ref == tmp_path / "ref.png" and first.refs is None
    assert (first.method, first.codec, first.working_size) == ("embed", "ffv1", 64)
    assert first.output == tmp_path / "a-remastered.mp4"  # as `remaster film` names it
    assert second.ref is None and second.refs == tmp_path / "b.yaml"
    assert (second.method, second.stabilise, second.codec) == ("exemplar", False, None)
    assert second.fps.numerator == 24000 and second.fps.denominator == 1001


def test_a_job_another_process_is_making_is_left_to_it(archive, tmp_path, tiny_checkpoint):
    jobs = write_jobs(
        tmp_path, tiny_checkpoint, f"  - input: {archive}/b.mp4\n    ref: {archive}/ref.png\n"
    )
    output = archive / "b-remastered.mp4"
    claim = Claim.take(output)  # this process is alive: its claim holds
    try:
        assert Claim.take(output) is None
        result = batch(jobs, "-q")
    finally:
        claim.release()
    assert result.exit_code == 0, result.output
    assert f"skipped: pid {os.getpid()} on {socket.gethostname()} is making" in result.stdout
    assert not output.exists() and not claim_path(output).exists()


def test_an_abandoned_claim_is_taken_over(tmp_path):
    ended = subprocess.Popen(["true"])
    ended.wait()
    output = tmp_path / "film.mp4"
    here = socket.gethostname()
    claim_path(output).write_text(f'{{"host": "{here}", "pid": {ended.pid}}}')
    claim = Claim.take(output)  # its process is dead: the claim was abandoned
    assert claim is not None
    claim.release()
    claim_path(output).write_text('{"host": "elsewhere", "pid": 1}')
    assert Claim.take(output) is None  # another machine's process may be alive
    old = time.time() - 3600
    os.utime(claim_path(output), (old, old))
    claim = Claim.take(output)  # ... unless it stopped touching its claim long ago
    assert claim is not None
    claim.release()
    assert not claim_path(output).exists()


def test_torchrun_processes_share_the_jobs_and_all_wait_for_the_last(
    archive, tmp_path, tiny_checkpoint
):
    """torchrun stops every process once one exits non-zero: the process whose job failed must
    not cut the other's film short, and both report the failure."""
    jobs = write_jobs(
        tmp_path,
        tiny_checkpoint,
        f"  - input: {archive}/missing.mp4\n    ref: {archive}/ref.png\n    output: x.mp4\n"
        f"  - input: {archive}/long.mp4\n    ref: {archive}/ref.png\n    output: long.mp4\n",
    )
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    result = subprocess.run(
        [*torchrun, "--nproc-per-node", "2", "--monitor-interval", "0.1", "-m", "remaster"]
        + ["batch", str(jobs), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "shard 0/2: 1 jobs): 0 done, 0 skipped, 1 failed (jobs 1)" in result.stdout
    assert "shard 1/2: 1 jobs): 1 done, 0 skipped, 0 failed" in result.stdout
    assert (tmp_path / "long.mp4").is_file()
