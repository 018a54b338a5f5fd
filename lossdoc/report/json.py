"""``--format json``: the ``schema_version`` 1 contract. Keys may be added, never removed or renamed."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from lossdoc import __version__
from lossdoc.analysis.types import Diagnosis
from lossdoc.plain import plain
from lossdoc.report import Report

SCHEMA_VERSION = 1


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2)`` after the one cleaning pass (:func:`lossdoc.plain.plain`): a
    non-finite float becomes null (the findings say where it was), an integral one an integer, and any
    other is rounded to 8 decimals."""
    return json.dumps(plain(value), indent=2)


def run_dict(d: Diagnosis) -> dict[str, Any]:
    h = d.history
    series = {s.role: s.name for s in h.series}
    return {
        "source": h.source,
        "format": h.format,
        "name": h.name,
        "x": h.x_name,
        "series": series,
        "summary": d.summary,
        "findings": [f.as_dict() for f in d.findings],
        "notes": list(h.notes),
        **({"params": dict(h.params)} if h.params else {}),
        **({"advice": asdict(d.advice)} if d.advice is not None else {}),
    }


def document(report: Report) -> dict[str, Any]:
    runs = []
    for i, d in enumerate(report.diagnoses):
        r = run_dict(d)
        r["verdict"] = d.verdict
        r["fails"] = any(report.fails(f) for f in d.findings)
        if i in report.plots:
            r["plot"] = report.plots[i]
        runs.append(r)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "lossdoc", "version": __version__},
        "runs": runs,
        "errors": [{"source": e.source, "message": e.message} for e in report.errors],
        "exit_code": report.exit_code,
    }
    if report.options.sweep is not None:  # additive: runs grouped by hyperparameters (lossdoc.compare.sweep)
        doc["sweep"] = report.options.sweep
    return doc


def render(report: Report) -> str:
    return dumps(document(report)) + "\n"
