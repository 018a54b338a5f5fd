"""Plots: a run's curves with the findings drawn where they happened (matplotlib, Agg, no pyplot).

Publication defaults: raw curves faint, smoothed curves (TensorBoard's debiased EMA) strong, train
and validation always in the same two colours (Okabe–Ito blue and vermillion, readable by
colour-blind readers and in greyscale), log y when the values span decades, the learning rate on a
secondary axis, and several loss pairs from one file (YOLO box/cls/dfl) as panels of one figure.
Findings are drawn on the curves: shaded plateaus, a labelled line at the best validation point, a
marker where a divergence starts, spike markers, ticks where values are NaN/Inf.

Long runs are drawn from a copy that keeps every bucket's min and max, so a million points plot as
fast as a few thousand with every extreme still visible. Analysis never sees the downsampled copy.
That copy, and every other number a figure needs of the full data, is computed first (:func:`prepare`,
numpy only): a :class:`Drawing` is small, so a helper process that draws is sent thousands of points,
not millions. A figure is drawn in two steps, its curves (:func:`sketch`, which the helper does while
the run is still being analysed) and then its findings and layout (:func:`finish`).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.smoothing import ema_debiased
from lossdoc.analysis.types import Diagnosis, Finding
from lossdoc.errors import one_line
from lossdoc.history import LossHistory, Series
from lossdoc.report import by_severity, verdict_text
from lossdoc.words import count

TRAIN_COLOR = "#0072B2"
VAL_COLOR = "#D55E00"
LR_COLOR = "#6b6b6b"
SEVERITY_COLOR = {"error": "#b2182b", "warning": "#e69f00", "info": "#56b4e9"}
MAX_DRAWN = 2000
"""Points per drawn curve at most (2 per bucket: its min and its max). A thousand buckets are about one
per pixel column of a single panel (6.5 in at DPI): the envelope of every point, at the resolution it
is seen in; twice as many drew the same picture in more time."""
AUTO_WINDOW_FRACTION = 0.01
"""Auto smoothing: an EMA whose time constant is this fraction of the curve's points..."""
AUTO_MIN_WEIGHT = 0.6
"""...and at least TensorBoard's default weight, for curves longer than FEW_POINTS."""
FEW_POINTS = 60
"""Curves this short (epoch logs) are drawn as they are, with a marker per point."""
MAX_BAD_TICKS = 2000
"""NaN/Inf positions marked per curve at most (the legend still gives the full count)."""
BAD_TICKS_UP_TO = 40
"""Up to this many NaN/Inf values are each a tick on the x axis; more are a shaded band along it
(thousands of ticks side by side would be a solid bar that looks like data)."""
BAD_BAND_BINS = 400
"""A curve with more separate NaN/Inf stretches than this has them drawn per 1/400 of the x range."""
EPOCH_LOG_MAX = 1000
"""``--smoothing auto`` leaves a log whose x axis is epochs as it is, up to this many epochs."""
SPIKE_SIGMAS = 6.0
"""The smoothed line leaves out points this many robust sigmas from their neighbourhood's median
(a one-point spike), so one spike does not become a long hump in it; the raw curve still shows them."""
SPIKE_WINDOW = 9
"""Points in the neighbourhood those outliers are judged against."""
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
PLOT_MAGIC = {".png": (b"\x89PNG",), ".svg": (b"<?xml", b"<svg"), ".pdf": (b"%PDF",)}
"""How each kind of plot file starts: an existing file is only overwritten when it is one."""
DPI = 150
PAD = 4 / 72
"""Inches of space around the figure's edge and between a panel's labels and its neighbour's."""
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "svg.hashsalt": "lossdoc",
}


def minmax_downsample(x: np.ndarray, y: np.ndarray, buckets: int = MAX_DRAWN // 2) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max (in x order), so spikes and dips survive downsampling.

    Non-finite values stay as they are in the bucket that holds them, so gaps still show.
    """
    n = y.size
    if n <= 2 * buckets:
        return x, y
    size = n // buckets
    full = size * buckets
    yy = y[:full].reshape(buckets, size)
    finite = np.isfinite(yy)
    if finite.all():  # the usual case, without the masked copies
        lo, hi = yy.argmin(axis=1), yy.argmax(axis=1)
    else:
        lo = np.where(finite, yy, np.inf).argmin(axis=1)
        hi = np.where(finite, yy, -np.inf).argmax(axis=1)
        # a bucket holding a NaN keeps one of them, so the line breaks there as in the full data
        gap = (~finite).any(axis=1)
        hi = np.where(gap, (~finite).argmax(axis=1), hi)
    offsets = np.arange(buckets) * size
    idx = np.unique(np.concatenate([lo + offsets, hi + offsets, np.arange(full, n)]))
    return x[idx], y[idx]


def auto_smoothing(n: int, x_name: str | None = None) -> float:
    """An EMA weight whose time constant is about 1% of the points; none for short logs and for
    epoch logs (an epoch's value is already a mean over its steps)."""
    if n <= FEW_POINTS or (x_name is not None and x_name.lower() == "epoch" and n <= EPOCH_LOG_MAX):
        return 0.0
    return max(AUTO_MIN_WEIGHT, 1.0 - 1.0 / (n * AUTO_WINDOW_FRACTION))


def _span_decades(ys: list[np.ndarray]) -> bool:
    lo, hi = np.inf, -np.inf
    for y in ys:
        finite = np.isfinite(y)
        v = y if finite.all() else y[finite]
        if v.size:
            lo, hi = min(lo, float(v.min())), max(hi, float(v.max()))
    if lo == np.inf or lo <= 0:
        return False
    return bool(np.log10(hi) - np.log10(lo) >= 1.5)


def groups(diagnoses: list[Diagnosis]) -> list[list[int]]:
    """Diagnosis indices per figure: runs read from one source (several loss pairs) share one."""
    by_source: dict[str, list[int]] = {}
    for i, d in enumerate(diagnoses):
        by_source.setdefault(d.history.source, []).append(i)
    return list(by_source.values())


def _shared_name(names: list[str]) -> str:
    return names[0] if len(names) == 1 else names[0].split(" [", 1)[0]


def figure_name(diags: list[Diagnosis]) -> str:
    """The run name, or for panels the name they share (``results`` of ``results [train/box_loss]``)."""
    return _shared_name([d.history.name for d in diags])


def _literal(text: str) -> str:
    """A name from the log (run, series, column) as drawn: control characters escaped (they have no
    glyph) and every ``$`` escaped, so that matplotlib never reads it as mathtext (a run named
    ``loss$\\frac{1$`` made it give up on the whole plot)."""
    return one_line(text).replace("$", r"\$")


def _panel_title(name: str, panels: int) -> str:
    """``box_loss`` for the panel of ``results [train/box_loss]``; the run name for a single plot."""
    if panels > 1 and " [" in name:
        inner = name.split(" [", 1)[1].rstrip("]")
        return re.sub(r"^(train|training)[/_]", "", inner) or inner
    return name


@dataclass(frozen=True)
class Curve:
    """One series as it is drawn, computed from all of its points."""

    name: str
    role: str
    x: np.ndarray
    y: np.ndarray
    """The points drawn: every bucket's min and max (all points of a short curve)."""
    smooth: tuple[np.ndarray, np.ndarray] | None
    """The smoothed line, or None when the curve is drawn as it is."""
    few: bool
    """Short enough (an epoch log) for a marker per point."""
    bad_x: np.ndarray
    """Where values are NaN/Inf (the first MAX_BAD_TICKS distinct x)..."""
    bad: int
    """...and how many there are..."""
    bad_spans: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    """...and the stretches of x they cover, ``[start, end]`` rows (at most BAD_BAND_BINS)."""


@dataclass(frozen=True)
class Curves:
    """A run's curves as they are drawn: all of its figure that the analysis does not change, so it
    can be drawn while the analysis runs (see :func:`sketch`)."""

    name: str
    x_name: str
    curves: list[Curve]
    """Train and validation, those that have points."""
    lr: Curve | None
    """The learning rate when it has a finite value."""
    x_range: tuple[float, float]
    log_y: bool
    off_scale: tuple[float, float] | None
    """A blow-up on a log axis: where the axis is cut and the peak beyond it (see MAX_DECADES_ABOVE)."""


@dataclass(frozen=True)
class Drawing:
    """One run as its figure needs it: a few thousand numbers, however long the run.

    ``run`` is the diagnosis without its points (names, findings, summary); everything drawn that
    depends on every point (scale, extremes, smoothing, NaN positions, values at findings) is here.
    """

    key: int
    """Which run (the id of its history in the process that read it): matches a sketch made of it."""
    run: Diagnosis
    curves: Curves
    marks: dict[int, list[float | None]]
    """The logged value at each x a finding (by index) is marked at, for findings with a series."""


def prepare_curves(h: LossHistory, smoothing: float | None = None) -> Curves:
    """The curves :func:`figure` draws of a run (numpy only, no matplotlib)."""
    series = [s for s in (h.train, h.val) if s is not None and s.y.size]
    log_y = _span_decades([s.y for s in series])
    lr = None
    if h.lr is not None and h.lr.y.size and np.isfinite(h.lr.y).any():
        xl, yl = minmax_downsample(h.lr.x, h.lr.y)
        lr = Curve(h.lr.name, h.lr.role, xl, yl, None, False, np.empty(0), 0)
    return Curves(
        name=h.name,
        x_name=h.x_name,
        curves=[_curve(s, smoothing, h.x_name) for s in series],
        lr=lr,
        x_range=h.x_range,
        log_y=log_y,
        off_scale=_off_scale([s.y for s in series]) if log_y else None,
    )


def prepare(d: Diagnosis, smoothing: float | None = None, curves: Curves | None = None) -> Drawing:
    """Everything :func:`figure` draws of ``d`` (numpy only): its ``curves`` (made here when None)
    and the values at its findings."""
    h = d.history
    marks: dict[int, list[float | None]] = {}
    for i, f in enumerate(d.findings):
        s = _series_named(d, f.series)
        if f.start is None or s is None:
            continue
        if f.rule == "divergence":
            marks[i] = [_value_at(s, f.start)]
        elif f.rule == "loss-spike":
            marks[i] = [_value_at(s, x) for x in np.asarray(f.evidence.get("spike_x", []), dtype=float)]
    return Drawing(
        key=id(h),
        run=replace(d, history=replace(h, series=[])),
        curves=curves if curves is not None else prepare_curves(h, smoothing),
        marks=marks,
    )


def _curve(s: Series, smoothing: float | None, x_name: str | None = None) -> Curve:
    x, y = minmax_downsample(s.x, s.y)
    bad = ~np.isfinite(s.y)
    n_bad = int(bad.sum())
    bad_x = np.unique(s.x[bad])[:MAX_BAD_TICKS] if n_bad else np.empty(0)
    spans = _bad_spans(s.x, bad) if n_bad > BAD_TICKS_UP_TO else np.empty((0, 2))
    smooth = _smooth(s, smoothing, x_name)
    return Curve(s.name, s.role, x, y, smooth, s.y.size <= FEW_POINTS, bad_x, n_bad, spans)


def _bad_spans(x: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """The stretches of ``x`` where values are NaN/Inf, ``[start, end]`` rows: each run of them, or
    when there are more than BAD_BAND_BINS runs, each 1/BAD_BAND_BINS of the x range holding one."""
    edges = np.diff(np.concatenate([[0], bad.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if starts.size <= BAD_BAND_BINS:
        return np.column_stack([x[starts], x[ends]]).astype(float)
    bins = np.linspace(float(x.min()), float(x.max()), BAD_BAND_BINS + 1)
    held = np.histogram(x[bad], bins)[0] > 0
    edges = np.diff(np.concatenate([[0], held.astype(np.int8), [0]]))
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return np.column_stack([bins[first], bins[last]])


@dataclass
class _Panel:
    ax: Any
    twin: Any
    """The learning-rate axis, or None."""
    curves: dict[str, Any]
    """Legend handles of the curves (and their NaN/Inf ticks) by label..."""
    lr: dict[str, Any]
    """...and of the learning rate, which comes after the findings'."""
    titles: list[Any]


@dataclass
class Sketch:
    """A figure with runs' curves drawn and nothing of their analysis yet (see :func:`sketch`)."""

    fig: Any
    panels: list[_Panel]
    cols: int
    suptitle: Any
    names: tuple[str, ...] = ()
    """The runs' names as drawn (titles)."""


def figure(diags: list[Diagnosis], smoothing: float | None = None) -> Any:
    """A matplotlib Figure (Agg canvas attached) of one run, or one panel per run for several."""
    return figure_of([prepare(d, smoothing) for d in diags])


def figure_of(drawings: list[Drawing], sketched: Sketch | None = None) -> Any:
    """The figure of prepared runs (see :func:`prepare`), finished from ``sketched`` when given."""
    return finish(sketched or sketch([dr.curves for dr in drawings]), drawings)


def sketch(runs: list[Curves]) -> Sketch:
    """The figure of ``runs`` as far as it goes without their analysis: the panels, curves, scales,
    axes and labels, laid out for a legend yet unknown. A helper process draws this while the
    analysis runs; :func:`finish` then adds the findings and lays it out again, when most of the
    work of measuring (ticks, label sizes) is already done."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    from lossdoc.report.canvas import Canvas

    n = len(runs)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    size = (7.2, 4.2) if n == 1 else (3.9 * cols + 0.4, 3.2 * rows + 1.0)
    with rc_context(STYLE):
        fig = Figure(figsize=size, dpi=DPI)
        Canvas(fig)
        axes = fig.subplots(rows, cols, squeeze=False)
        panels = [
            _draw_curves(axes[k // cols][k % cols], c, _panel_title(c.name, n), k % cols == cols - 1, n == 1)
            for k, c in enumerate(runs)
        ]
        for k in range(n, rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        suptitle = None
        if n > 1:
            name = _shared_name([c.name for c in runs])
            suptitle = fig.suptitle(_literal(name), x=0.01, ha="left", fontsize=11, fontweight="bold")
        _fit(fig, panels, cols, suptitle, None)
    return Sketch(fig, panels, cols, suptitle, tuple(c.name for c in runs))


def finish(sk: Sketch, drawings: list[Drawing]) -> Any:
    """The figure of ``sk`` with each run's findings, its verdict, the legend, and its final layout."""
    from matplotlib import rc_context

    with rc_context(STYLE):
        handles: dict[str, Any] = {}
        for p, dr in zip(sk.panels, drawings, strict=True):
            found = _draw_findings(p, dr)
            for label, handle in {**p.curves, **found, **p.lr}.items():
                handles.setdefault(label, handle)
        ncols = min(len(handles), 4 if len(drawings) == 1 else 5)
        legend = _legend(sk.fig, handles, ncols)
        room = sk.fig.bbox.width - 2 * PAD * sk.fig.dpi
        while ncols > 1 and legend.get_window_extent(sk.fig.canvas.get_renderer()).width > room:
            legend.remove()  # long labels (series names): fewer columns rather than cut at the edges
            ncols -= 1
            legend = _legend(sk.fig, handles, ncols)
        _fit(sk.fig, sk.panels, sk.cols, sk.suptitle, legend)
    return sk.fig


def _legend(fig: Any, handles: dict[str, Any], ncols: int) -> Any:
    return fig.legend(list(handles.values()), list(handles), loc="lower center", ncols=ncols, frameon=False)


def _draw_curves(ax: Any, c: Curves, title: str, lr_label: bool, named: bool) -> _Panel:
    """Draw a run's curves into ``ax`` (legend labels with series names when ``named``)."""
    handles: dict[str, Any] = {}
    if c.log_y:
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
    for s in c.curves:
        color = TRAIN_COLOR if s.role == "train" else VAL_COLOR
        if s.smooth is not None:
            ax.plot(s.x, s.y, color=color, alpha=0.28, linewidth=0.7, zorder=2)
        xs, ys = s.smooth if s.smooth is not None else (s.x, s.y)
        (line,) = ax.plot(
            xs,
            ys,
            color=color,
            linewidth=1.8,
            zorder=3,
            marker="o" if s.few and s.smooth is None else None,
            markersize=2.5,
        )
        role = "validation" if s.role == "val" else s.role
        handles[f"{role} ({_literal(s.name)})" if named else role] = line
        if s.bad and s.bad_spans.size:
            lo, hi = c.x_range
            least = 0.003 * (hi - lo) if hi > lo else 1.0  # an isolated NaN still shows
            band = ax.broken_barh(
                [(a, max(b - a, least)) for a, b in s.bad_spans],
                (0.0, 0.04),
                transform=ax.get_xaxis_transform(),
                facecolor=color,
                edgecolor="none",
                alpha=0.3,
                zorder=6,
            )
            handles[f"{s.role} NaN/Inf ({s.bad:,})" if named else f"{s.role} NaN/Inf"] = band
        elif s.bad:
            tick = ax.plot(
                s.bad_x,
                np.full(s.bad_x.size, 0.015),
                linestyle="none",
                marker="|",
                markersize=9,
                color=color,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                zorder=6,
            )[0]
            handles[f"{s.role} NaN/Inf ({s.bad:,})" if named else f"{s.role} NaN/Inf"] = tick
    if c.off_scale is not None:
        _mark_off_scale(ax, *c.off_scale)
    twin, lr_handle = None, {}
    if c.lr is not None:
        twin = ax.twinx()
        (lr_line,) = twin.plot(c.lr.x, c.lr.y, color=LR_COLOR, linewidth=1.0, linestyle=(0, (2, 2)), zorder=1)
        lr = c.lr.y[np.isfinite(c.lr.y)]
        if lr.size and lr.min() > 0 and lr.max() / lr.min() >= 30:
            twin.set_yscale("log")
            _plain_log_ticks(twin.yaxis)
        elif lr.size and lr.max() > 0 and lr.max() - lr.min() <= 0.01 * lr.max():
            twin.set_ylim(0, lr.max() * 1.25)  # a constant rate: show it against zero, not magnified noise
        twin.set_ylabel("learning rate" if lr_label else "", color=LR_COLOR)
        twin.tick_params(axis="y", colors=LR_COLOR)
        twin.spines["right"].set_color(LR_COLOR)
        ax.set_zorder(twin.get_zorder() + 1)  # loss curves above the lr line
        ax.patch.set_visible(False)
        lr_handle[f"learning rate ({_literal(c.lr.name)})" if named else "learning rate"] = lr_line
    lo, hi = c.x_range
    if max(abs(lo), abs(hi)) >= 1e4:
        from matplotlib.ticker import EngFormatter

        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1M instead of an offset label
    ax.set_xlabel(_literal(c.x_name))
    ax.set_ylabel("loss (log scale)" if ax.get_yscale() == "log" else "loss")
    # y given: placed by _fit, not by matplotlib at every draw (which measures every y axis twice per title)
    left = ax.set_title(_literal(title), loc="left", y=1.0, fontweight="bold" if title == c.name else "normal")
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.margins(x=0.01)
    return _Panel(ax, twin, handles, lr_handle, [left])


PLAIN_TICKS = (1e-4, 1e5)
"""Log-axis tick labels within this range are plain decimals (0.001, 0.5, 100); beyond it, powers of ten."""


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis ``0.01 0.1 1 10`` rather than ``10^-2 10^-1 10^0 10^1`` where that fits."""
    from matplotlib.ticker import LogFormatterSciNotation

    class Plain(LogFormatterSciNotation):  # type: ignore[misc]
        def __call__(self, x: float, pos: Any = None) -> str:
            label = super().__call__(x, pos)  # decides which ticks are labelled (minor ones mostly not)
            return f"{x:g}" if label and PLAIN_TICKS[0] <= abs(x) < PLAIN_TICKS[1] else label

    axis.set_major_formatter(Plain())
    axis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def _draw_findings(p: _Panel, dr: Drawing) -> dict[str, Any]:
    """Mark a run's findings on its panel and title it with its verdict; their legend handles."""
    worst = by_severity(dr.run.findings)[0] if dr.run.findings else None
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


def _fit(fig: Any, placed: list[_Panel], cols: int, suptitle: Any, legend: Any) -> None:
    """Margins from the labels, measured on the undrawn figure: the room constrained layout would
    give, without its cost.

    Constrained layout iterates a solver over every artist's extent and makes ``savefig`` draw the
    whole figure twice (once to lay it out), a quarter of a plot's time. Here each margin is the
    largest extent of the labels on its side (a sketch is fitted without a legend, then again).
    Heights first: labels are as tall whatever the panels' size, and which y ticks are shown depends
    on the height alone, so the y tick labels then measured for the widths are the ones drawn (the x
    tick labels only overhang the sides by half a label). An offset or exponent label above a y axis
    pushes its titles up (matplotlib keeps them clear of it): then the heights are set again with
    room for it.
    """
    r = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    pad = PAD * fig.dpi
    rows = math.ceil(len(placed) / cols)
    above = below = 0.0
    x_sides = []  # how far each panel's x tick labels reach past its left and right edges
    for p in placed:
        box = p.ax.bbox
        for t in p.titles:
            t.set_y(1.0)  # where they are without an offset label (a sketch's layout may have lifted them)
        above = max(above, *(t.get_window_extent(r).y1 - box.y1 for t in p.titles))
        xb = p.ax.xaxis.get_tightbbox(r, for_layout_only=True)
        below = max(below, box.y0 - xb.y0) if xb is not None else below
        x_sides.append((box.x0 - xb.x0, xb.x1 - box.x1) if xb is not None else (0.0, 0.0))
    top = (suptitle.get_window_extent(r).y0 if suptitle is not None else height) - pad
    bottom = (legend.get_window_extent(r).y1 if legend is not None else 0.0) + pad
    raised = 0.0
    for _ in range(2):
        gap = below + above + raised + pad
        tall = (top - above - raised - bottom - below - (rows - 1) * gap) / rows
        fig.subplots_adjust(bottom=(bottom + below) / height, top=(top - above - raised) / height, hspace=gap / tall)
        sides = []  # (left, right) extent of each panel's labels
        lifts = []  # how far above each panel an offset label reaches
        for p, (x_left, x_right) in zip(placed, x_sides, strict=True):
            ax, twin, box = p.ax, p.twin, p.ax.bbox
            yb = ax.yaxis.get_tightbbox(r, for_layout_only=True)
            tb = twin.yaxis.get_tightbbox(r, for_layout_only=True) if twin is not None else None
            sides.append(
                (max(x_left, box.x0 - yb.x0 if yb is not None else 0.0), max(x_right, tb.x1 - box.x1 if tb else 0.0))
            )
            lifts.append(_offset_label_top(r, box, ax.yaxis, twin.yaxis if twin is not None else None))
        if max(lifts) <= raised:
            break
        raised = max(lifts)  # the titles go above an offset label: make room and measure again
    first = [k for k in range(len(placed)) if k % cols == 0]
    last = [k for k in range(len(placed)) if k % cols == cols - 1]
    left = max(sides[k][0] for k in first)
    right = max((sides[k][1] for k in last), default=0.0)
    gap = pad + max((sides[k][1] for k in range(len(placed)) if k not in last), default=0.0)
    gap += max((sides[k][0] for k in range(len(placed)) if k not in first), default=0.0)
    wide = (width - 2 * pad - left - right - (cols - 1) * gap) / cols
    fig.subplots_adjust(left=(pad + left) / width, right=(width - pad - right) / width, wspace=gap / wide)
    for p, lift in zip(placed, lifts, strict=True):
        for t in p.titles:
            t.set_y(1.0 + lift / p.ax.bbox.height)  # as matplotlib would: just clear of an offset label


def _offset_label_top(r: Any, box: Any, *axes: Any) -> float:
    """How far above ``box`` the offset or exponent label (``1e-5``, ``+1e3``) of a y axis reaches."""
    shown = [a.offsetText for a in axes if a is not None and a.offsetText.get_visible() and a.offsetText.get_text()]
    return max([0.0, *(t.get_window_extent(r).y1 - box.y1 for t in shown)])


def _smooth(s: Series, smoothing: float | None, x_name: str | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The smoothed curve to draw, or None when the curve is drawn as it is.

    Long curves are smoothed from bucket means with the per-bucket weight ``w**size``: the same
    curve at drawing resolution, without an EMA over every one of a million points. Spikes (points,
    or bucket means, far from their neighbours, see :data:`SPIKE_SIGMAS`) are left out of the EMA,
    which carries its level past them: the raw curve shows a spike, the trend does not become a hump.
    """
    w = auto_smoothing(s.y.size, x_name) if smoothing is None else smoothing
    if w <= 0:
        return None
    x, y = s.x, s.y
    if y.size > MAX_DRAWN:
        size = y.size // (MAX_DRAWN // 2)
        full = size * (y.size // size)
        yy = y[:full].reshape(-1, size)
        finite = np.isfinite(yy)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = yy.mean(axis=1) if finite.all() else np.where(finite, yy, 0.0).sum(axis=1) / finite.sum(axis=1)
        x = x[:full].reshape(-1, size).mean(axis=1)
        y, w = means, w**size
    # gaps stay gaps: the EMA carries its level through NaN/Inf, the drawn line must not
    return x, np.where(np.isfinite(y), ema_debiased(np.where(_spikes(y), np.nan, y), w), np.nan)


def _spikes(y: np.ndarray) -> np.ndarray:
    """Points far above or below the median of their SPIKE_WINDOW neighbours: more than SPIKE_SIGMAS
    robust sigmas of the curve's point-to-neighbourhood deviations (log space for a positive curve)."""
    from numpy.lib.stride_tricks import sliding_window_view

    if y.size < SPIKE_WINDOW + 2:
        return np.zeros(y.size, dtype=bool)
    finite = np.isfinite(y)
    positive = bool(np.all(y[finite] > 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.log(y) if positive else y.astype(float)
    half = SPIKE_WINDOW // 2
    padded = np.pad(np.where(finite, v, np.nan), half, mode="edge")
    windows = sliding_window_view(padded, SPIKE_WINDOW)
    if finite.all():
        local = np.median(windows, axis=1)
    else:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a window of NaN only: no median, no spike
            local = np.nanmedian(windows, axis=1)
    dev = v - local
    spread = np.nanmedian(np.abs(dev[finite])) * 1.4826 if finite.any() else 0.0
    if not spread > 0:
        return np.zeros(y.size, dtype=bool)
    with np.errstate(invalid="ignore"):
        return finite & (np.abs(dev) > SPIKE_SIGMAS * spread)


MAX_DECADES_ABOVE = 6
"""A log axis shows at most this many decades above the run's median loss; a blow-up beyond that
is cut at the top edge (and labelled) so the rest of the run keeps its resolution."""


def _off_scale(ys: list[np.ndarray]) -> tuple[float, float] | None:
    """Where a log axis is cut and the peak beyond the cut, or None when everything fits."""
    vals = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in ys]) if ys else np.array([])
    if vals.size == 0:
        return None
    top = float(np.median(vals)) * 10.0**MAX_DECADES_ABOVE
    peak = float(vals.max())
    return (top, peak) if peak > top else None


def _mark_off_scale(ax: Any, top: float, peak: float) -> None:
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


def _value_at(s: Series, x: float) -> float | None:
    """The raw value at ``x`` (the nearest logged point at or after it)."""
    if s.x.size == 0:
        return None
    k = int(np.clip(np.searchsorted(s.x, x), 0, s.x.size - 1))
    v = float(s.y[k])
    return v if math.isfinite(v) else None


def _series_named(d: Diagnosis, name: str | None) -> Series | None:
    h = d.history
    return next((s for s in h.series if s.name == name), None) or h.train or h.val


STRIP = (0.965, 1.0)
"""Where a region that would cover the same stretch as a more severe one is drawn: a strip along the
top of the axes (fractions of its height), not a second full-height shading over the first."""


def _covered(findings: list[Finding]) -> set[int]:
    """Indices of plateau/oscillation findings drawn as a strip: each one whose stretch is mostly
    (over half) covered by another of those two rules that comes first in the report's order (the
    more severe, the one the verdict names)."""
    order = {id(f): k for k, f in enumerate(by_severity(findings))}
    regions = [
        (i, f) for i, f in enumerate(findings)
        if f.rule in ("plateau", "oscillation") and f.start is not None and f.end is not None
    ]  # fmt: skip
    out: set[int] = set()
    for i, f in regions:
        for j, g in regions:
            if j == i or g.rule == f.rule or order[id(g)] > order[id(f)]:
                continue
            shared = min(f.end, g.end) - max(f.start, g.start)  # type: ignore[operator]
            if shared > 0.5 * max(f.end - f.start, 1e-12):  # type: ignore[operator]
                out.add(i)
    return out


def _mark_findings(ax: Any, dr: Drawing) -> dict[str, Any]:
    handles: dict[str, Any] = {}
    x_name = _literal(dr.run.history.x_name)
    strip = _covered(dr.run.findings)
    for i, f in enumerate(dr.run.findings):
        color = SEVERITY_COLOR[f.severity]
        if f.start is None:
            continue
        lo, hi = (0.0, 1.0) if i not in strip else STRIP
        if f.rule == "plateau" and f.end is not None:
            span = ax.axvspan(f.start, f.end, lo, hi, color=color, alpha=0.13 if i not in strip else 0.5, linewidth=0,
                              zorder=0)  # fmt: skip
            handles.setdefault(f"plateau ({f.evidence.get('kind', 'flat')})", span)
        elif f.rule == "oscillation" and f.end is not None:
            span = ax.axvspan(f.start, f.end, lo, hi, facecolor="none", edgecolor=color, hatch="///", alpha=0.35,
                              linewidth=0)  # fmt: skip
            handles.setdefault("oscillation", span)
        elif f.rule == "overfitting":
            end = f.end if f.end is not None and f.end > f.start else dr.curves.x_range[1]
            span = ax.axvspan(f.start, end, color=VAL_COLOR, alpha=0.08, linewidth=0, zorder=0)
            handles.setdefault("overfitting (after the best point)", span)
        elif f.rule == "divergence":
            ax.axvline(f.start, color=color, linewidth=1.0, linestyle="-", alpha=0.8, zorder=1)
            y = dr.marks.get(i, [None])[0]
            if y is not None:
                (m,) = ax.plot([f.start], [y], marker="v", markersize=8, color=color, linestyle="none", zorder=7)
            else:
                m = ax.axvline(f.start, color=color, linewidth=1.0)
            handles.setdefault(f"divergence from {x_name} {fmt_x(f.start)}", m)
        elif f.rule == "loss-spike":
            xs = np.asarray(f.evidence.get("spike_x", []), dtype=float)
            if i not in dr.marks or xs.size == 0:
                continue
            ys = np.array([v or np.nan for v in dr.marks[i]])
            (m,) = ax.plot(
                xs, ys, marker="^", markersize=6, color=color, markeredgecolor="black", markeredgewidth=0.4,
                linestyle="none", zorder=7,
            )  # fmt: skip
            handles.setdefault(count(len(xs), "loss spike"), m)
        elif f.rule == "non-finite" and not any(k.startswith("first NaN/Inf") for k in handles):
            line = ax.axvline(f.start, color=color, linestyle=":", linewidth=1.3, zorder=1)
            handles[f"first NaN/Inf at {x_name} {fmt_x(f.start)}"] = line
        elif f.rule == "still-improving" and f.end is not None:
            span = ax.axvspan(f.start, f.end, color=color, alpha=0.08, linewidth=0, zorder=0)
            handles.setdefault("still improving at the end", span)
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
    text = f"best val {fmt_loss(y)}\n{_literal(dr.run.history.x_name)} {fmt_x(x)}"
    corner = _free_corner(ax, dr, x, right_half)
    if corner is None:  # data everywhere beside the line: the label goes to the legend, outside the axes
        return {f"best val {fmt_loss(y)} at {_literal(dr.run.history.x_name)} {fmt_x(x)}": line}
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


def draw(diags: Diagnosis | list[Diagnosis], path: Path, smoothing: float | None = None) -> Path:
    """Write the figure for one run (or one panel per run) to ``path``; format from its suffix."""
    fig = figure(diags if isinstance(diags, list) else [diags], smoothing)
    return save_atomic(fig, path)


def render_bytes(diags: list[Diagnosis], smoothing: float | None = None, fmt: str = "png") -> bytes:
    """The figure as bytes (for embedding in an HTML report)."""
    import io

    buf = io.BytesIO()
    figure(diags, smoothing).savefig(buf, format=fmt, metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    """No timestamps or versions in the files: the same run gives the same bytes."""
    if fmt == "png":
        return {"Software": None}
    if fmt in ("svg", "pdf"):
        return {"Date": None, "Creator": None} if fmt == "svg" else {"CreationDate": None, "Creator": None}
    return {}


def save_atomic(fig: Any, path: Path) -> Path:
    """Write to a temp file beside ``path`` and rename it into place: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower() if path.suffix.lower() in PLOT_SUFFIXES else ".png"
    global writing
    fd, tmp = tempfile.mkstemp(prefix=".lossdoc-", suffix=suffix, dir=path.parent)
    writing = tmp
    os.close(fd)
    try:
        fmt = suffix.lstrip(".")
        fig.savefig(tmp, format=fmt, metadata=_metadata(fmt))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a plot is as readable as any new file
        os.replace(tmp, path)
    finally:
        writing = None
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


writing: str | None = None
"""The temporary file a plot is being written to, if any: what a process stopped by a signal removes
(see :func:`remove_partial`)."""


def remove_partial() -> None:
    """Remove the temporary file of a plot being written (called when the process is stopped)."""
    tmp = writing
    if tmp is not None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def check_target(target: Path, inputs: set[str] | None = None) -> None:
    """Refuse a ``--plot`` target lossdoc cannot write plots to, before any log is read: a suffix
    that is not a plot type (``x.jpg`` would otherwise become a folder), or an existing file that is
    not a plot of its suffix's type (a log, a README, a CSV renamed .png). Raises LossdocError."""
    from lossdoc.errors import LossdocError

    kinds = ", ".join(PLOT_SUFFIXES)
    suffix = target.suffix.lower()
    if target.is_dir():
        return
    if suffix and suffix not in PLOT_SUFFIXES:
        raise LossdocError("--plot", f"'{target}': {suffix} is not a plot type; use {kinds}, or a folder")
    if not target.exists() or target.resolve() in {Path(p).resolve() for p in inputs or () if p != "-"}:
        return  # an input given as the target: write_plots refuses it with the other plot errors
    if not suffix:
        raise LossdocError("--plot", f"'{target}' is a file, not a folder; name a {kinds} file or a folder")
    try:
        with open(target, "rb") as fh:
            head = fh.read(64).lstrip()
    except OSError as exc:
        raise LossdocError("--plot", f"'{target}': cannot read it ({exc.strerror or exc})") from None
    if head and not head.startswith(PLOT_MAGIC[suffix]):
        raise LossdocError(
            "--plot", f"'{target}' exists and is not a {suffix[1:].upper()} plot; refusing to overwrite it"
        )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def safe_name(name: str) -> str:
    """A file name from a run name: no separators, no '..', nothing hidden, never empty."""
    keep = "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in name)
    while ".." in keep:
        keep = keep.replace("..", "_")
    keep = keep.strip("._") or "run"
    # A file name is at most 255 *bytes*: 120 characters of CJK or emoji would be refused by the file
    # system; leave room for a suffix, a de-duplicating "_2" and a prefix.
    while len(keep.encode("utf-8", "surrogateescape")) > 120:
        keep = keep[:-1]
    return keep


def plan_outputs(diagnoses: list[Diagnosis], target: Path) -> list[tuple[list[int], Path]]:
    """Where each figure goes: ``target`` itself for a single figure named like a plot file, else
    ``target/<run>.png`` (or ``<stem>_<run><suffix>`` beside a file target). Names come from run names
    made safe and de-duplicated, so nothing is written outside the target folder."""
    figs = groups(diagnoses)
    single_file = target.suffix.lower() in PLOT_SUFFIXES
    if single_file and len(figs) == 1:
        return [(figs[0], target)]
    folder = target.parent if single_file else target
    prefix = f"{target.stem}_" if single_file else ""
    suffix = target.suffix.lower() if single_file else ".png"
    used: set[str] = set()
    out = []
    for idx in figs:
        base = prefix + safe_name(figure_name([diagnoses[i] for i in idx]))
        name, k = base, 1
        while name.lower() in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name.lower())
        out.append((idx, folder / f"{name}{suffix}"))
    return out


def _drawing(d: Diagnosis, prepared: Drawing | None, smoothing: float | None) -> Drawing:
    return prepared if prepared is not None else prepare(d, smoothing)


def protected_paths(report: Any, inputs: set[str]) -> set[Path]:
    """Every file the command line named or matched, read or not (one that failed to parse is still
    somebody's file), and every log the runs came from: no plot may replace any of them."""
    import glob

    from lossdoc.ingest import glob_paths

    named: set[str] = set()
    for spec in inputs:
        if spec in ("-", ""):
            continue
        named.add(spec)
        if glob.has_magic(spec):
            with contextlib.suppress(OSError, ValueError):
                named.update(glob_paths(spec))
    named |= {d.history.source for d in report.diagnoses if not d.history.source.startswith("<")}
    named |= {e.source for e in report.errors if not e.source.startswith(("<", "-"))}
    out: set[Path] = set()
    for p in named:
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            out.add(Path(p).resolve())
    return out


def write_plots(
    report: Any,
    target: Path,
    smoothing: float | None,
    inputs: set[str],
    drawings: list[Drawing | None] | None = None,
    sketches: dict[tuple[int, ...], Sketch] | None = None,
) -> None:
    """Draw every figure of ``report`` under ``target``; refuse to overwrite any input file.

    ``drawings`` are the runs already prepared (see :func:`prepare`; None for a run to prepare here),
    for a process that is sent them instead of the runs' points, and ``sketches`` figures it began
    (by the keys of their runs). Problems become report errors (exit code 2), never exceptions: the
    other plots are still written.
    """
    from lossdoc.ingest import InputError

    protected = protected_paths(report, inputs)
    for idx, out in plan_outputs(report.diagnoses, target):
        if out.resolve() in protected:
            report.errors.append(InputError(str(out), "refusing to overwrite an input file with a plot"))
            report.exit_code = 2
            continue
        if out.is_dir():
            report.errors.append(InputError(str(out), "cannot write plot (a folder has that name)"))
            report.exit_code = 2
            continue
        try:
            runs = [_drawing(report.diagnoses[i], drawings[i] if drawings else None, smoothing) for i in idx]
            sketched = sketches.pop(tuple(dr.key for dr in runs), None) if sketches else None
            if sketched is not None and sketched.names != tuple(dr.run.history.name for dr in runs):
                sketched = None  # the run was renamed after it was sketched (see ingest.names.distinct_names)
            save_atomic(figure_of(runs, sketched), out)
        except OSError as exc:
            report.errors.append(InputError(str(out), f"cannot write plot ({exc.strerror or exc})"))
            report.exit_code = 2
            continue
        except Exception as exc:  # matplotlib gives up on some extreme values: one plot lost, not the call
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            report.errors.append(InputError(str(out), f"cannot draw plot ({first})"))
            report.exit_code = 2
            continue
        for i in idx:
            report.plots[i] = str(out)
