"""The one error model/ raises to its callers: a weights file that cannot be used.

It lives alone so that every module reading weights (checkpoint, pretrained, efficientnet,
lpips) can raise it without importing the others.
"""

from __future__ import annotations

from pathlib import Path


class CheckpointError(Exception):
    """A weights file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
