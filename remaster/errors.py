"""The errors a user can cause and fix. The CLI prints each as one line and exits non-zero."""


class RemasterError(Exception):
    """Base class: the message is complete (names the file or frame and what to do)."""


class InputError(RemasterError):
    """An input file is missing, unreadable or of a kind we do not handle."""


class OutputError(RemasterError):
    """The output cannot be written where or how it was asked for."""
