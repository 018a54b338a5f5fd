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

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lossdoc.advice import advise
from lossdoc.analysis import RULES, analyze
from lossdoc.errors import InputError, LossdocError
from lossdoc.ingest import read_one
from lossdoc.ingest.names import run_name
from lossdoc.monitor import Alert, Monitor
from lossdoc.policy import FailPolicy
from lossdoc.report import Options as ReportOptions
from lossdoc.report import Report
from lossdoc.report.json import dumps
from lossdoc.watch.follow import AppendedFile, RereadLog, Run, StandardInput, follower_for
from lossdoc.watch.lines import LINE_PARSERS, DelimitedLines, FirstThatParses, LineParser, Row

__all__ = [
    "LINE_PARSERS",
    "AppendedFile",
    "DelimitedLines",
    "FirstThatParses",
    "LineParser",
    "Options",
    "Outcome",
    "RereadLog",
    "Row",
    "Run",
    "StandardInput",
    "follow",
    "report",
]


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
    return Report(
        diagnoses=diagnoses, errors=errors, exit_code=code, options=ReportOptions(rules=rules, fail_on=policy)
    )


def _run_hook(command: str, run: Run, alert: Alert, say: Callable[[str], None]) -> None:
    """``--on-finding``: the command gets the finding as JSON on its standard input; its output goes to
    standard error (standard output may be the piped training log)."""

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
