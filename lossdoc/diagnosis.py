"""The Diagnosis the Python API hands out: the analysis record plus what a user does with it.

:class:`lossdoc.analysis.types.Diagnosis` is the record analysis produces and every report reads; it
knows nothing of reports. The runs :func:`lossdoc.analyze`, :meth:`lossdoc.Monitor.diagnosis` and the
training callbacks give to users are this subclass, which adds the JSON run object (``to_dict``,
``to_json``), the plot (``plot``) and a notebook's view (``_repr_html_``). It sits above
:mod:`lossdoc.report` in the layering, so analysis never imports report or the API.
"""

from __future__ import annotations

import base64
import os
from html import escape
from pathlib import Path
from typing import Any

from lossdoc.analysis import types
from lossdoc.report import where_text
from lossdoc.report.json import dumps, run_dict


class Diagnosis(types.Diagnosis):
    """A run and what was found in it, most severe first (see :class:`lossdoc.analysis.types.Diagnosis`),
    with its JSON, its plot and its notebook view."""

    @classmethod
    def of(cls, d: types.Diagnosis) -> Diagnosis:
        """``d`` as the API hands it out (the same history, findings, summary and advice)."""
        if isinstance(d, cls):
            return d
        return cls(history=d.history, findings=d.findings, summary=d.summary, advice=d.advice)

    def to_dict(self) -> dict[str, Any]:
        """The run as the JSON report (``--format json``, schema_version 1) writes it."""
        return {**run_dict(self), "verdict": self.verdict}

    def to_json(self) -> str:
        return dumps(self.to_dict())

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Draw the curves with the findings marked to ``path`` (.png, .svg or .pdf)."""
        from lossdoc.plot import draw  # start-up time: the plot package only when a plot is asked for

        return draw(self, Path(path))

    def _repr_html_(self) -> str:
        return diagnosis_html(self)


def diagnosis_html(d: types.Diagnosis) -> str:
    """A notebook's view of a diagnosis: the verdict, the findings with their advice, and the plot inline."""
    h = d.history
    rows = "".join(
        f"<tr><td>{escape(f.severity)}</td><td>{escape(f.rule)}</td><td>{escape(where_text(f))}</td>"
        f"<td>{escape(f.message)}<br><i>{escape(f.advice)}</i></td></tr>"
        for f in d.findings
    )
    table = (
        "<table><tr><th>severity</th><th>rule</th><th>where</th><th>finding and advice</th></tr>" + rows + "</table>"
        if rows
        else "<p>No findings.</p>"
    )
    try:
        from lossdoc.plot import render_bytes  # start-up time: the plot package only when a notebook shows one

        png = base64.b64encode(render_bytes([d])).decode()
        image = f'<img alt="loss curves of {escape(h.name)}" src="data:image/png;base64,{png}">'
    except Exception:  # a notebook view must never fail for want of a plot
        image = ""
    points = d.summary.get("points")
    return (
        f"<div><b>{escape(h.name)}</b> ({escape(h.format)}, {points} points): verdict <b>{escape(d.verdict)}</b>"
        f"{table}{image}</div>"
    )
