"""The followers of ``lossdoc watch``, one per kind of input, each read by the cheapest means it allows
(see :mod:`lossdoc.watch`), and :class:`Run`, which feeds a follower's rows to its monitor."""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from lossdoc.errors import LossdocError
from lossdoc.ingest import read_one
from lossdoc.ingest.roles import X_NAMES, is_x_name
from lossdoc.monitor import Alert, Monitor
from lossdoc.watch.lines import MAX_LINE, DelimitedLines, LineParser, Row

APPENDED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ".log")
"""Files followed by offset (their new lines only); other files and folders are re-read when they change."""


@dataclass
class Run:
    """One followed input and its monitor; rows without an x value are numbered."""

    label: str
    monitor: Monitor
    x_key: str | None = None
    rows: int = 0

    def feed(self, row: Row) -> list[Alert]:
        if self.x_key is None:
            lowered = {k.strip().lower(): k for k in row}
            self.x_key = next((lowered[n] for n in X_NAMES if n in lowered), "")
            if self.x_key:
                self.monitor.x_name = self.x_key
        x = row.get(self.x_key) if self.x_key else None
        step = float(self.rows) if x is None or not math.isfinite(x) else x
        self.rows += 1
        values = {k: v for k, v in row.items() if k != self.x_key and v is not None and not is_x_name(k)}
        return self.monitor.update(step, **values) if values else []


# --- followers ------------------------------------------------------------------------------------------


class AppendedFile:
    """A text log that grows at its end: each poll reads the bytes past the offset reached."""

    def __init__(self, path: Path, parser: LineParser) -> None:
        self.path = path
        self.parser = parser
        self.offset = 0
        self.tail = b""

    def poll(self) -> list[Row]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # truncated or replaced: a new run in the same file
            self.offset, self.tail, self.parser = 0, b"", type(self.parser)()
        if size == self.offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(size - self.offset)
        self.offset += len(data)
        lines = (self.tail + data).split(b"\n")
        self.tail = lines.pop()
        if len(self.tail) > MAX_LINE:
            self.tail = b""
        rows = []
        for raw in lines:
            row = self.parser(raw.decode("utf-8", "replace"))
            if row is not None:
                rows.append(row)
        return rows

    def finish(self) -> list[Row]:
        """The last line, if the writer ended without a newline."""
        if not self.tail.strip():
            return []
        row = self.parser(self.tail.decode("utf-8", "replace"))
        self.tail = b""
        return [row] if row is not None else []


class RereadLog:
    """A log rewritten as a whole (``trainer_state.json``) or a folder (TensorBoard): re-read when it changes,
    and only the points past those already fed are fed."""

    def __init__(self, path: Path, overrides: dict[str, str | None]) -> None:
        self.path = path
        self.overrides = overrides
        self.signature: tuple[Any, ...] = ()
        self.fed: dict[str, float] = {}
        self.error: LossdocError | None = None

    def _signature(self) -> tuple[Any, ...]:
        if self.path.is_dir():
            found = []
            for folder, _, files in os.walk(self.path):
                for name in files:
                    with contextlib.suppress(OSError):
                        st = os.stat(os.path.join(folder, name))
                        found.append((folder, name, st.st_size, st.st_mtime_ns))
            return tuple(sorted(found))
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return ()
        return (st.st_size, st.st_mtime_ns)

    def poll(self) -> list[Row]:
        signature = self._signature()
        if not signature or signature == self.signature:
            return []
        try:
            runs = read_one(str(self.path), self.overrides)
        except LossdocError as exc:  # often a file caught half-written: read it again at the next change
            self.error = exc
            return []
        self.signature, self.error = signature, None
        if not runs:
            return []
        by_x: dict[float, Row] = {}
        for s in runs[0].series:
            done = self.fed.get(s.name, -math.inf)
            new = s.x > done
            for x, y in zip(s.x[new].tolist(), s.y[new].tolist(), strict=True):
                by_x.setdefault(x, {"step": x})[s.name] = y
            if new.any():
                self.fed[s.name] = float(s.x[new].max())
        return [by_x[x] for x in sorted(by_x)]

    def finish(self) -> list[Row]:
        return []


class StandardInput:
    """Lines from standard input, read by a thread (so the loop can time out), passed through unchanged."""

    def __init__(self, stream: BinaryIO, echo: BinaryIO, parser: LineParser) -> None:
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.echo = echo
        self.parser = parser
        self.ended = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: BinaryIO) -> None:
        try:
            for line in iter(stream.readline, b""):
                self.lines.put(line)
        finally:
            self.lines.put(None)

    def wait(self, seconds: float) -> None:
        """Block until a line arrives or ``seconds`` pass (without taking the line)."""
        with contextlib.suppress(queue.Empty):
            line = self.lines.get(timeout=seconds)
            self.lines.queue.appendleft(line)  # put it back first in line

    def poll(self) -> list[Row]:
        rows = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self.ended = True
                break
            with contextlib.suppress(OSError, ValueError):
                self.echo.write(line)
                self.echo.flush()
            row = self.parser(line.decode("utf-8", "replace"))
            if row is not None:
                rows.append(row)
        return rows

    def finish(self) -> list[Row]:
        return []


def follower_for(spec: str, overrides: dict[str, str | None]) -> Any:
    path = Path(spec)
    if path.is_dir() or not path.name.lower().endswith(APPENDED_SUFFIXES):
        return RereadLog(path, overrides)
    return AppendedFile(path, DelimitedLines())
