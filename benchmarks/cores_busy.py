"""How many of the machine's cores a command keeps busy, second by second.

    .venv/bin/python benchmarks/cores_busy.py -- .venv/bin/remaster examples/film/reel.mp4 \
        --refs examples/film/shots.yaml -o out/busy.mp4 -q

Runs the command and reads its CPU time (user and system, its threads' included, those that
have ended too; not processes it starts) from /proc each second: cores in use = CPU seconds over
wall seconds. What it shows: whether a run leaves cores idle that overlapping its stages could
fill. Linux only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """The process's user and system time so far; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (stat's 14th, 15th)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=1.0, help="seconds between readings")
    parser.add_argument("--skip", type=float, default=3.0, help="start-up seconds left out")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    process = subprocess.Popen(command)
    began = time.perf_counter()
    readings, last = [], (began, 0.0)
    while process.poll() is None:
        time.sleep(args.every)
        now, used = time.perf_counter(), cpu_seconds(process.pid)
        if used is None or process.poll() is not None:
            break  # gone or a zombie: the last, partial second is left out
        readings.append((now - began, (used - last[1]) / (now - last[0])))
        last = (now, used)
    process.wait()
    running = [busy for at, busy in readings if at >= args.skip]
    print(" ".join(f"{busy:.2f}" for _, busy in readings))
    if running:
        print(
            f"cores busy after the first {args.skip:g} s: mean {sum(running) / len(running):.2f}, "
            f"least {min(running):.2f}, most {max(running):.2f} of {os.cpu_count()}; "
            f"{len(running)} readings; exit status {process.returncode}"
        )


if __name__ == "__main__":
    main()
