"""Reports: formatters read Diagnosis records and write text; they never compute a diagnosis.

Each format is one module with ``render(report: Report) -> str`` (the terminal one prints to a rich
Console instead), listed in :data:`lossdoc.outputs.FORMATTERS`, which is what ``--format`` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lossdoc.analysis.types import Diagnosis, Finding, severity_rank
from lossdoc.errors import InputError, one_line

if TYPE_CHECKING:
    from lossdoc.policy import FailPolicy


@dataclass
class Options:
    """What the call was asked for, and how its report is being written."""

    rules: list[str] | None = None
    """The slugs that ran; None: every rule."""
    fail_on: FailPolicy | None = None
    """The --fail-on policy; None: a finding fails when it is an error."""
    smoothing: float | None = None
    """The plots' EMA weight; None: picked per curve."""
    sweep: dict[str, Any] | None = None
    """The runs grouped by hyperparameters (lossdoc.compare.sweep), when they carry any."""
    step_summary: bool = False
    """The github format also writes a job summary ($GITHUB_STEP_SUMMARY)."""
    for_step_summary: bool = False
    """This markdown goes to the job summary (it may embed the plots)."""
    printable: bool = False
    """Its texts have been through :func:`printable` already."""


@dataclass
class Report:
    diagnoses: list[Diagnosis]
    errors: list[InputError]
    exit_code: int
    plots: dict[int, str] = field(default_factory=dict)  # diagnosis index -> written plot path
    options: Options = field(default_factory=Options)

    @property
    def rules(self) -> list[str]:
        from lossdoc.analysis import RULES

        return list(self.options.rules) if self.options.rules is not None else list(RULES)

    def fails(self, finding: Finding) -> bool:
        """Whether this finding meets the --fail-on policy (so it is what made the exit code 1)."""
        policy = self.options.fail_on
        if policy is None:
            return finding.severity == "error"
        return bool(policy.fails(finding))


def printable(report: Report) -> Report:
    """The report with every text a log or the command line supplied (file, run, column and x names,
    notes, messages, input errors, plot paths) passed through :func:`lossdoc.errors.one_line`:
    control characters and escape sequences escaped, undecodable bytes and lone surrogates written
    as ``\\xff`` / ``\\ud800``. Every format but JSON (whose strings are escaped ASCII and kept
    exactly as in the input) renders this; each then escapes its own syntax."""
    from dataclasses import replace

    if report.options.printable:
        return report

    def sentence(text: str) -> str:  # a message is one line: a line break in it is a space
        return one_line(text.replace("\r\n", " ").replace("\n", " "))

    def finding(f: Finding) -> Finding:
        return replace(f, message=sentence(f.message), advice=sentence(f.advice))

    diagnoses = []
    for d in report.diagnoses:
        h = d.history
        history = replace(
            h,
            source=one_line(h.source),
            name=one_line(h.name),
            x_name=one_line(h.x_name),
            series=[replace(x, name=one_line(x.name)) for x in h.series],
            notes=[one_line(n) for n in h.notes],
        )
        diagnoses.append(replace(d, history=history, findings=[finding(f) for f in d.findings]))
    return replace(
        report,
        diagnoses=diagnoses,
        errors=[InputError(one_line(e.source), one_line(e.message)) for e in report.errors],
        plots={i: one_line(p) for i, p in report.plots.items()},
        options=replace(report.options, printable=True),
    )


def facts(
    d: Diagnosis, label: Callable[[str, str], str], code: Callable[[str], str], text: Callable[[str], str] = str
) -> list[str]:
    """A run's facts (source, series, points, best validation point, final losses) as short phrases;
    ``label(key, phrase)`` marks each up, ``code`` a file or column name, ``text`` any other name."""
    from lossdoc.analysis.context import fmt_loss, fmt_x

    h, s = d.history, d.summary
    out = [
        label("source", f"{code(h.source)} ({text(h.format)})"),
        label("series", ", ".join(f"{text(x.role)} {code(x.name)}" for x in h.series)),
        label("points", f"{s['points']:,} over {text(h.x_name)} {fmt_x(s['x_min'])}–{fmt_x(s['x_max'])}"),
    ]
    if s.get("best_val") is not None:
        out.append(label("best val", f"{fmt_loss(s['best_val'])} at {text(h.x_name)} {fmt_x(s['best_val_x'])}"))
    finals = final_phrases(s)
    if finals:
        out.append(label("final", ", ".join(finals)))
    return out


def final_phrases(summary: dict[str, Any]) -> list[str]:
    """``train 0.12`` and ``val 0.58``, the runs' final losses; ``val non-finite (last finite 3.217)`` when
    the last value logged was NaN/Inf (``final_val`` is then the last finite one)."""
    from lossdoc.analysis.context import fmt_loss  # start-up time: the analysis only when a report is rendered

    out = []
    ended = summary.get("final_non_finite") or ()
    for role, key in (("train", "final_train"), ("val", "final_val")):
        value = summary.get(key)
        if role in ended:
            out.append(f"{role} non-finite" + (f" (last finite {fmt_loss(value)})" if value is not None else ""))
        elif value is not None:
            out.append(f"{role} {fmt_loss(value)}")
    return out


def by_severity(findings: list[Finding]) -> list[Finding]:
    """Most severe first (error > warning > info), then in the order they happened."""
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), f.start if f.start is not None else 0.0))


def failing_runs(report: Report) -> int:
    """How many runs have a finding the ``--fail-on`` policy fails."""
    return sum(1 for d in report.diagnoses if any(report.fails(f) for f in d.findings))


def worst_finding(findings: list[Finding]) -> Finding | None:
    """The most severe finding (the one a run's verdict names), or None when there is none."""
    return by_severity(findings)[0] if findings else None


def worst_headline(d: Diagnosis) -> str:
    """The summary tables' "worst finding": its message's first clause, or nothing for a run with none."""
    worst = worst_finding(d.findings)
    return headline(worst.message) if worst else ""


def verdict_text(d: Diagnosis) -> str:
    """One word or two for a run: 'healthy', 'too short to judge: 3 points', or the worst finding's
    severity and rule."""
    worst = worst_finding(d.findings)
    if worst is not None:
        return f"{worst.severity}: {worst.rule}"
    return too_short_text(d) if d.verdict == "too-short" else "healthy"


def too_short_text(d: Diagnosis) -> str:
    """``too short to judge: 3 points``."""
    n = max((len(s) for s in (d.history.train, d.history.val) if s is not None), default=0)
    return f"too short to judge: {n:,} point{'s' if n != 1 else ''}"


def confidence_text(f: Finding) -> str:
    """`` (medium confidence)``; nothing for a high-confidence finding."""
    return "" if f.confidence == "high" else f" ({f.confidence} confidence)"


def headline(message: str, limit: int = 80) -> str:
    """A finding's message cut to its first clause, for one-line summaries."""
    for sep in (": ", "; "):
        message = message.split(sep, 1)[0]
    return message if len(message) <= limit else message[: limit - 1].rstrip() + "…"


def where_text(f: Finding) -> str:
    """``12–40`` / ``12``: where a finding happened, in the run's x units."""
    from lossdoc.analysis.context import fmt_x

    if f.start is None:
        return ""
    text = fmt_x(f.start)
    if f.end is not None and f.end != f.start:
        text += f"–{fmt_x(f.end)}"
    return text


def next_run_lines(d: Diagnosis) -> list[str]:
    """The run-level advice as lines ("Next run"), or none when no advice was attached."""
    if d.advice is None:
        return []
    from lossdoc.advice.render import next_run_lines as render_lines

    return [str(line) for line in render_lines(d.advice)]


def next_run_blocks(d: Diagnosis) -> list[tuple[str, list[str]]]:
    """The "Next run" lines as (line, its continuation lines): a continuation starts with two spaces
    (a replayed callback, a line of a copy-paste snippet) and belongs to the line above it."""
    blocks: list[tuple[str, list[str]]] = []
    for line in map(one_line, next_run_lines(d)):
        if line.startswith("  ") and blocks:
            blocks[-1][1].append(line[2:])
        else:
            blocks.append((line.strip(), []))
    return blocks
