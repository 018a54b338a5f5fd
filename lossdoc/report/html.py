"""``--format html``: one self-contained HTML file, plots embedded, no external resources.

The same content as the markdown report (summary table, then per run its numbers, plot, findings
with advice, "Next run" advice). Each figure is embedded as a data URI: the file ``--plot`` wrote
when it is a PNG or SVG, otherwise a PNG drawn in memory, so the page works when mailed or
archived as a CI artifact on its own.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from lossdoc.analysis.types import Diagnosis
from lossdoc.errors import first_line
from lossdoc.report import (
    Report,
    by_severity,
    confidence_text,
    next_run_blocks,
    printable,
    too_short_text,
    verdict_text,
    where_text,
    worst_finding,
    worst_headline,
)
from lossdoc.report import facts as run_facts
from lossdoc.words import count, fail_count

CSS = """
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;max-width:1100px;
margin:2em auto;padding:0 1em}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #d0d7de;
padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0;width:100%}th,td{border:1px solid #d0d7de;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}
code{background:#f6f8fa;padding:0 3px;border-radius:3px}
.error{color:#b2182b;font-weight:600}.warning{color:#9a6700;font-weight:600}.info{color:#0969da}
.healthy{color:#1a7f37;font-weight:600}.facts{color:#57606a}.fails{font-size:.85em}
img{max-width:100%;height:auto;border:1px solid #eaeef2}
.advice{color:#57606a}
pre{background:#fff;padding:.4em;overflow-x:auto}
.next{background:#f6f8fa;border-left:4px solid #0969da;padding:.4em 1em}
"""


def _cls(d: Diagnosis) -> str:
    worst = worst_finding(d.findings)
    return "healthy" if worst is None else worst.severity


def _image(report: Report, idx: list[int]) -> str:
    from lossdoc.plot import figure_name, render_bytes

    diags = [report.diagnoses[i] for i in idx]
    written = report.plots.get(idx[0])
    data, mime = None, "image/png"
    if written and Path(written).suffix.lower() in (".png", ".svg") and Path(written).is_file():
        data = Path(written).read_bytes()
        mime = "image/svg+xml" if written.lower().endswith(".svg") else "image/png"
    if data is None:
        try:
            data = render_bytes(diags, report.options.smoothing)
        except Exception as exc:  # matplotlib gives up on some extreme values: the page still renders
            first = first_line(exc)
            return f'<p class="facts">(no plot: {escape(first)})</p>'

    alt = escape(f"loss curves of {figure_name(diags)}")
    return f'<img alt="{alt}" src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}">'


def _label(key: str, phrase: str) -> str:
    # "1,200 points over step 0–1,199" reads better here than "points 1,200 over ..."
    return phrase.replace(" over ", " points over ", 1) if key == "points" else f"{key} {phrase}"


def _run(report: Report, i: int, d: Diagnosis, image: str | None) -> list[str]:
    h = d.history
    facts = run_facts(d, _label, lambda name: f"<code>{escape(name)}</code>", escape)
    out = [
        f'<section id="run-{i + 1}">',
        f'<h2>{escape(h.name)} — <span class="{_cls(d)}">{escape(verdict_text(d))}</span></h2>',
        f'<p class="facts">{" · ".join(facts)}</p>',
    ]
    if image:
        out.append(f"<figure>{image}</figure>")
    if d.findings:
        out.append("<table><tr><th>severity</th><th>rule</th><th>where</th><th>finding and what to do</th></tr>")
        for f in by_severity(d.findings):
            fails = ' <span class="fails">(fails --fail-on)</span>' if report.fails(f) else ""
            out.append(
                f'<tr><td class="{f.severity}">{f.severity}{fails}</td><td><code>{escape(f.rule)}</code></td>'
                f"<td>{escape(where_text(f))}</td><td>{escape(f.message + confidence_text(f))}"
                f'<br><span class="advice">→ {escape(f.advice)}</span></td></tr>'
            )
        out.append("</table>")
    elif d.verdict == "too-short":
        out.append(f"<p>{escape(too_short_text(d).capitalize())}.</p>")
    else:
        out.append('<p class="healthy">No problems found.</p>')
    blocks = next_run_blocks(d)
    if blocks:
        items = "".join(
            f"<li>{escape(line)}" + (f"<pre>{escape(chr(10).join(more))}</pre>" if more else "") + "</li>"
            for line, more in blocks
        )
        out.append(f'<div class="next"><strong>Next run</strong><ul>{items}</ul></div>')
    for note in h.notes:
        out.append(f'<p class="facts">note: {escape(note)}</p>')
    out.append("</section>")
    return out


def render(report: Report) -> str:
    from lossdoc.plot import groups

    report = printable(report)

    first_of: dict[int, list[int]] = {idx[0]: idx for idx in groups(report.diagnoses)}
    runs = len(report.diagnoses)
    failing = sum(1 for d in report.diagnoses if any(report.fails(f) for f in d.findings))
    head = (
        f"{count(runs, 'run')} analysed · {fail_count(failing)} the --fail-on policy"
        + (f" · {count(len(report.errors), 'input error')}" if report.errors else "")
        + f" · exit code {report.exit_code}"
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="lossdoc">',
        f"<title>lossdoc report</title><style>{CSS.strip()}</style></head>",
        "<body>",
        "<h1>lossdoc report</h1>",
        f'<p class="facts">{escape(head)}</p>',
        "<table><tr><th>run</th><th>verdict</th><th>worst finding</th><th>findings</th></tr>",
    ]
    for i, d in enumerate(report.diagnoses):
        first = worst_headline(d)
        out.append(
            f'<tr><td><a href="#run-{i + 1}">{escape(d.history.name)}</a></td>'
            f'<td class="{_cls(d)}">{escape(verdict_text(d))}</td><td>{escape(first)}</td>'
            f"<td>{len(d.findings):,}</td></tr>"
        )
    for e in report.errors:
        out.append(
            f'<tr><td><code>{escape(e.source)}</code></td><td class="error">input error</td>'
            f"<td>{escape(e.message)}</td><td></td></tr>"
        )
    out.append("</table>")
    for i, d in enumerate(report.diagnoses):
        image = _image(report, first_of[i]) if i in first_of else None
        out += _run(report, i, d, image)
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"
