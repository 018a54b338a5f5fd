"""``--format json``: the ``schema_version`` 1 contract. Keys may be added, never removed or renamed."""

from __future__ import annotations

import json
import math
from dataclasses import fields, is_dataclass
from json.encoder import encode_basestring_ascii as _string
from typing import Any

from lossdoc import __version__
from lossdoc.analysis.types import Diagnosis
from lossdoc.plain import EXACT_INTS, plain
from lossdoc.report import Report

SCHEMA_VERSION = 1


def dumps(value: Any) -> str:
    """``json.dumps(plain(value), indent=2)`` (see :func:`lossdoc.plain.plain`): a non-finite float
    becomes null (the findings say where it was), an integral one an integer, any other is rounded to
    8 decimals; dataclasses are written as their fields, numpy scalars as Python values.

    The same bytes in one pass: with an indent, ``json`` falls back to a pure-Python encoder of nested
    generators, and with the cleaning pass before it that ran in the calling process after the workers
    had finished, long enough to show in the pooled 1,000-log figure (benchmarks/README.md, "JSON
    encoder"). Strings go through ``json``'s C escaper. ``tests/test_report.py`` checks the two give
    the same text on random documents.
    """
    out: list[str] = []
    append = out.append

    def encode(v: Any, pad: str) -> None:
        if isinstance(v, str):
            append(_string(v))
        elif v is None:
            append("null")
        elif v is True:
            append("true")
        elif v is False:
            append("false")
        elif isinstance(v, float):
            if not math.isfinite(v):
                append("null")
            elif v.is_integer() and abs(v) < EXACT_INTS:
                append(int.__repr__(int(v)))
            else:
                append(float.__repr__(round(v, 8)))
        elif isinstance(v, int):
            append(int.__repr__(v))
        elif isinstance(v, dict):
            if not v:
                append("{}")
                return
            inner = pad + "  "
            sep = "{\n" + inner
            for k, x in v.items():
                append(sep)
                sep = ",\n" + inner
                append(_string(k) if isinstance(k, str) else _key(k))
                append(": ")
                encode(x, inner)
            append("\n" + pad + "}")
        elif isinstance(v, (list, tuple)):
            if not v:
                append("[]")
                return
            inner = pad + "  "
            sep = "[\n" + inner
            for x in v:
                append(sep)
                sep = ",\n" + inner
                encode(x, inner)
            append("\n" + pad + "]")
        elif type(v).__module__ == "numpy" and hasattr(v, "item"):
            encode(v.item(), pad)
        elif is_dataclass(v) and not isinstance(v, type):
            encode({f.name: getattr(v, f.name) for f in fields(v)}, pad)
        else:
            raise TypeError(f"Object of type {type(v).__name__} is not JSON serializable")

    encode(value, "")
    return "".join(out)


def _key(k: Any) -> str:
    """A key that is not a string, as ``json`` writes it (``1`` -> ``"1"``, ``True`` -> ``"true"``)."""
    return json.dumps({k: None})[1:-7]


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
        # plain values without rounding (dumps rounds once); dataclasses.asdict would deep-copy every value
        **({"advice": plain(d.advice, None)} if d.advice is not None else {}),
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
