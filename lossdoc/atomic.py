"""Files written atomically: a temporary file beside the target, renamed into place. A reader (a CI
step, an image viewer) never sees a half-written report or plot, a failed write leaves the old file,
and a process stopped by a signal leaves no temporary file (see :func:`remove_partial`)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

writing: str | None = None
"""The temporary file being written, if any: what a process stopped by a signal removes."""


@contextlib.contextmanager
def replacing(path: Path, suffix: str) -> Iterator[str]:
    """The name of a new, empty temporary file beside ``path``, to write; when the block ends it is
    renamed onto ``path`` (as readable as any new file), or removed if the block raised.

    The name is recorded in :data:`writing` before the file exists and cleared only once the file is
    gone, so a signal arriving at any moment in between leaves nothing behind: ``tempfile.mkstemp``
    creates the file before its name can be recorded.
    """
    global writing
    folder = path.parent if str(path.parent) else Path(".")
    try:
        while True:
            tmp = str(folder / f".lossdoc-{secrets.token_hex(6)}{suffix}")
            writing = tmp
            try:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                break
            except FileExistsError:
                continue
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())  # created 0600, as mkstemp does; readable as any new file is
        os.replace(tmp, path)
    finally:
        remove_partial()
        writing = None


def remove_partial() -> None:
    """Remove the temporary file being written, if any (called when the process is stopped)."""
    tmp = writing
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def umask() -> int:
    """The process's umask (reading it means setting it: set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
