"""``--format junit``: JUnit XML, one test case per run and rule, as GitHub, GitLab and Jenkins read it.

``testsuites > testsuite`` (one per run) ``> testcase`` (one per rule, ``classname`` =
``lossdoc.<run>``, ``name`` = the rule slug). A rule whose findings meet ``--fail-on`` is a
``<failure>``; findings below the policy leave the test passing with the finding in
``<system-out>``; rules not selected are ``<skipped>``. An input that could not be read is a
suite of one test case, ``read``, with an ``<error>``. Class names are unique (GitLab ignores a
repeated classname+name) and free of dots inside the run name (Jenkins reads dots as packages).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from lossdoc.analysis import RULES
from lossdoc.analysis.types import Finding
from lossdoc.report import Report, by_severity, printable, where_text

if TYPE_CHECKING:
    from lossdoc.advice.model import Advice

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(text: object) -> str:
    """Text XML 1.0 can carry: control characters other than tab and newline removed."""
    return _INVALID_XML.sub("", str(text))


def _class_name(name: str, used: set[str]) -> str:
    base = "lossdoc." + (re.sub(r"[.\s]+", "_", clean(name)).strip("_") or "run")
    out, k = base, 1
    while out in used:
        k += 1
        out = f"{base}_{k}"
    used.add(out)
    return out


def _finding_text(x_name: str, f: Finding, advice: Advice | None = None) -> str:
    from lossdoc.advice.render import finding_lines

    where = f" ({x_name} {where_text(f)})" if f.start is not None else ""
    extra = "".join(f"\n{line}" for line in finding_lines(advice, f.rule, f.series))  # its cause, the way back
    return clean(f"{f.severity}{where}: {f.message}\n→ {f.advice}{extra}")


def render(report: Report) -> str:
    report = printable(report)
    root = ET.Element("testsuites", name="lossdoc")
    selected = set(report.rules)
    used: set[str] = set()
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for d in report.diagnoses:
        h = d.history
        classname = _class_name(h.name, used)
        suite = ET.SubElement(root, "testsuite", name=clean(f"lossdoc: {h.name}"), file=clean(h.source))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for slug in RULES:
            case = ET.SubElement(suite, "testcase", classname=classname, name=slug, file=clean(h.source), time="0")
            counts["tests"] += 1
            if slug not in selected:
                ET.SubElement(case, "skipped", message="rule not selected (--select/--ignore)")
                counts["skipped"] += 1
                continue
            found = by_severity([f for f in d.findings if f.rule == slug])
            failing = [f for f in found if report.fails(f)]
            text = "\n\n".join(_finding_text(h.x_name, f, d.advice) for f in found)
            if failing:
                worst = failing[0]
                fail = ET.SubElement(case, "failure", message=clean(worst.message), type=worst.severity)
                fail.text = text
                counts["failures"] += 1
            elif found:
                ET.SubElement(case, "system-out").text = text
        _set_counts(suite, counts)
        for k in total:
            total[k] += counts[k]
    for e in report.errors:
        suite = ET.SubElement(root, "testsuite", name=clean(f"lossdoc: {e.source}"), file=clean(e.source))
        case = ET.SubElement(
            suite, "testcase", classname=_class_name(e.source, used), name="read", file=clean(e.source), time="0"
        )
        ET.SubElement(case, "error", message=clean(e.message), type="input error").text = clean(e.message)
        _set_counts(suite, {"tests": 1, "failures": 0, "errors": 1, "skipped": 0})
        total["tests"] += 1
        total["errors"] += 1
    _set_counts(root, total)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _set_counts(element: ET.Element, counts: dict[str, int]) -> None:
    for k, v in counts.items():
        element.set(k, str(v))
    element.set("time", "0")
