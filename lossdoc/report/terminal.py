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

from itertools import pairwise

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.types import Diagnosis
from lossdoc.report import Report, by_severity, headline, next_run_blocks, printable, verdict_text, where_text

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


def sparkline(y: np.ndarray, width: int = 40) -> str:
    """A unicode sparkline of a loss (log scale when positive); non-finite points show as '×'."""
    if y.size == 0:
        return ""
    idx = np.linspace(0, y.size, num=min(width, y.size) + 1).astype(int)
    vals = np.array(
        [
            np.nanmedian(np.where(np.isfinite(y[a:b]), y[a:b], np.nan))
            if b > a and np.isfinite(y[a:b]).any()
            else np.nan
            for a, b in pairwise(idx)
        ]
    )
    finite = np.isfinite(vals)
    if not finite.any():
        return "×" * vals.size
    v = np.log(vals) if bool(np.all(vals[finite] > 0)) else vals
    lo, hi = np.nanmin(v[finite]), np.nanmax(v[finite])
    scaled = np.zeros(v.size, dtype=int) if hi <= lo else ((v - lo) / (hi - lo) * (len(SPARK) - 1))
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
    finals = []
    if s.get("final_train") is not None:
        finals.append(f"train {fmt_loss(s['final_train'])}")
    if s.get("final_val") is not None:
        finals.append(f"val {fmt_loss(s['final_val'])}")
    if finals:
        t.add_row("final", " · ".join(finals))
    for x in (h.train, h.val):
        if x is not None and x.y.size:
            t.add_row(x.role, Text(sparkline(x.y, spark_width), style="blue" if x.role == "train" else "red"))
    if plot:
        t.add_row("plot", Text(plot))
    for note in h.notes:
        t.add_row("note", Text(note, style="dim"))
    return t


def _findings(d: Diagnosis) -> RenderableType:
    if not d.findings:
        return Text("✓ no problems found", style="green")
    t = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    t.add_column("severity", no_wrap=True)
    t.add_column("rule", no_wrap=True)
    t.add_column("where", no_wrap=True)
    t.add_column("finding / advice", ratio=1)
    for f in by_severity(d.findings):
        body = Text(f.message)
        body.append("\n→ " + f.advice, style="dim")
        t.add_row(Text(f.severity, style=SEVERITY_STYLE[f.severity]), Text(f.rule), Text(where_text(f)), body)
    return t


def _next_run(d: Diagnosis) -> RenderableType | None:
    blocks = next_run_blocks(d)
    if not blocks:
        return None
    t = Table.grid(padding=(0, 1))
    t.add_column(no_wrap=True)
    t.add_column()
    for line, more in blocks:
        t.add_row("•", Text(line))
        for m in more:
            t.add_row("", Padding(Text(m, style="dim"), (0, 0, 0, 2)))
    return Group(Text("Next run", style="bold"), t)


def verdict(d: Diagnosis) -> Text:
    text = verdict_text(d)
    worst = by_severity(d.findings)[0] if d.findings else None
    return Text(text, style="green" if worst is None else SEVERITY_STYLE[worst.severity])


def summary_table(report: Report) -> Table:
    t = Table(title="lossdoc", show_header=True, header_style="bold", expand=False)
    t.add_column("run", overflow="fold")
    t.add_column("verdict", no_wrap=True)
    t.add_column("worst finding", ratio=1, overflow="fold")
    t.add_column("findings", justify="right", no_wrap=True)
    for d in report.diagnoses:
        worst = by_severity(d.findings)[0] if d.findings else None
        first = headline(worst.message) if worst else ""
        t.add_row(Text(d.history.name), verdict(d), Text(first), str(len(d.findings)))
    for e in report.errors:
        t.add_row(Text(e.source), Text("input error", style="bold red"), Text(e.message), "")
    return t


def footer(report: Report) -> Text:
    runs = len(report.diagnoses)
    sick = sum(1 for d in report.diagnoses if any(report.fails(f) for f in d.findings))
    text = Text(f"{runs} run{'s' if runs != 1 else ''} analysed", style="dim")
    if report.errors:
        text.append(f", {len(report.errors)} input error{'s' if len(report.errors) != 1 else ''}", style="dim")
    text.append(f"; {sick} fail{'s' if sick == 1 else ''} the --fail-on policy", style="dim")
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
        console.print(summary_table(report))
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
        rest = len(report.diagnoses) - len(shown)
        if rest:
            console.print(
                Text(
                    f"{rest} run{'s' if rest != 1 else ''} without a warning or error "
                    f"{'are' if rest != 1 else 'is'} in the table only; --details all prints every run in full.",
                    style="dim",
                )
            )
    console.print(footer(report))
