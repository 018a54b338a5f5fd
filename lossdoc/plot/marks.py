"""Findings drawn on a run's panel: shaded regions, markers, lines and the best-validation label."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.types import Finding
from lossdoc.plot.layout import SEVERITY_COLOR, VAL_COLOR, Panel, literal
from lossdoc.plot.prepare import Drawing
from lossdoc.report import by_severity, verdict_text, worst_finding


def draw_findings(p: Panel, dr: Drawing) -> dict[str, Any]:
    """Mark a run's findings on its panel and title it with its verdict; their legend handles."""
    worst = worst_finding(dr.run.findings)
    p.titles.append(
        p.ax.set_title(
            verdict_text(dr.run),
            loc="right",
            y=1.0,
            color=SEVERITY_COLOR[worst.severity] if worst else "#1a9850",
            fontsize=8,
        )
    )
    return {**_mark_findings(p.ax, dr), **_mark_best_val(p.ax, dr)}


def mark_off_scale(ax: Any, top: float, peak: float) -> None:
    ax.set_ylim(top=top)
    ax.annotate(
        f"↑ off the scale: up to {fmt_loss(peak)}",
        xy=(0.99, 0.99),
        xycoords="axes fraction",
        ha="right",
        va="top",
        fontsize=7.5,
        color="#444444",
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        zorder=9,
    )


STRIP = (0.965, 1.0)
"""Where a region that would cover the same stretch as a more severe one is drawn: a strip along the
top of the axes (fractions of its height), not a second full-height shading over the first."""
STRIPPED = ("shade", "hatch")
"""The mark styles that give way to each other as a strip (see :func:`_covered`)."""


def _covered(findings: list[Finding]) -> set[int]:
    """Indices of shaded or hatched findings (plateau, oscillation) drawn as a strip: each one whose
    stretch is mostly (over half) covered by one of the other of those two styles that comes first in
    the report's order (the more severe, the one the verdict names)."""
    order = {id(f): k for k, f in enumerate(by_severity(findings))}
    regions = [
        (i, f, f.marks.style) for i, f in enumerate(findings)
        if f.marks is not None and f.marks.style in STRIPPED and f.start is not None and f.end is not None
    ]  # fmt: skip
    out: set[int] = set()
    for i, f, style in regions:
        for j, g, other in regions:
            if j == i or other == style or order[id(g)] > order[id(f)]:
                continue
            shared = min(f.end, g.end) - max(f.start, g.start)  # type: ignore[operator]
            if shared > 0.5 * max(f.end - f.start, 1e-12):  # type: ignore[operator]
                out.add(i)
    return out


def _mark_findings(ax: Any, dr: Drawing) -> dict[str, Any]:
    handles: dict[str, Any] = {}
    x_name = literal(dr.run.history.x_name)
    strip = _covered(dr.run.findings)
    firsts: set[str] = set()
    for i, f in enumerate(dr.run.findings):
        color = SEVERITY_COLOR[f.severity]
        m = f.marks
        if f.start is None or m is None:
            continue
        label = m.label if m.at is None else f"{m.label} {x_name} {fmt_x(m.at)}"
        lo, hi = (0.0, 1.0) if i not in strip else STRIP
        if m.style == "shade" and f.end is not None:
            span = ax.axvspan(f.start, f.end, lo, hi, color=color, alpha=0.13 if i not in strip else 0.5, linewidth=0,
                              zorder=0)  # fmt: skip
            handles.setdefault(label, span)
        elif m.style == "hatch" and f.end is not None:
            span = ax.axvspan(f.start, f.end, lo, hi, facecolor="none", edgecolor=color, hatch="///", alpha=0.35,
                              linewidth=0)  # fmt: skip
            handles.setdefault(label, span)
        elif m.style == "after":
            end = f.end if f.end is not None and f.end > f.start else dr.curves.x_range[1]
            span = ax.axvspan(f.start, end, color=VAL_COLOR, alpha=0.08, linewidth=0, zorder=0)
            handles.setdefault(label, span)
        elif m.style == "onset":
            ax.axvline(f.start, color=color, linewidth=1.0, linestyle="-", alpha=0.8, zorder=1)
            y = dr.marks.get(i, [None])[0]
            if y is not None:
                (h,) = ax.plot([f.start], [y], marker="v", markersize=8, color=color, linestyle="none", zorder=7)
            else:
                h = ax.axvline(f.start, color=color, linewidth=1.0)
            handles.setdefault(label, h)
        elif m.style == "points":
            xs = np.asarray(m.points, dtype=float)
            if i not in dr.marks or xs.size == 0:
                continue
            ys = np.array([v or np.nan for v in dr.marks[i]])
            (h,) = ax.plot(
                xs, ys, marker="^", markersize=6, color=color, markeredgecolor="black", markeredgewidth=0.4,
                linestyle="none", zorder=7,
            )  # fmt: skip
            handles.setdefault(label, h)
        elif m.style == "first" and m.label not in firsts:
            firsts.add(m.label)
            line = ax.axvline(f.start, color=color, linestyle=":", linewidth=1.3, zorder=1)
            handles[label] = line
        elif m.style == "tint" and f.end is not None:
            span = ax.axvspan(f.start, f.end, color=color, alpha=0.08, linewidth=0, zorder=0)
            handles.setdefault(label, span)
    return handles


def _mark_best_val(ax: Any, dr: Drawing) -> dict[str, Any]:
    s = dr.run.summary
    if s.get("best_val_x") is None or s.get("best_val") is None or not math.isfinite(s["best_val"]):
        return {}
    x, y = float(s["best_val_x"]), float(s["best_val"])
    line = ax.axvline(x, color=VAL_COLOR, linestyle="--", linewidth=1.0, alpha=0.9, zorder=1)
    ax.plot([x], [y], marker="o", markersize=5, markerfacecolor="white", markeredgecolor=VAL_COLOR, zorder=8)
    lo, hi = dr.curves.x_range
    right_half = hi > lo and (x - lo) / (hi - lo) > 0.6
    text = f"best val {fmt_loss(y)}\n{literal(dr.run.history.x_name)} {fmt_x(x)}"
    corner = _free_corner(ax, dr, x, right_half)
    if corner is None:  # data everywhere beside the line: the label goes to the legend, outside the axes
        return {f"best val {fmt_loss(y)} at {literal(dr.run.history.x_name)} {fmt_x(x)}": line}
    ax.annotate(
        text,
        xy=(x, 0.97 if corner == "top" else 0.03),
        xycoords=ax.get_xaxis_transform(),
        xytext=(-4 if right_half else 4, 0),
        textcoords="offset points",
        ha="right" if right_half else "left",
        va="top" if corner == "top" else "bottom",
        fontsize=7.5,
        color=VAL_COLOR,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        zorder=9,
    )
    return {"best validation point": line}


LABEL_BOX = (0.2, 0.16)
"""The room the best-val label takes beside its line, as fractions of the axes' width and height."""


def _free_corner(ax: Any, dr: Drawing, x: float, right_half: bool) -> str | None:
    """Where beside the best-val line its label covers no drawn point: "top", "bottom", or None.

    Every curve point (raw and smoothed) within the label's width of the line is placed in axes
    fractions (the scale and limits are those of the drawn curves); the label needs LABEL_BOX of
    empty room at the top or the bottom of the axes, with a little margin.
    """
    ax.get_ylim()  # the limits autoscaled to the curves before they are read through transLimits
    lo, hi = dr.curves.x_range
    width = LABEL_BOX[0] * (hi - lo) if hi > lo else 1.0
    a, b = (x - width, x) if right_half else (x, x + width)
    ys = []
    for c in dr.curves.curves:
        for xs, vs in ((c.x, c.y), c.smooth or (np.empty(0), np.empty(0))):
            near = (xs >= a) & (xs <= b) & np.isfinite(vs)
            ys.append(vs[near])
    ys.append(np.array([float(dr.run.summary["best_val"])]))
    v = np.concatenate(ys)
    if ax.get_yscale() == "log":
        v = v[v > 0]
    if v.size == 0:
        return "top"
    fy = ax.transLimits.transform(np.column_stack([np.full(v.size, x), ax.transScale.transform(
        np.column_stack([np.full(v.size, x), v]))[:, 1]]))[:, 1]  # fmt: skip
    if float(fy.max()) < 1.0 - LABEL_BOX[1] - 0.03:
        return "top"
    if float(fy.min()) > LABEL_BOX[1] + 0.03:
        return "bottom"
    return None
