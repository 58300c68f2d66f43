"""The work folder beside the output: finished segments and the journal that lists them.

`--resume` after an interruption (Ctrl-C, a crash, kill -9) keeps every segment the journal
lists and redoes the rest. The journal records which job made it (inputs, weights, options),
so a changed input or setting never mixes with old segments.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from model.files import write_atomically
from remaster.errors import OutputError
from remaster.media import Segment

JOURNAL = "journal.json"


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
    folder: Path
    job: dict
    segments: dict[int, dict]

    @classmethod
    def open(cls, output: Path, job: dict, resume: bool) -> tuple[Journal, int]:
        """The journal for `job`; with `resume`, the finished segments of an earlier run of the
        same job are kept. Returns it and how many segments were kept."""
        folder = work_folder(output)
        path = folder / JOURNAL
        if resume and path.is_file():
            saved = json.loads(path.read_text())
            if saved.get("job") != job:
                raise OutputError(
                    f"{folder}: holds an interrupted run of a different job (input, references, "
                    "cut list, weights or options changed); run without --resume to start over"
                )
            segments = {int(k): v for k, v in saved["segments"].items()}
            segments = {k: v for k, v in segments.items() if (folder / v["file"]).is_file()}
            return cls(folder, job, segments), len(segments)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        journal = cls(folder, job, {})
        journal.save()
        return journal, 0

    def segment_path(self, number: int, suffix: str) -> Path:
        return self.folder / f"segment-{number:06d}{suffix}"

    def record(
        self,
        number: int,
        path: Path,
        frames: int,
        offset: int,
        time_base: Fraction,
        state: dict[str, np.ndarray] | None = None,
    ) -> None:
        """A segment is finished: its file, and the frame-to-frame state at its end, are
        complete on disk before the journal says so."""
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        if state is not None:
            buffer = io.BytesIO()
            np.savez(buffer, **state)
            write_atomically(self.state_path(number), buffer.getvalue(), durable=True)
        self.segments[number] = {
            "file": path.name,
            "frames": frames,
            "offset": offset,
            "time_base": str(time_base),
        }
        self.save()

    def state_path(self, number: int) -> Path:
        return self.folder / f"state-{number:06d}.npz"

    def state(self, number: int) -> dict[str, np.ndarray] | None:
        """The frame-to-frame state saved at the end of a finished segment, if any."""
        path = self.state_path(number)
        if number not in self.segments or not path.is_file():
            return None
        with np.load(path) as saved:
            return {name: saved[name] for name in saved.files}

    def save(self) -> None:
        record = json.dumps({"job": self.job, "segments": self.segments}, indent=1)
        write_atomically(self.folder / JOURNAL, record.encode(), durable=True)

    def finished(self) -> list[Segment]:
        return [
            Segment(self.folder / entry["file"], entry["offset"], Fraction(entry["time_base"]))
            for _, entry in sorted(self.segments.items())
        ]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
