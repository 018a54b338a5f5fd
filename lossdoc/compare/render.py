"""Every ``--format`` of ``lossdoc compare``. Formatters read a :class:`CompareReport`; they compute
nothing but words.

* table: verdict first, then one side-by-side table per candidate (baseline | candidate | change);
* markdown: ready for a pull-request comment (``gh pr comment --body-file``), verdict first, one
  delta table for all candidates, then what differs per candidate;
* json: its own ``schema`` (``lossdoc.compare``) and ``schema_version``;
* github: one annotation per gate violation (error) and per new finding below the gate (warning);
* junit: a suite per candidate, a test case for the metric gate and one for new findings;
* html: the markdown's content as a standalone page.
"""

from __future__ import annotations

import html as _html
from typing import Any

from lossdoc import __version__
from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.compare.gate import METRIC_WORDS
from lossdoc.compare.metrics import METRICS, Delta, RunComparison, departure_text
from lossdoc.compare.report import CompareReport
from lossdoc.errors import one_line

SCHEMA = "lossdoc.compare"
SCHEMA_VERSION = 1
SAME_PACE = 0.02
"""Speed-ups within ±2% are called the same pace (one logging interval in fifty)."""
ROLE_WORDS = {"train": "training", "val": "validation"}


def _loss(v: float | None) -> str:
    return "—" if v is None else fmt_loss(v)


def _pct(d: Delta) -> str:
    return "—" if d.relative is None else f"{d.relative * 100:+.1f}%"


def _abs(d: Delta) -> str:
    return "—" if d.absolute is None else ("+" if d.absolute >= 0 else "") + fmt_loss(d.absolute)


def verdict_line(r: CompareReport) -> str:
    n = len(r.comparisons)
    if r.exit_code == 2:
        return f"ERROR: {len(r.errors)} input problem{'s' if len(r.errors) != 1 else ''}"
    if r.failed:
        return f"FAIL: {len(r.failed)} of {n} candidate{'s' if n != 1 else ''} worse than the baseline"
    return f"PASS: {n} candidate{'s' if n != 1 else ''} within the gate"


def gate_text(r: CompareReport) -> str:
    g = r.gate
    limit = "off" if g.max_regression is None else f"+{g.max_regression * 100:g}%"
    return f"gate: {METRIC_WORDS[g.metric]} at most {limit} over the baseline; new findings fail at {g.fail_on_new}"


def reach_text(c: RunComparison) -> str | None:
    r = c.reach
    if r is None:
        return None
    what = f"{ROLE_WORDS[r.role]} loss {fmt_loss(r.target)}" + (
        "" if r.explicit else " (the baseline's best, within its noise)"
    )
    x_name = c.baseline.history.x_name
    if r.candidate_x is None:
        return f"never reaches {what}; the baseline does at {x_name} {_x(r.baseline_x)}"
    if r.baseline_x is None:
        return f"reaches {what} at {x_name} {fmt_x(r.candidate_x)}; the baseline never does"
    s = r.speedup
    if s is None:
        pace = ""
    elif abs(s - 1) < SAME_PACE:
        pace = ": the same pace"
    else:
        pace = f": {s:.2f}× faster" if s > 1 else f": {1 / s:.2f}× slower"
    return f"reaches {what} at {x_name} {fmt_x(r.candidate_x)}, the baseline at {fmt_x(r.baseline_x)}{pace}"


def _x(v: float | None) -> str:
    return "—" if v is None else fmt_x(v)


def details(c: RunComparison) -> list[str]:
    """What differs, one line each: time to target, departures, findings in one run only, notes."""
    out: list[str] = []
    reach = reach_text(c)
    if reach:
        out.append(reach)
    x_name = c.baseline.history.x_name
    for role in ("val", "train"):
        if role in c.departures:
            out.append(f"{ROLE_WORDS[role]} curve {departure_text(x_name, c.departures[role])}")
    out += [ch.text for ch in c.new] + [ch.text for ch in c.gone]
    out += c.notes
    return [one_line(s) for s in out]


def _name(c: RunComparison) -> str:
    return one_line(c.candidate.history.name)


# --- table -----------------------------------------------------------------------------------------


def print_table(r: CompareReport, console: Any) -> None:
    # start-up time: rich only when a table is printed
    from rich.table import Table
    from rich.text import Text

    style = {"pass": "bold green", "fail": "bold red", "error": "bold red"}[r.verdict]
    console.print(Text(verdict_line(r), style=style))
    if r.baseline is not None:
        console.print(f"baseline: {one_line(r.baseline.history.name)} ({one_line(r.baseline.history.source)})")
    console.print(gate_text(r))
    for c in r.comparisons:
        t = Table(title=f"{_name(c)} ({one_line(c.candidate.history.source)})", title_justify="left")
        for col in ("", "baseline", "candidate", "change", "%"):
            t.add_column(col, justify="left" if not col else "right")
        for key in METRICS:
            d = c.deltas[key]
            if d.baseline is None and d.candidate is None:
                continue
            pct = Text(_pct(d), style="red" if (d.relative or 0) > 0 else "green" if (d.relative or 0) < 0 else "")
            t.add_row(METRIC_WORDS[key], _loss(d.baseline), _loss(d.candidate), _abs(d), pct)
        console.print(t)
        for line in details(c):
            console.print(f"  {line}", markup=False, highlight=False)
        for v in c.violations:
            console.print(Text(f"  ✗ {one_line(v)}", style="red"))
        if c.passed:
            console.print(Text("  ✓ passes the gate", style="green"))


# --- markdown --------------------------------------------------------------------------------------


def _md(text: str) -> str:
    return one_line(text).replace("|", "\\|").replace("<", "&lt;")


def markdown(r: CompareReport) -> str:
    mark = {"pass": "✅", "fail": "❌", "error": "⚠️"}[r.verdict]
    lines = [f"## {mark} lossdoc compare: {verdict_line(r)}", ""]
    if r.baseline is not None:
        lines += [f"Baseline: `{_md(r.baseline.history.name)}` — {_md(gate_text(r))}", ""]
    if r.comparisons:
        head = "| run | verdict | " + " | ".join(f"{METRIC_WORDS[k]} | Δ" for k in METRICS) + " |"
        lines += [head, "|" + "---|" * (2 + 2 * len(METRICS))]
        if r.baseline is not None:
            base = r.comparisons[0].deltas
            lines.append(
                f"| `{_md(r.baseline.history.name)}` (baseline) | | "
                + " | ".join(f"{_loss(base[k].baseline)} | " for k in METRICS)
                + " |"
            )
        for c in r.comparisons:
            cells = " | ".join(f"{_loss(c.deltas[k].candidate)} | {_pct(c.deltas[k])}" for k in METRICS)
            lines.append(f"| `{_md(_name(c))}` | {'✅ pass' if c.passed else '❌ fail'} | {cells} |")
        lines.append("")
    for c in r.comparisons:
        lines.append(f"**{_md(_name(c))}**")
        lines += [f"- ❌ {_md(v)}" for v in c.violations]
        lines += [f"- {_md(s)}" for s in details(c)]
        lines.append("")
    if r.plot:
        lines += [f"![loss curves: baseline grey, candidates in colour]({_md(r.plot).replace(' ', '%20')})", ""]
    for e in r.errors:
        lines.append(f"- ⚠️ `{_md(e.source)}`: {_md(e.message)}")
    return "\n".join(lines).rstrip() + "\n"


# --- json ------------------------------------------------------------------------------------------


def _run(d: Any) -> dict[str, Any]:
    h = d.history
    return {"source": h.source, "name": h.name, "format": h.format, "x": h.x_name, "verdict": d.verdict}


def document(r: CompareReport) -> dict[str, Any]:
    comps = []
    for c in r.comparisons:
        reach = c.reach
        comps.append(
            {
                "candidate": _run(c.candidate),
                "passed": c.passed,
                "violations": c.violations,
                "metrics": {
                    k: {
                        "baseline": d.baseline,
                        "candidate": d.candidate,
                        "delta": d.absolute,
                        "delta_pct": None if d.relative is None else d.relative * 100,
                    }
                    for k, d in c.deltas.items()
                },
                "reach": None
                if reach is None
                else {
                    "series": reach.role,
                    "target": reach.target,
                    "target_from": "option" if reach.explicit else "baseline_best",
                    "baseline_x": reach.baseline_x,
                    "candidate_x": reach.candidate_x,
                    "speedup": reach.speedup,
                },
                "departure": {
                    role: None
                    if dep is None
                    else {"x": dep.x, "direction": dep.direction, "ratio": dep.ratio, "difference": dep.difference}
                    for role, dep in c.departures.items()
                },
                "new_findings": [ch.finding.as_dict() | {"role": ch.role} for ch in c.new],
                "gone_findings": [ch.finding.as_dict() | {"role": ch.role} for ch in c.gone],
                "notes": c.notes,
            }
        )
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "lossdoc", "version": __version__},
        "verdict": r.verdict,
        "gate": {
            "metric": r.gate.metric,
            "max_regression_pct": None if r.gate.max_regression is None else r.gate.max_regression * 100,
            "fail_on_new": r.gate.fail_on_new,
        },
        "baseline": None if r.baseline is None else _run(r.baseline) | {"summary": _plain(r.baseline.summary)},
        "comparisons": comps,
        "plot": r.plot,
        "errors": [{"source": e.source, "message": e.message} for e in r.errors],
        "exit_code": r.exit_code,
    }


def _plain(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if isinstance(v, (int, float, str, bool)) or v is None}


def json_text(r: CompareReport) -> str:
    from lossdoc.report.json import dumps

    return dumps(document(r)) + "\n"


# --- github ----------------------------------------------------------------------------------------


def github(r: CompareReport) -> str:
    from lossdoc.report.github import command

    out: list[str] = []
    for e in r.errors:
        out.append(command("error", e.message, file=e.source, title="lossdoc compare: input error"))
    for c in r.comparisons:
        src = c.candidate.history.source
        for v in c.violations:
            out.append(command("error", f"{_name(c)}: {v}", file=src, title="lossdoc compare: regression"))
        gated = {ch.text for ch in c.new if any(ch.text in v for v in c.violations)}
        for ch in c.new:
            if ch.text not in gated:
                level = {"error": "error", "warning": "warning"}.get(ch.finding.severity, "notice")
                out.append(command(level, f"{_name(c)}: new finding, {ch.text}", file=src, title="lossdoc compare"))
        if c.passed:
            out.append(
                command(
                    "notice",
                    f"{_name(c)}: passes the gate; " + "; ".join(details(c)[:2]),
                    file=src,
                    title="lossdoc compare",
                )
            )
    return "\n".join(out) + ("\n" if out else "")


# --- junit -----------------------------------------------------------------------------------------


def junit(r: CompareReport) -> str:
    import xml.etree.ElementTree as ET

    from lossdoc.report.junit import clean

    root = ET.Element("testsuites", name="lossdoc compare")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for c in r.comparisons:
        suite = ET.SubElement(root, "testsuite", name=clean(f"lossdoc compare: {c.candidate.history.name}"))
        cls = "lossdoc.compare." + "".join(ch if ch.isalnum() else "_" for ch in c.candidate.history.name)
        metric_fail = [v for v in c.violations if not v.startswith("new finding")]
        new_fail = [v for v in c.violations if v.startswith("new finding")]
        for name, fails in ((f"regression:{r.gate.metric}", metric_fail), ("new-findings", new_fail)):
            case = ET.SubElement(suite, "testcase", classname=clean(cls), name=name, time="0")
            if fails:
                f = ET.SubElement(case, "failure", message=clean(fails[0]))
                f.text = clean("\n".join(fails + details(c)))
            else:
                ET.SubElement(case, "system-out").text = clean("\n".join(details(c)))
        suite.set("tests", "2")
        suite.set("failures", str(int(bool(metric_fail)) + int(bool(new_fail))))
        suite.set("errors", "0")
        totals["tests"] += 2
        totals["failures"] += int(bool(metric_fail)) + int(bool(new_fail))
    for e in r.errors:
        suite = ET.SubElement(root, "testsuite", name=clean(f"lossdoc compare: {e.source}"), tests="1", errors="1")
        case = ET.SubElement(suite, "testcase", classname="lossdoc.compare.input", name="read", time="0")
        ET.SubElement(case, "error", message=clean(e.message))
        totals["tests"] += 1
        totals["errors"] += 1
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# --- html ------------------------------------------------------------------------------------------


def html(r: CompareReport) -> str:
    e = _html.escape
    rows = []
    for c in r.comparisons:
        cells = "".join(f"<td>{e(_loss(c.deltas[k].candidate))}</td><td>{e(_pct(c.deltas[k]))}</td>" for k in METRICS)
        items = "".join(f"<li>{e(s)}</li>" for s in c.violations + details(c))
        rows.append(
            f"<tr><td>{e(_name(c))}</td><td>{'pass' if c.passed else 'FAIL'}</td>{cells}</tr>"
            f"<tr><td colspan='{2 + 2 * len(METRICS)}'><ul>{items}</ul></td></tr>"
        )
    head = "".join(f"<th>{e(METRIC_WORDS[k])}</th><th>Δ</th>" for k in METRICS)
    errors = "".join(f"<li>{e(one_line(x.source))}: {e(one_line(x.message))}</li>" for x in r.errors)
    base = "" if r.baseline is None else f"<p>Baseline: {e(one_line(r.baseline.history.name))} — {e(gate_text(r))}</p>"
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>lossdoc compare</title></head><body>"
        f"<h2>{e(verdict_line(r))}</h2>{base}<table border='1'><tr><th>run</th><th>verdict</th>{head}</tr>"
        f"{''.join(rows)}</table><ul>{errors}</ul></body></html>\n"
    )


RENDERERS = {"markdown": markdown, "json": json_text, "github": github, "junit": junit, "html": html}
"""Text formats by ``--format`` name; ``table`` prints to a rich console (:func:`print_table`)."""
