"""The terminal report (rich).

Many runs: one summary table (run, verdict, worst finding) first, the details after. Each run: a
header (source, format, points, x range, best validation point, final losses, sparklines), the
findings most severe first with the advice under each, and the "Next run" advice when there is
some. ``--quiet`` prints only the summary table. Beyond ``DETAIL_ALL_UP_TO`` runs, ``--details auto``
(the default) details only the runs with a warning or an error (or that fail ``--fail-on``): a
folder of a thousand logs gives the table and the runs that need a look, not 40,000 lines; ``--details
all`` prints every run. Width and colour follow the terminal (rich honours ``NO_COLOR`` and
``COLUMNS``); nothing here forces either.
"""

from __future__ import annotations

import re
from itertools import pairwise

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.kernels import median
from lossdoc.analysis.types import Diagnosis
from lossdoc.report import (
    Report,
    by_severity,
    confidence_text,
    failing_runs,
    final_phrases,
    next_run_blocks,
    printable,
    too_short_text,
    verdict_text,
    where_text,
    worst_finding,
    worst_headline,
)
from lossdoc.words import count, fail_count

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
DETAIL_ALL_UP_TO = 10
"""With more runs than this, ``--details auto`` details only the runs that need a look."""
SPARK = "▁▂▃▄▅▆▇█"


class QuietOnBrokenPipe(Console):
    """A Console that, when its reader goes away (``| head -1``), stops writing and lets the caller
    decide the exit code (rich's own Console exits with 1, which means "findings" to a CI job)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


MIN_SPARK_SPAN = 0.05
"""A sparkline's scale spans at least this much (in log space: a 5% change; for a loss that can be
negative, 5% of its largest magnitude): a curve that moves less is drawn flat, mid-height, never stretched
from ▁ to █ next to a finding that calls it flat."""


def _bucket_medians(y: np.ndarray, width: int) -> np.ndarray:
    idx = np.linspace(0, y.size, num=min(width, y.size) + 1).astype(int)
    return np.array(
        [
            median(y[a:b][np.isfinite(y[a:b])])  # np.nanmedian's value, without its import of numpy.ma
            if b > a and np.isfinite(y[a:b]).any()
            else np.nan
            for a, b in pairwise(idx)
        ]
    )


Scale = tuple[bool, float, float]
"""A sparkline scale: (log, low, high), in log space when ``log``."""


def spark_scale(ys: list[np.ndarray], width: int = 40) -> Scale | None:
    """One scale for a run's sparklines (train and validation side by side compare): log when every finite
    value is positive, spanning at least :data:`MIN_SPARK_SPAN`."""
    return _scale([_bucket_medians(y, width) for y in ys if y.size])


def sparkline(y: np.ndarray, width: int = 40, scale: Scale | None = None) -> str:
    """A unicode sparkline of a loss on ``scale`` (:func:`spark_scale`; its own when None); non-finite
    points show as '×'."""
    if y.size == 0:
        return ""
    vals = _bucket_medians(y, width)
    return _draw(vals, scale or _scale([vals]))


def sparklines(ys: list[np.ndarray], width: int) -> list[str]:
    """Each series' sparkline on one shared scale, each series' bucket medians computed once."""
    vals = [_bucket_medians(y, width) if y.size else np.array([]) for y in ys]
    scale = _scale([v for v in vals if v.size])
    return [_draw(v, scale) if v.size else "" for v in vals]


def _scale(medians: list[np.ndarray]) -> Scale | None:
    vals = np.concatenate(medians or [np.array([])])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return None
    log = bool(np.all(vals > 0))
    v = np.log(vals) if log else vals
    lo, hi = float(v.min()), float(v.max())
    span = MIN_SPARK_SPAN if log else MIN_SPARK_SPAN * max(float(np.abs(v).max()), 1e-300)
    if hi - lo < span:
        mid = (hi + lo) / 2
        lo, hi = mid - span / 2, mid + span / 2
    return log, lo, hi


def _draw(vals: np.ndarray, scale: Scale | None) -> str:
    finite = np.isfinite(vals)
    if not finite.any() or scale is None:
        return "×" * vals.size
    log, lo, hi = scale
    v = np.log(np.where(vals > 0, vals, np.nan)) if log else vals
    scaled = np.clip((v - lo) / (hi - lo) * (len(SPARK) - 1), 0, len(SPARK) - 1)
    return "".join(SPARK[int(s)] if f else "×" for s, f in zip(np.nan_to_num(scaled), finite, strict=True))


def _header(d: Diagnosis, plot: str | None, spark_width: int) -> Table:
    h, s = d.history, d.summary
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim", no_wrap=True)
    t.add_column()
    # Names, paths and messages come from the input: rich Text, never markup, or "[/x]" in a column
    # name is a crash and "[link=...]" a link (and escaping them doubles a trailing backslash).
    t.add_row("source", Text.assemble(h.source, "  ", (f"({h.format})", "dim")))
    t.add_row("series", Text(", ".join(f"{x.role}: {x.name}" for x in h.series)))
    t.add_row("points", Text(f"{s['points']:,} over {h.x_name} {fmt_x(s['x_min'])} – {fmt_x(s['x_max'])}"))
    if s.get("best_val") is not None:
        t.add_row("best val", Text(f"{fmt_loss(s['best_val'])} at {h.x_name} {fmt_x(s['best_val_x'])}"))
    finals = final_phrases(s)
    if finals:
        t.add_row("final", " · ".join(finals))
    shown = [x for x in (h.train, h.val) if x is not None and x.y.size]
    for x, line in zip(shown, sparklines([x.y for x in shown], spark_width), strict=True):
        t.add_row(x.role, Text(line, style="blue" if x.role == "train" else "red"))
    if plot:
        t.add_row("plot", Text(plot))
    for note in h.notes:
        t.add_row("note", Text(note, style="dim"))
    return t


def _findings(d: Diagnosis) -> RenderableType:
    if not d.findings:
        if d.verdict == "too-short":
            return Text(too_short_text(d), style="yellow")
        return Text("✓ no problems found", style="green")
    t = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    t.add_column("severity", no_wrap=True)
    t.add_column("rule", no_wrap=True)
    t.add_column("where", no_wrap=True)
    t.add_column("finding / advice", ratio=1)
    for f in by_severity(d.findings):
        body = Text(f.message)
        if f.confidence != "high":
            body.append(confidence_text(f), style="italic")
        body.append("\n→ " + f.advice, style="dim")
        t.add_row(Text(f.severity, style=SEVERITY_STYLE[f.severity]), Text(f.rule), Text(where_text(f)), body)
    return t


def snippet_code(d: Diagnosis) -> str | None:
    """The run's copy-paste code (a framework's early-stopping setup), or None (no recommendation, or
    the framework-neutral sentence, which is prose and wraps like prose)."""
    rec = d.advice.recommendation if d.advice is not None else None
    if not rec or (rec.framework or "generic") == "generic" or not rec.snippet:
        return None
    return "\n".join(line for line in str(rec.snippet).splitlines() if line.strip())


def print_code(console: Console, code: str) -> None:
    """Code as it must be pasted: highlighted, never wrapped or cut at the terminal's width (rich's
    soft wrap leaves long lines to the terminal, so a copy gives the original lines)."""
    if console.color_system is None:
        # No colours (a file, a pipe, a dumb terminal): highlighting would print the same characters,
        # after compiling pygments' Python lexer (tens of milliseconds, more than the analysis).
        text = Text(code, no_wrap=True)
    else:
        from rich.syntax import Syntax  # start-up time: pygments only for a colour terminal

        text = Syntax("", "python", theme="ansi_dark", background_color="default").highlight(code)
    text.rstrip()
    console.print(text, soft_wrap=True)


def _next_run(d: Diagnosis) -> RenderableType | None:
    blocks = next_run_blocks(d)
    if not blocks:
        return None
    code = snippet_code(d)
    code_lines = code.splitlines() if code else None
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True)
    t.add_column()
    for line, more in blocks:
        if code_lines is not None and more == code_lines:
            # printed after the box, unwrapped: code cut at the box's edge would not run when pasted
            t.add_row("•", Text(line.rstrip(":") + "; the code is below this box."))
            continue
        t.add_row("•", Text(line))
        for m in more:
            t.add_row("", Padding(Text(m, style="dim"), (0, 0, 0, 2)))
    return Group(Text("Next run", style="bold"), t)


def verdict(d: Diagnosis) -> Text:
    text = verdict_text(d)
    worst = worst_finding(d.findings)
    return Text(text, style="green" if worst is None else SEVERITY_STYLE[worst.severity])


def wrap_name(name: str, width: int) -> str:
    """A run name in lines of at most ``width``, broken after a ``/`` rather than inside a word; a
    single path part longer than ``width`` is broken after a ``_``, ``-`` or space, and only a word
    longer than that is cut where it must be (by the table)."""
    lines: list[str] = []
    line = ""
    for part in _parts(name, "/"):
        pieces = [part] if len(part) <= width else _parts(part, "_- ")
        for piece in pieces:
            if line and len(line) + len(piece) > width:
                lines.append(line)
                line = ""
            line += piece
    if line:
        lines.append(line)
    return "\n".join(lines)


def _parts(text: str, after: str) -> list[str]:
    """``text`` cut after each of the characters in ``after`` (which stay with the part before)."""
    return [p for p in re.findall(rf"[^{re.escape(after)}]*(?:[{re.escape(after)}]|$)", text) if p]


WORST_MIN_WIDTH = 16
"""The summary's "worst finding" column is never squeezed below this to make room for run names."""


def _name_width(names: list[str], verdicts: list[str], console_width: int) -> int:
    """The width run names are wrapped to: the longest name, as far as the other columns leave room
    (so the table never has to cut a name where it likes)."""
    longest = max((len(n) for n in names), default=3)
    # 5 borders and 2 spaces of padding per column; "findings" is 8 wide
    room = console_width - max((len(v) for v in verdicts), default=7) - len("findings") - WORST_MIN_WIDTH - 13
    return max(8, min(room, longest))


def summary_table(report: Report, console_width: int = 100) -> Table:
    t = Table(title="lossdoc", show_header=True, header_style="bold", expand=False)
    names = [d.history.name for d in report.diagnoses]
    width = _name_width(names, [verdict_text(d) for d in report.diagnoses], console_width)
    cells = [wrap_name(n, width) for n in names]
    longest = max((len(line) for c in cells for line in c.splitlines()), default=3)
    t.add_column("run", overflow="fold", no_wrap=True, min_width=min(width, longest))  # wrapped here, not by rich
    t.add_column("verdict", no_wrap=True)
    t.add_column("worst finding", ratio=1, overflow="fold")
    t.add_column("findings", justify="right", no_wrap=True)
    for d, cell in zip(report.diagnoses, cells, strict=True):
        first = worst_headline(d)
        t.add_row(Text(cell), verdict(d), Text(first), f"{len(d.findings):,}")
    for e in report.errors:
        t.add_row(Text(e.source), Text("input error", style="bold red"), Text(e.message), "")
    return t


def footer(report: Report) -> Text:
    runs = len(report.diagnoses)
    sick = failing_runs(report)
    text = Text(f"{count(runs, 'run')} analysed", style="dim")
    if report.errors:
        text.append(f", {count(len(report.errors), 'input error')}", style="dim")
    text.append(f"; {fail_count(sick)} the --fail-on policy", style="dim")
    text.append(f"; exit {report.exit_code}", style="bold" if report.exit_code else "dim")
    return text


def detailed(report: Report, details: str = "auto") -> list[int]:
    """Indices of the runs printed in full: all of them, or (``problems``, and ``auto`` beyond
    ``DETAIL_ALL_UP_TO`` runs) those with a warning or error finding or one that fails the policy."""
    if details == "all" or (details == "auto" and len(report.diagnoses) <= DETAIL_ALL_UP_TO):
        return list(range(len(report.diagnoses)))
    return [
        i
        for i, d in enumerate(report.diagnoses)
        if any(f.severity in ("warning", "error") or report.fails(f) for f in d.findings)
    ]


def print_report(report: Report, console: Console, *, quiet: bool = False, details: str = "auto") -> None:
    report = printable(report)
    if quiet or len(report.diagnoses) > 1:
        console.print(summary_table(report, console.width))
    if not quiet:
        spark_width = max(10, min(60, console.width - 20))
        shown = detailed(report, details)
        for i in shown:
            d = report.diagnoses[i]
            parts: list[RenderableType] = [_header(d, report.plots.get(i), spark_width), Text(""), _findings(d)]
            nxt = _next_run(d)
            if nxt is not None:
                parts += [Text(""), nxt]
            title = Text.assemble((d.history.name, "bold"), "  ", verdict(d))
            console.print(Panel(Group(*parts), title=title, title_align="left"))
            code = snippet_code(d)
            if code is not None:
                print_code(console, code)
        rest = len(report.diagnoses) - len(shown)
        if rest:
            console.print(
                Text(
                    f"{count(rest, 'run')} without a warning or error "
                    f"{'are' if rest != 1 else 'is'} in the table only; --details all prints every run in full.",
                    style="dim",
                )
            )
    if report.options.sweep is not None:
        from lossdoc.compare.sweep import print_sweep

        print_sweep(report.options.sweep, console)
    console.print(footer(report))
