"""Files that appear under their name only when complete.

Everything remaster writes (weights, training state, images, films, journals, reports) goes to a
temporary name beside its destination and is renamed over it when whole, so an interruption
never leaves a half-written file under the real name. The temporary name keeps the extension:
muxers and image encoders choose their format by it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def partial_path(path: Path) -> Path:
    """The temporary name beside `path`: hidden, marked partial, same extension."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


@contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `path` when the block ends without an
    error, and is removed whatever happens."""
    path = Path(path)
    temporary = partial_path(path)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomically(path: Path | str, data: bytes, durable: bool = False) -> None:
    """`data` under `path`, all or nothing; `durable` also waits until it is on the disk (for
    records a crash must not lose, such as the film journal)."""
    with atomic_output(path) as temporary:
        with temporary.open("wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
