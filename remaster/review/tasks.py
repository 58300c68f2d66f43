"""Long work of the review room (proxies, renders) in one background thread, with progress.

The page starts a task and polls it; the server's own threads keep answering in the meantime,
so long work never blocks the page. One worker: the machine's cores (or its GPU) are better
spent on one job at a time, and a render must not race a proxy for the model.
"""

from __future__ import annotations

import itertools
import queue
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from model.errors import CheckpointError
from remaster.errors import RemasterError


@dataclass
class Task:
    id: int
    kind: str  # "proxy" or "render"
    label: str
    state: str = "queued"  # queued -> running -> done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    result: str | None = None  # what the page fetches when done (a proxy's URL)
    work: Callable[[Task], str | None] | None = field(default=None, repr=False)

    def progress(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total or self.total

    def public(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
            "result": self.result,
        }


class Tasks:
    """Tasks by id, run in order by one daemon thread."""

    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self.tasks: dict[int, Task] = {}
        self.numbers = itertools.count(1)
        self.queue: queue.Queue[Task | None] = queue.Queue()
        self.worker = threading.Thread(target=self._run, name="remaster-review", daemon=True)
        self.worker.start()

    def start(self, kind: str, label: str, work: Callable[[Task], str | None]) -> Task:
        """A task for `work`, or the same kind's task with the same label still to finish
        (a second click on "play" waits for the first proxy rather than making another)."""
        for task in self.tasks.values():
            if task.kind == kind and task.label == label and task.state in ("queued", "running"):
                return task
        task = Task(next(self.numbers), kind, label, work=work)
        self.tasks[task.id] = task
        self.queue.put(task)
        return task

    def busy(self, kind: str) -> Task | None:
        return next(
            (t for t in self.tasks.values() if t.kind == kind and t.state in ("queued", "running")),
            None,
        )

    def _run(self) -> None:
        while (task := self.queue.get()) is not None:
            task.state = "running"
            try:
                task.result = task.work(task)
                task.state = "done"
            except (RemasterError, CheckpointError) as error:
                task.state, task.message = "failed", str(error)
            except Exception as error:  # noqa: BLE001 - the page must hear of every failure
                task.state = "failed"
                task.message = f"{type(error).__name__}: {error} (please report this)"
                if self.debug:
                    traceback.print_exc()

    def stop(self) -> None:
        self.queue.put(None)
