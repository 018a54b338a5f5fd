"""``--format github``: GitHub Actions workflow-command annotations.

One ``::error``/``::warning``/``::notice`` line per finding, on the log file it came from. Findings
that meet ``--fail-on`` (the ones that fail the job) are errors; the others keep their severity
(info becomes a notice). GitHub shows at most 10 annotations of each level per step and silently
drops the rest, so the most important come first, each level stops at 10, and one closing notice
says how many were left out and points to the job summary (which the CLI fills from the markdown
report when ``$GITHUB_STEP_SUMMARY`` is set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.types import Finding, severity_rank
from lossdoc.history import LossHistory
from lossdoc.report import Report, failing_runs, printable
from lossdoc.words import count, fail_count

if TYPE_CHECKING:
    from lossdoc.advice.model import Advice

MAX_PER_LEVEL = 10
LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, **props: str | None) -> str:
    given = ",".join(f"{k}={escape_property(v)}" for k, v in props.items() if v)
    return f"::{level} {given}::{escape_data(message)}" if given else f"::{level}::{escape_data(message)}"


def _file(source: str) -> str | None:
    return None if source.startswith("<") else source


def render(report: Report) -> str:
    report = printable(report)
    items: list[tuple[tuple[int, int, int], str, str]] = []
    for e in report.errors:
        line = command("error", e.message, file=_file(e.source), title="lossdoc: input error")
        items.append(((0, -3, len(items)), "error", line))
    for d in report.diagnoses:
        for f in d.findings:
            failing = report.fails(f)
            level = "error" if failing else LEVEL[f.severity]
            rank = (0 if failing else 1, -severity_rank(f.severity), len(items))
            items.append((rank, level, _annotation(d.history, f, level, d.advice)))
    items.sort(key=lambda t: t[0])

    by_level: dict[str, list[str]] = {"error": [], "warning": [], "notice": []}
    for _, level, line in items:
        by_level[level].append(line)
    caps = dict.fromkeys(by_level, MAX_PER_LEVEL)
    overflow = sum(max(0, len(v) - MAX_PER_LEVEL) for v in by_level.values())
    if overflow:
        caps["notice"] = MAX_PER_LEVEL - 1  # keep a slot for the notice that says what was left out
        overflow = sum(max(0, len(v) - caps[k]) for k, v in by_level.items())

    shown: dict[str, int] = dict.fromkeys(by_level, 0)
    out: list[str] = []
    for _, level, line in items:
        if shown[level] < caps[level]:
            shown[level] += 1
            out.append(line)
    where = (
        "see the job summary for the full report"
        if report.options.step_summary
        else "run with --format markdown for the full report"
    )
    if overflow:
        out.append(
            command(
                "notice",
                f"{count(overflow, 'more finding')} not shown as annotations "
                f"(GitHub shows {MAX_PER_LEVEL} per level); {where}",
                title="lossdoc: more findings",
            )
        )
    runs = len(report.diagnoses)
    failing = failing_runs(report)
    out.append(
        f"lossdoc: {count(runs, 'run')} analysed, {fail_count(failing)} the --fail-on policy, "
        f"{count(len(report.errors), 'input error')}; exit code {report.exit_code}; "
        f"{where}"
    )
    return "\n".join(out) + "\n"


def _annotation(h: LossHistory, f: Finding, level: str, advice: Advice | None = None) -> str:
    from lossdoc.advice.render import finding_lines

    where = f" at {h.x_name} {fmt_x(f.start)}" if f.start is not None else ""
    title = f"lossdoc {f.rule} ({f.severity}) in {h.name}{where}"
    extra = "".join(f"\n{line}" for line in finding_lines(advice, f.rule, f.series))  # its cause, the way back
    return command(level, f"{f.message}\n→ {f.advice}{extra}", file=_file(h.source), title=title)
