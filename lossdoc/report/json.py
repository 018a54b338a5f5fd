"""``--format json``: the schema_version 1 contract of DESIGN.md. Keys may be added, never removed."""

from __future__ import annotations

import json
import math
from typing import Any

from lossdoc import __version__
from lossdoc.analysis.types import Diagnosis
from lossdoc.report import Report

SCHEMA_VERSION = 1


def _clean(v: Any) -> Any:
    """JSON has no NaN/Inf: they become null (the findings say where they were)."""
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return int(v) if v.is_integer() and abs(v) < 2**53 else round(v, 8)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


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
        **({"advice": d.advice} if d.advice is not None else {}),
    }


def document(report: Report) -> dict[str, Any]:
    runs = []
    for i, d in enumerate(report.diagnoses):
        r = run_dict(d)
        if i in report.plots:
            r["plot"] = report.plots[i]
        runs.append(r)
    return _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "lossdoc", "version": __version__},
            "runs": runs,
            "errors": [{"source": e.source, "message": e.message} for e in report.errors],
            "exit_code": report.exit_code,
        }
    )


def render(report: Report) -> str:
    return json.dumps(document(report), indent=2, allow_nan=False) + "\n"
