"""``lossdoc watch``: follow logs while a run writes them, and alert as soon as something goes wrong.

Each input is followed by the cheapest means its kind allows, and feeds a :class:`~lossdoc.monitor.Monitor`:

- an appended text log (CSV/TSV, JSON Lines, a Lightning ``metrics.csv``): only the bytes added since
  the last poll are read, from the offset reached; a last line still being written waits for its newline;
- anything else (a ``trainer_state.json`` rewritten at each save, a TensorBoard folder gaining events):
  re-read when its size or modification time changes, and only the points past those already fed are fed;
- standard input (``python train.py 2>&1 | lossdoc watch -``): every line is passed through unchanged to
  standard output, and the lines a line parser recognises are fed. The parsers are plain functions in
  :data:`LINE_PARSERS`, so a reader of console formats can add its own.

Alerts go to standard error as they happen; at the end comes the report ``lossdoc analyze`` would give.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from lossdoc.errors import LossdocError
from lossdoc.monitor import Alert, Monitor

Row = dict[str, "float | None"]

APPENDED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".txt", ".log")
"""Files followed by offset (their new lines only); other files and folders are re-read when they change."""
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
        from lossdoc.ingest.delimited import sniff_delimiter
        from lossdoc.ingest.roles import classify_loss

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
        from lossdoc.ingest.console import State

        self.state = State()
        self.sent: dict[str, int] = {}

    def __call__(self, line: str) -> Row | None:
        from lossdoc.ingest import console

        for seg in console.segments(line):
            lower = seg.lower()
            if not any(word in lower for word in console.MAYBE) and not (
                self.state.yolo_columns and console.YOLO_ROW.match(seg)
            ):
                continue
            for style in console.STYLES:
                if style(seg, self.state):
                    break
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


# --- feeding rows to a monitor ------------------------------------------------------------------------


@dataclass
class Run:
    """One followed input and its monitor; rows without an x value are numbered."""

    label: str
    monitor: Monitor
    x_key: str | None = None
    rows: int = 0

    def feed(self, row: Row) -> list[Alert]:
        from lossdoc.ingest.roles import X_NAMES

        if self.x_key is None:
            lowered = {k.strip().lower(): k for k in row}
            self.x_key = next((lowered[n] for n in X_NAMES if n in lowered), "")
            if self.x_key:
                self.monitor.x_name = self.x_key
        x = row.get(self.x_key) if self.x_key else None
        step = float(self.rows) if x is None or not math.isfinite(x) else x
        self.rows += 1
        values = {k: v for k, v in row.items() if k != self.x_key and v is not None and not _is_x(k)}
        return self.monitor.update(step, **values) if values else []


def _is_x(key: str) -> bool:
    from lossdoc.ingest.roles import is_x_name

    return is_x_name(key)


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
        from lossdoc.ingest import read_one

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


# --- the loop -----------------------------------------------------------------------------------------


@dataclass
class Options:
    until: str | None = None
    on_finding: str | None = None
    interval: float = 1.0
    timeout: float | None = None
    idle_exit: float | None = None
    rules: list[str] | None = None
    rule_params: dict[str, dict[str, Any]] | None = None
    min_confidence: str = "medium"
    overrides: dict[str, str | None] = field(default_factory=dict)


@dataclass
class Outcome:
    runs: list[Run]
    stopped_by: Alert | None
    errors: list[tuple[str, str]]


def follow(
    specs: list[str],
    options: Options,
    say: Callable[[str], None],
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
) -> Outcome:
    """Follow every input until ``--until`` fires, standard input ends, ``--timeout`` or ``--idle-exit``."""
    from lossdoc.analysis import RULES
    from lossdoc.ingest.frame import run_name
    from lossdoc.policy import FailPolicy

    policy = FailPolicy.parse(options.until, RULES, options.min_confidence) if options.until else None
    live = [r for r in (options.rules or list(RULES)) if r != "still-improving"]
    followed: list[tuple[Any, Run]] = []
    for spec in specs:
        if spec == "-":
            follower: Any = StandardInput(stdin or sys.stdin.buffer, stdout or sys.stdout.buffer, FirstThatParses())
            label, name = "<stdin>", "stdin"
        else:
            follower, label, name = follower_for(spec, options.overrides), spec, run_name(spec)
        monitor = Monitor(
            name=name,
            source=label,
            train=options.overrides.get("train"),
            val=options.overrides.get("val"),
            rules=live,
            rule_params=options.rule_params,
            min_confidence=options.min_confidence,
        )
        followed.append((follower, Run(label, monitor)))

    started = last_data = time.monotonic()

    def handle(run: Run, alerts: list[Alert]) -> Alert | None:
        for alert in alerts:
            say(f"{run.label}: {alert.text(run.monitor.x_name)}")
            if alert.kind == "new" and options.on_finding:
                _run_hook(options.on_finding, run, alert, say)
            if alert.kind != "cleared" and policy is not None and policy.fails(alert.finding):
                return alert
        return None

    def drain(final: bool) -> Alert | None:
        nonlocal last_data
        for follower, run in followed:
            rows = follower.poll() + (follower.finish() if final else [])
            if rows:
                last_data = time.monotonic()
            for row in rows:
                stop = handle(run, run.feed(row))
                if stop is not None:
                    return stop
            if final:
                stop = handle(run, run.monitor.check())
                if stop is not None:
                    return stop
        return None

    pipes = [f for f, _ in followed if isinstance(f, StandardInput)]
    try:
        while True:
            stop = drain(final=False)
            if stop is not None:
                return Outcome([r for _, r in followed], stop, [])
            now = time.monotonic()
            if pipes and all(p.ended for p in pipes) and len(pipes) == len(followed):
                break
            if options.timeout is not None and now - started >= options.timeout:
                break
            if options.idle_exit is not None and now - last_data >= options.idle_exit:
                break
            if pipes and not all(p.ended for p in pipes):
                pipes[0].wait(options.interval)
            else:
                time.sleep(options.interval)
    except KeyboardInterrupt:
        pass  # the user ended the watch: the report follows
    stop = drain(final=True)
    return Outcome([r for _, r in followed], stop, [e for f, run in followed if (e := _error(f, run)) is not None])


def _error(follower: Any, run: Run) -> tuple[str, str] | None:
    """What is wrong with an input at the end of a watch (None: nothing)."""
    if isinstance(follower, StandardInput):
        return None
    if isinstance(follower, RereadLog) and follower.error is not None:
        return (follower.error.source, follower.error.message)
    if not Path(follower.path).exists():
        return (run.label, "file not found (nothing appeared there while watching)")
    if run.monitor.points == 0:
        return (run.label, "no line with a loss was read from it (a CSV header naming a loss, or JSON lines)")
    return None


def _final_histories(run: Run, overrides: dict[str, str | None]) -> list[Any]:
    """A file's runs as ``lossdoc analyze`` reads it (its format, its notes), read once more at the end; standard
    input's (or a file that cannot be read whole now) as the monitor saw it."""
    from lossdoc.ingest import read_one

    if run.label != "<stdin>":
        try:
            return read_one(run.label, overrides)
        except LossdocError:
            pass
    h = run.monitor.history()
    return [] if h is None else [h]


def report(
    outcome: Outcome,
    rules: list[str],
    policy: Any,
    rule_params: Any,
    framework: str | None,
    overrides: dict[str, str | None] | None = None,
) -> Any:
    """The report at the end: each run as ``lossdoc analyze`` would diagnose what was read of it."""
    from lossdoc.advice import advise
    from lossdoc.analysis import analyze
    from lossdoc.ingest import InputError
    from lossdoc.report import Report

    diagnoses = []
    failed = {source for source, _ in outcome.errors}
    for run in outcome.runs:
        if run.label in failed:
            continue
        for h in _final_histories(run, overrides or {}):
            d = analyze(h, rules, rule_params)
            d.advice = advise(d, framework)
            diagnoses.append(d)
    errors = [InputError(source, message) for source, message in outcome.errors]
    code = 2 if errors else 1 if outcome.stopped_by is not None else 0
    return Report(diagnoses=diagnoses, errors=errors, exit_code=code, options={"rules": rules, "fail_on": policy})


def _run_hook(command: str, run: Run, alert: Alert, say: Callable[[str], None]) -> None:
    """``--on-finding``: the command gets the finding as JSON on its standard input; its output goes to
    standard error (standard output may be the piped training log)."""
    from lossdoc.report.json import dumps

    payload = {"source": run.label, "run": run.monitor.name, "x": run.monitor.x_name, **alert.as_dict()}
    try:
        done = subprocess.run(
            command, shell=True, input=dumps(payload) + "\n", text=True, stdout=sys.stderr, timeout=60, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        say(f"--on-finding: could not run the command ({exc})")
        return
    if done.returncode != 0:
        say(f"--on-finding: the command exited with {done.returncode}")
