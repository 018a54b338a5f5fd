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

The package follows a figure's making: :mod:`~lossdoc.plot.prepare` (data to drawable, numpy only),
:mod:`~lossdoc.plot.draw` (matplotlib: curves) and :mod:`~lossdoc.plot.marks` (findings),
:mod:`~lossdoc.plot.layout` (margins, shared look), :mod:`~lossdoc.plot.files` (targets, safe names,
atomic writes) and :mod:`~lossdoc.plot.helper` (the process that draws while the parent analyses).
Importing it imports numpy, never matplotlib (that happens when a figure is drawn).
"""

from __future__ import annotations

from lossdoc.atomic import remove_partial
from lossdoc.plot.draw import Sketch, figure, figure_of, finish, sketch
from lossdoc.plot.files import (
    PLOT_SUFFIXES,
    check_target,
    draw,
    plan_outputs,
    protected_paths,
    render_bytes,
    safe_name,
    save_atomic,
    write_plots,
)
from lossdoc.plot.prepare import (
    Curve,
    Curves,
    Drawing,
    auto_smoothing,
    figure_name,
    groups,
    minmax_downsample,
    prepare,
    prepare_curves,
)

__all__ = [
    "PLOT_SUFFIXES",
    "Curve",
    "Curves",
    "Drawing",
    "Sketch",
    "auto_smoothing",
    "check_target",
    "draw",
    "figure",
    "figure_name",
    "figure_of",
    "finish",
    "groups",
    "minmax_downsample",
    "plan_outputs",
    "prepare",
    "prepare_curves",
    "protected_paths",
    "remove_partial",
    "render_bytes",
    "safe_name",
    "save_atomic",
    "sketch",
    "write_plots",
]
