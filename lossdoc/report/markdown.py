"""``--format markdown``: GitHub-flavoured Markdown for ``$GITHUB_STEP_SUMMARY`` or a document.

A summary table of every run first, then per run its numbers, its findings with their advice, the
"Next run" advice when present, and a link to its plot when ``--plot`` wrote one (in a GitHub job
summary, where a link to the runner's disk would be a broken image, the plot's path and how to see it).
"""

from __future__ import annotations

import re

from lossdoc.analysis.types import Diagnosis
from lossdoc.errors import one_line
from lossdoc.report import (
    Report,
    by_severity,
    confidence_text,
    failing_runs,
    next_run_blocks,
    printable,
    too_short_text,
    verdict_text,
    where_text,
    worst_headline,
)
from lossdoc.report import facts as run_facts
from lossdoc.words import count, fail_count

ICON = {"error": "🔴", "warning": "🟠", "info": "🔵", "healthy": "🟢", "too-short": "⚪"}


MARKUP = str.maketrans({"\\": "\\\\", "|": "\\|", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]", "`": "\\`"})
"""What text from a log must not be read as: a table cell's end, HTML (``<img onerror>``), a link
(``](https://evil.example)``) or code."""


def cell(text: object) -> str:
    """Text safe in a table cell or a paragraph: one line (control characters escaped), no HTML,
    link, code span or cell boundary of its own."""
    return one_line(str(text).replace("\r", " ").replace("\n", " ")).translate(MARKUP)


def code(text: object, in_table: bool = False) -> str:
    """A file or column name as a code span, which nothing inside can end: the fence is longer than
    any run of backticks in it. In a table a ``|`` still ends the cell (GFM), so it is escaped."""
    s = one_line(str(text))
    if in_table:
        s = s.replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", s)), default=0)
    if not longest:
        return f"`{s}`"
    fence = "`" * max(2, longest + 1)
    return f"{fence} {s} {fence}"


def _fence(lines: list[str]) -> str:
    """A code block fence longer than any run of backticks in ``lines``."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _link(path: str) -> str:
    """A plot's path as a link destination: nothing in it can end the link."""
    from urllib.parse import quote

    return quote(path, safe="/:._-~%")


def _icon(d: Diagnosis) -> str:
    return ICON[d.verdict]


def anchor(i: int) -> str:
    return f"run-{i + 1}"


def summary(report: Report) -> list[str]:
    lines = [
        "| | run | verdict | worst finding | findings |",
        "|---|---|---|---|---:|",
    ]
    for i, d in enumerate(report.diagnoses):
        first = worst_headline(d)
        lines.append(
            f"| {_icon(d)} | [{cell(d.history.name)}](#{anchor(i)}) | {cell(verdict_text(d))} "
            f"| {cell(first)} | {len(d.findings):,} |"
        )
    for e in report.errors:
        lines.append(f"| ⛔ | {code(e.source, in_table=True)} | input error | {cell(e.message)} | |")
    return lines


def run_section(report: Report, i: int, d: Diagnosis) -> list[str]:
    h = d.history
    out = [f'<a id="{anchor(i)}"></a>', "", f"### {_icon(d)} {cell(h.name)} — {cell(verdict_text(d))}", ""]
    facts = run_facts(d, lambda key, phrase: f"**{key}** {phrase}", code, cell)
    out.append(" · ".join(facts))
    out.append("")
    if i in report.plots and report.options.for_step_summary:
        # A job summary is shown by GitHub, far from the runner's disk: a link to the file there would
        # be a broken image (and GitHub strips data: URIs). Say where the plot is instead.
        out += [
            f"**plot** {code(report.plots[i])} (written on the runner: upload it with "
            "`actions/upload-artifact` to see it)",
            "",
        ]
    elif i in report.plots:
        out += [f"![{cell(h.name)}]({_link(report.plots[i])})", ""]
    if d.findings:
        out += ["| severity | rule | where | finding | what to do |", "|---|---|---|---|---|"]
        for f in by_severity(d.findings):
            fail = " ❌" if report.fails(f) else ""
            out.append(
                f"| {ICON[f.severity]} {f.severity}{fail} | `{f.rule}` | {cell(where_text(f))} "
                f"| {cell(f.message + confidence_text(f))} | {cell(f.advice)} |"
            )
        out.append("")
    elif d.verdict == "too-short":
        out += [f"{cell(too_short_text(d).capitalize())}.", ""]
    else:
        out += ["No problems found.", ""]
    blocks = next_run_blocks(d)
    if blocks:
        out += ["**Next run**", ""]
        for line, more in blocks:
            out.append(f"- {cell(line)}")
            if more:
                fence = _fence(more)
                out += ["", f"  {fence}text", *(f"  {m}" for m in more), f"  {fence}", ""]
        out.append("")
    for note in h.notes:
        out += [f"> note: {cell(note)}", ""]
    return out


def render(report: Report) -> str:
    report = printable(report)
    runs = len(report.diagnoses)
    failing = failing_runs(report)
    lines = [
        "## lossdoc report",
        "",
        f"{count(runs, 'run')} analysed · {fail_count(failing)} the `--fail-on` policy"
        + (f" · {count(len(report.errors), 'input error')}" if report.errors else "")
        + f" · exit code {report.exit_code}",
        "",
    ]
    lines += [*summary(report), ""]
    if report.options.sweep is not None:
        from lossdoc.compare.sweep import markdown_lines

        lines += markdown_lines(report.options.sweep)
    for i, d in enumerate(report.diagnoses):
        lines += run_section(report, i, d)
    if report.errors:
        lines += ["### Input errors", ""] + [f"- {code(e.source)}: {cell(e.message)}" for e in report.errors] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"
