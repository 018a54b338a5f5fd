"""Drawing with matplotlib (Agg, no pyplot).

A figure is drawn in two steps, its curves (:func:`sketch`, which the helper process does while
the run is still being analysed) and then its findings and layout (:func:`finish`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from lossdoc.analysis.types import Diagnosis
from lossdoc.plot.layout import DPI, LR_COLOR, PAD, STYLE, TRAIN_COLOR, VAL_COLOR, Panel, fit, literal, panel_title
from lossdoc.plot.marks import draw_findings, mark_off_scale
from lossdoc.plot.prepare import Curves, Drawing, prepare, shared_name


@dataclass
class Sketch:
    """A figure with runs' curves drawn and nothing of their analysis yet (see :func:`sketch`)."""

    fig: Any
    panels: list[Panel]
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
    # start-up time: matplotlib only when plotting
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    from lossdoc.plot.canvas import Canvas

    n = len(runs)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    size = (7.2, 4.2) if n == 1 else (3.9 * cols + 0.4, 3.2 * rows + 1.0)
    with rc_context(STYLE):
        fig = Figure(figsize=size, dpi=DPI)
        Canvas(fig)
        axes = fig.subplots(rows, cols, squeeze=False)
        panels = [
            _draw_curves(axes[k // cols][k % cols], c, panel_title(c.name, n), k % cols == cols - 1, n == 1)
            for k, c in enumerate(runs)
        ]
        for k in range(n, rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        suptitle = None
        if n > 1:
            name = shared_name([c.name for c in runs])
            suptitle = fig.suptitle(literal(name), x=0.01, ha="left", fontsize=11, fontweight="bold")
        fit(fig, panels, cols, suptitle, None)
    return Sketch(fig, panels, cols, suptitle, tuple(c.name for c in runs))


def finish(sk: Sketch, drawings: list[Drawing]) -> Any:
    """The figure of ``sk`` with each run's findings, its verdict, the legend, and its final layout."""
    # start-up time: matplotlib only when plotting
    from matplotlib import rc_context

    with rc_context(STYLE):
        handles: dict[str, Any] = {}
        for p, dr in zip(sk.panels, drawings, strict=True):
            found = draw_findings(p, dr)
            for label, handle in {**p.curves, **found, **p.lr}.items():
                handles.setdefault(label, handle)
        ncols = min(len(handles), 4 if len(drawings) == 1 else 5)
        legend = _legend(sk.fig, handles, ncols)
        room = sk.fig.bbox.width - 2 * PAD * sk.fig.dpi
        while ncols > 1 and legend.get_window_extent(sk.fig.canvas.get_renderer()).width > room:
            legend.remove()  # long labels (series names): fewer columns rather than cut at the edges
            ncols -= 1
            legend = _legend(sk.fig, handles, ncols)
        fit(sk.fig, sk.panels, sk.cols, sk.suptitle, legend)
    return sk.fig


def _legend(fig: Any, handles: dict[str, Any], ncols: int) -> Any:
    return fig.legend(list(handles.values()), list(handles), loc="lower center", ncols=ncols, frameon=False)


def _draw_curves(ax: Any, c: Curves, title: str, lr_label: bool, named: bool) -> Panel:
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
        handles[f"{role} ({literal(s.name)})" if named else role] = line
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
        mark_off_scale(ax, *c.off_scale)
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
        lr_handle[f"learning rate ({literal(c.lr.name)})" if named else "learning rate"] = lr_line
    lo, hi = c.x_range
    if max(abs(lo), abs(hi)) >= 1e4:
        # start-up time: matplotlib only when plotting
        from matplotlib.ticker import EngFormatter

        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1M instead of an offset label
    ax.set_xlabel(literal(c.x_name))
    ax.set_ylabel("loss (log scale)" if ax.get_yscale() == "log" else "loss")
    # y given: placed by fit, not by matplotlib at every draw (which measures every y axis twice per title)
    left = ax.set_title(literal(title), loc="left", y=1.0, fontweight="bold" if title == c.name else "normal")
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.margins(x=0.01)
    return Panel(ax, twin, handles, lr_handle, [left])


PLAIN_TICKS = (1e-4, 1e5)
"""Log-axis tick labels within this range are plain decimals (0.001, 0.5, 100); beyond it, powers of ten."""


def _plain_log_ticks(axis: Any) -> None:
    """Label a log axis ``0.01 0.1 1 10`` rather than ``10^-2 10^-1 10^0 10^1`` where that fits."""
    # start-up time: matplotlib only when plotting
    from matplotlib.ticker import LogFormatterSciNotation

    class Plain(LogFormatterSciNotation):  # type: ignore[misc]
        def __call__(self, x: float, pos: Any = None) -> str:
            label = super().__call__(x, pos)  # decides which ticks are labelled (minor ones mostly not)
            return f"{x:g}" if label and PLAIN_TICKS[0] <= abs(x) < PLAIN_TICKS[1] else label

    axis.set_major_formatter(Plain())
    axis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
