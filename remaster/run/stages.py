"""The film pipeline's threads: each stage is a generator, and `prefetch` runs one in a thread
of its own, joined to the next by a bounded queue.

    prefetch(decode) -> assign_entries -> unfinished -> batch_by_entry -> prefetch(ColorStage)
    -> sink.pictures: chroma planes (video) or RGB frames (image sequence) -> (writer)

Decoding, colouring and encoding each run in a thread of their own, so the colorizer never
waits for the others. No stage holds more than a batch or a queue's worth, so memory does not
grow with the film's length (remaster/run/segments.py puts them together).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = object()


def prefetch(items: Iterable, depth: int = 8, name: str = "remaster-decode") -> Iterator:
    """Run `items` in a thread, `depth` ahead. Its exceptions re-raise here; the thread is
    always stopped and joined, even when the consumer stops early: once the generator is closed
    (a consumer that fails must close it; its traceback would keep it suspended)."""
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        buffer.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            buffer.put(("done", _DONE))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer
            buffer.put(("error", error))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                buffer.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.1)
