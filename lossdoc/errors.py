"""The one error type readers and config raise; the CLI turns it into one stderr line and exit 2,
made printable by :func:`one_line`."""

from __future__ import annotations

from dataclasses import dataclass


class LossdocError(Exception):
    """A problem with an input or a setting that the user can act on.

    ``source`` names the file (or option) and ``message`` says what is wrong, in words a user
    can act on: ``runs/a.csv: no column looks like a loss; columns are: epoch, acc — use --train COL``.
    """

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass(frozen=True)
class InputError:
    """A problem with one input, as a value: reported with the others once every input is read."""

    source: str
    message: str


def one_line(text: str) -> str:
    """``text`` fit for one line of a terminal or a plot: control characters (a newline in a file or
    column name) escaped, and the undecodable bytes of a file name shown as ``\\xff``.

    Every report format passes the text a log supplied (names, paths, notes) through this: an escape
    sequence in a column name must not clear the screen, make a link or write to the clipboard."""
    if text.isprintable():  # the usual case, in C (a lone surrogate is not printable)
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a JSON "\\ud800" escape
        data = text.encode("utf-8", "backslashreplace")
    text = data.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (a library's
    error about one plot or one file, said in a single line)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
