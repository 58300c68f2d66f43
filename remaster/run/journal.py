"""The work folder beside the output: finished segments and the journal that lists them.

`--resume` after an interruption (Ctrl-C, a crash, kill -9) keeps every segment the journal
lists and redoes the rest. The journal records which job made it (inputs, weights, options),
so a changed input or setting never mixes with old segments.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from model.files import write_atomically
from remaster.errors import OutputError
from remaster.media.video import Segment

JOURNAL = "journal.json"


class DifferentJob(OutputError):
    """The work folder holds an interrupted run of another job."""


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def work_folder(output: Path) -> Path:
    return output.with_name(f".{output.name}.remaster")


@dataclass
class Journal:
    """The segments finished so far. Each process of a run spread over ranks
    (remaster/run/ranks.py) writes its own journal file in the shared work folder; reading takes
    them all."""

    folder: Path
    job: dict
    segments: dict[int, dict]
    name: str = JOURNAL  # this process's journal file

    @classmethod
    def open(cls, output: Path, job: dict, resume: bool, rank: int = 0) -> tuple[Journal, int]:
        """The journal for `job`; with `resume`, the finished segments of an earlier run of the
        same job are kept. Returns it and how many segments were kept. Rank 0 starts the work
        folder afresh without `resume`; other ranks open it after rank 0 has."""
        folder = work_folder(output)
        name = JOURNAL if rank == 0 else f"journal-rank{rank}.json"
        if resume and any(folder.glob("journal*.json")):
            journal = cls(folder, job, {}, name)
            journal.read()
            return journal, len(journal.segments)
        if rank == 0:
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
        journal = cls(folder, job, {}, name)
        journal.save()
        return journal, 0

    def read(self) -> None:
        """Take in the segments every journal file in the folder lists (whose file exists)."""
        for path in sorted(self.folder.glob("journal*.json")):
            saved = json.loads(path.read_text())
            if saved.get("job") != self.job:
                raise DifferentJob(
                    f"{self.folder}: holds an interrupted run of a different job (input, "
                    "references, cut list, weights or options changed); run without --resume "
                    "to start over"
                )
            for number, entry in saved["segments"].items():
                if (self.folder / entry["file"]).is_file():
                    self.segments[int(number)] = entry

    def segment_path(self, number: int, suffix: str) -> Path:
        return self.folder / f"segment-{number:06d}{suffix}"

    def record(
        self,
        number: int,
        path: Path,
        frames: int,
        offset: int,
        time_base: Fraction,
    ) -> None:
        """A segment is finished: its file is complete on disk before the journal says so."""
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        self.segments[number] = {
            "file": path.name,
            "frames": frames,
            "offset": offset,
            "time_base": str(time_base),
        }
        self.save()

    def save(self) -> None:
        record = json.dumps({"job": self.job, "segments": self.segments}, indent=1)
        write_atomically(self.folder / self.name, record.encode(), durable=True)

    def finished(self) -> list[Segment]:
        return [
            Segment(self.folder / entry["file"], entry["offset"], Fraction(entry["time_base"]))
            for _, entry in sorted(self.segments.items())
        ]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
