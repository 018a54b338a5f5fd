"""What the ingest package and its readers share: the types they pass, kept here so that a reader
imports them without importing the package that imports the readers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from lossdoc.errors import InputError, LossdocError

if TYPE_CHECKING:
    from lossdoc.history import LossHistory
    from lossdoc.ingest.source import RawInput

Overrides = dict[str, "str | None"]
"""Column choices from the command line: ``{"x": ..., "train": ..., "val": ...}`` (None: guess)."""


class Reader(Protocol):
    """A reader: one opened input in, its runs out. Raises LossdocError (NotALog for no series at all)."""

    def __call__(self, raw: RawInput, overrides: Overrides) -> list[LossHistory]: ...


class NotALog(LossdocError):
    """The input holds no series at all (e.g. a config JSON): an error when named, skipped when found."""


@dataclass(frozen=True)
class LogRef:
    """One log to read: a file (format from its content) or a log folder (TensorBoard run, MLflow run)."""

    path: str
    kind: str = "file"  # "file" | "tensorboard" | "mlflow"
    name: str | None = None  # the run name, when found by searching a folder
    validation: str | None = None  # tensorboard: Keras's validation/ folder, paired with train/ in `path`
    source: str | None = None  # what the run reports as its source (default: path)
    found: bool = False  # found by searching a folder rather than named on the command line
    twins: tuple[str, ...] = ()  # byte-identical copies found beside it, not read again


def is_event_file(name: str) -> bool:
    return "tfevents" in name


__all__ = ["InputError", "LogRef", "NotALog", "Overrides", "Reader", "is_event_file"]
