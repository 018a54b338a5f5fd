"""Layout: margins measured from the labels of the undrawn figure, and the look every figure shares."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from lossdoc.errors import one_line

TRAIN_COLOR = "#0072B2"
VAL_COLOR = "#D55E00"
LR_COLOR = "#6b6b6b"
SEVERITY_COLOR = {"error": "#b2182b", "warning": "#e69f00", "info": "#56b4e9"}
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


def literal(text: str) -> str:
    """A name from the log (run, series, column) as drawn: control characters escaped (they have no
    glyph) and every ``$`` escaped, so that matplotlib never reads it as mathtext (a run named
    ``loss$\\frac{1$`` made it give up on the whole plot)."""
    return one_line(text).replace("$", r"\$")


def panel_title(name: str, panels: int) -> str:
    """``box_loss`` for the panel of ``results [train/box_loss]``; the run name for a single plot."""
    if panels > 1 and " [" in name:
        inner = name.split(" [", 1)[1].rstrip("]")
        return re.sub(r"^(train|training)[/_]", "", inner) or inner
    return name


@dataclass
class Panel:
    ax: Any
    twin: Any
    """The learning-rate axis, or None."""
    curves: dict[str, Any]
    """Legend handles of the curves (and their NaN/Inf ticks) by label..."""
    lr: dict[str, Any]
    """...and of the learning rate, which comes after the findings'."""
    titles: list[Any]


def fit(fig: Any, placed: list[Panel], cols: int, suptitle: Any, legend: Any) -> None:
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
