"""Line parsers for ``lossdoc watch``: each turns one line of a stream (a file's new lines, standard
input) into a row of named numbers. They are plain functions in :data:`LINE_PARSERS`, so a reader of
console formats can add its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from lossdoc.ingest.console_styles import State, feed, segments
from lossdoc.ingest.delimited import sniff_delimiter
from lossdoc.ingest.roles import classify_loss

Row = dict[str, "float | None"]

MAX_LINE = 1 << 20
"""A line longer than this (1 MiB) without a newline is not a log line: dropped, never buffered forever."""


class LineParser(Protocol):
    """Turns one line of a stream into a row of named numbers, or None when the line is not one.

    A parser keeps what it needs between lines (a CSV header)."""

    def __call__(self, line: str) -> Row | None: ...


class DelimitedLines:
    """CSV/TSV rows after their header line, and JSON Lines objects; any other line is ignored."""

    def __init__(self) -> None:
        self.header: list[str] | None = None
        self.delimiter = ","

    def __call__(self, line: str) -> Row | None:
        text = line.strip().lstrip("\ufeff")
        if not text:
            return None
        if text.startswith("{"):
            return _json_row(text)
        if self.header is None:
            self._maybe_header(text)
            return None
        cells = [c.strip() for c in text.split(self.delimiter)]
        if len(cells) != len(self.header):
            self._maybe_header(text)  # a new header (a restarted run) or noise
            return None
        row: Row = {}
        for name, cell in zip(self.header, cells, strict=True):
            value = _number(cell)
            if value is not None or cell == "":
                row[name] = value
            elif not cell:
                continue
            else:
                return None  # a text cell: not a data row
        return row

    def _maybe_header(self, text: str) -> None:
        delimiter = sniff_delimiter(text)
        names = [n.strip().strip('"') for n in text.split(delimiter)]
        if len(names) >= 1 and any(classify_loss(n) is not None for n in names):
            self.header, self.delimiter = names, delimiter


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _json_row(text: str) -> Row | None:
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    row: Row = {}
    for key, value in obj.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            row[str(key)] = float(value)
        elif isinstance(value, str) and value.strip().lower() in ("nan", "inf", "-inf", "infinity", "-infinity"):
            row[str(key)] = float(value.strip().lower().replace("infinity", "inf"))
    return row or None


class ConsoleLines:
    """Console output (the HuggingFace Trainer's printed dicts, Keras, Lightning, nanoGPT, llm.c,
    Megatron, mmengine, YOLO ...: the styles of :mod:`lossdoc.ingest.console`). A printed value is fed
    once its x is final, when a later x is printed for the same series: a progress bar redraws its
    epoch's values until the next epoch begins, so the last point waits for the one after it."""

    def __init__(self) -> None:
        self.state = State()
        self.sent: dict[str, int] = {}

    def __call__(self, line: str) -> Row | None:
        for seg in segments(line):
            feed(seg, self.state)
        pts = self.state.points
        row: Row = {}
        at: tuple[str, float] | None = None
        for name, xs in pts.xs.items():
            final = len(xs) - 1  # every point but the last is final
            done = self.sent.get(name, 0)
            if final <= done:
                continue
            x_name, x = pts.x_names[name], xs[final - 1]
            if at is not None and at != (x_name, x):
                continue  # another x: fed with a later line
            at = (x_name, x)
            row[name] = pts.ys[name][final - 1]
            self.sent[name] = final
        if at is None:
            return None
        row[at[0]] = at[1]
        return row


LINE_PARSERS: dict[str, Callable[[], LineParser]] = {"csv-jsonl": DelimitedLines, "console": ConsoleLines}
"""Line parsers by name, each a factory of a fresh parser. ``watch`` tries them in order on standard input
and uses the first that recognises a line from then on."""


class FirstThatParses:
    """Tries each registered parser on each line until one recognises a line, then keeps that one."""

    def __init__(self, factories: dict[str, Callable[[], LineParser]] | None = None) -> None:
        self.parsers = [make() for make in (factories or LINE_PARSERS).values()]
        self.chosen: LineParser | None = None

    def __call__(self, line: str) -> Row | None:
        if self.chosen is not None:
            return self.chosen(line)
        for parser in self.parsers:
            row = parser(line)
            if row is not None:
                self.chosen = parser
                return row
        return None
