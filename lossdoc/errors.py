"""The one error type readers and config raise; the CLI turns it into one stderr line and exit 2."""

from __future__ import annotations


class LossdocError(Exception):
    """A problem with an input or a setting that the user can act on.

    ``source`` names the file (or option) and ``message`` says what is wrong, in words a user
    can act on: ``runs/a.csv: no column looks like a loss; columns are: epoch, acc — use --train COL``.
    """

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message
