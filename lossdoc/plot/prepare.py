"""Data to drawable: a run's curves and the values at its findings, computed from every point
(numpy only, no matplotlib), so a figure of a million-point run is drawn from a few thousand numbers.

Long runs are drawn from a copy that keeps every bucket's min and max, so a million points plot as
fast as a few thousand with every extreme still visible. Analysis never sees the downsampled copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from lossdoc.analysis.smoothing import MAD_TO_SIGMA, ema_debiased
from lossdoc.analysis.types import Diagnosis
from lossdoc.history import LossHistory, Series

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


def shared_name(names: list[str]) -> str:
    return names[0] if len(names) == 1 else names[0].split(" [", 1)[0]


def figure_name(diags: list[Diagnosis]) -> str:
    """The run name, or for panels the name they share (``results`` of ``results [train/box_loss]``)."""
    return shared_name([d.history.name for d in diags])


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
        if f.marks is not None and f.marks.points:
            marks[i] = [_value_at(s, x) for x in f.marks.points]
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
    spread = np.nanmedian(np.abs(dev[finite])) * MAD_TO_SIGMA if finite.any() else 0.0
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
