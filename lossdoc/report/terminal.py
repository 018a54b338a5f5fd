"""The terminal report (rich): per run a header, the findings by severity, and advice under each."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.types import Diagnosis
from lossdoc.report import Report

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SPARK = "▁▂▃▄▅▆▇█"


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


def _header(d: Diagnosis, plot: str | None) -> Table:
    h, s = d.history, d.summary
    t = Table.grid(padding=(0, 2))
    t.add_column(style="dim")
    t.add_column()
    t.add_row("source", f"{h.source}  [dim]({h.format})[/]")
    t.add_row("series", ", ".join(f"{x.role}: {x.name}" for x in h.series))
    t.add_row("points", f"{s['points']:,} over {h.x_name} {fmt_x(s['x_min'])} – {fmt_x(s['x_max'])}")
    losses = []
    if s.get("final_train") is not None:
        losses.append(f"final train {fmt_loss(s['final_train'])}")
    if s.get("best_val") is not None:
        losses.append(f"best val {fmt_loss(s['best_val'])} at {h.x_name} {fmt_x(s['best_val_x'])}")
        losses.append(f"final val {fmt_loss(s['final_val'])}")
    if losses:
        t.add_row("loss", " · ".join(losses))
    for x in (h.train, h.val):
        if x is not None and x.y.size:
            t.add_row(f"{x.role}", Text(sparkline(x.y), style="green" if x.role == "train" else "magenta"))
    if plot:
        t.add_row("plot", plot)
    for note in h.notes:
        t.add_row("note", Text(note, style="dim"))
    return t


def _findings(d: Diagnosis) -> Table | Text:
    if not d.findings:
        return Text("✓ no problems found", style="green")
    t = Table(show_header=True, header_style="bold", expand=True, box=None, padding=(0, 1))
    t.add_column("severity", no_wrap=True)
    t.add_column("rule", no_wrap=True)
    t.add_column("where", no_wrap=True)
    t.add_column("finding / advice", ratio=1)
    for f in d.findings:
        where = fmt_x(f.start) if f.start is not None else ""
        if f.end is not None and f.start is not None and f.end != f.start:
            where += f"–{fmt_x(f.end)}"
        body = Text(f.message)
        body.append("\n→ " + f.advice, style="dim")
        t.add_row(Text(f.severity, style=SEVERITY_STYLE[f.severity]), f.rule, where, body)
    return t


def verdict(d: Diagnosis) -> Text:
    if not d.findings:
        return Text("healthy", style="green")
    w = d.findings[0]
    return Text(f"{w.severity}: {w.rule}", style=SEVERITY_STYLE[w.severity])


def print_report(report: Report, console: Console, *, quiet: bool = False) -> None:
    if len(report.diagnoses) > 1:
        t = Table(title="lossdoc", show_header=True, header_style="bold")
        t.add_column("run")
        t.add_column("verdict")
        t.add_column("findings", justify="right")
        for d in report.diagnoses:
            t.add_row(d.history.name, verdict(d), str(len(d.findings)))
        console.print(t)
    if not quiet:
        for i, d in enumerate(report.diagnoses):
            title = Text.assemble(("", ""), (d.history.name, "bold"), "  ", verdict(d))
            console.print(
                Panel(Group(_header(d, report.plots.get(i)), Text(""), _findings(d)), title=title, title_align="left")
            )
