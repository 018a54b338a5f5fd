"""Smoothing and the scale-free views of a series every rule shares.

* :func:`ema_debiased` — TensorBoard's scalar smoothing (an exponential moving average whose start-up
  bias is divided out), vectorised in blocks so that a million points cost a few numpy calls.
* :func:`rolling_median` — a robust smoother: one spike does not move it.
* :class:`Prepared` — a series in the space the rules judge it in (log when the loss is positive,
  which makes every ratio scale-free), bucketed to at most ``MAX_TREND_POINTS`` medians for trend
  rules, with its robust trend and noise level computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lossdoc.analysis.kernels import median, percentile, rolling_median, row_medians
from lossdoc.history import Series

MAX_TREND_POINTS = 2000
"""Trend rules see at most this many points: bucket medians of longer runs (spikes see every point)."""


def ema_debiased(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: ``s_t = w*s_{t-1} + (1-w)*y_t`` started at 0, divided by ``1 - w**t``.

    Non-finite values are skipped (they keep the previous smoothed value), as TensorBoard does.
    """
    y = np.asarray(y, dtype=np.float64)
    out = np.full(y.shape, np.nan)
    finite = np.isfinite(y)
    v = y[finite]
    if v.size == 0 or weight <= 0:
        out[finite] = v
        return _carry_forward(out)
    w = float(min(weight, 0.999999))
    # Closed form within a block: s_t = w^t s_0 + (1-w) sum_k w^(t-k) y_k. Blocks keep w^-k finite.
    block = max(1, int(-100.0 / np.log10(w)) if w < 1 else v.size)
    sm = np.empty(v.size)
    level = 0.0
    for start in range(0, v.size, block):
        seg = v[start : start + block]
        k = np.arange(seg.size)
        pw = w ** (k + 1)
        acc = np.cumsum(seg * w ** (-k)) * (1 - w) * (w**k)
        sm[start : start + seg.size] = level * pw + acc
        level = sm[start + seg.size - 1]
    debias = 1.0 - w ** np.arange(1, v.size + 1)
    out[finite] = sm / debias
    return _carry_forward(out)


def _carry_forward(a: np.ndarray) -> np.ndarray:
    idx = np.where(np.isfinite(a), np.arange(a.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return a[idx]


def bucket(x: np.ndarray, y: np.ndarray, max_points: int = MAX_TREND_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: the middle x and the median y of equal-count buckets (x is sorted)."""
    n = y.size
    size = bucket_size(n, max_points)
    if size == 1:
        return x, y
    full = (n // size) * size
    xb = x[size // 2 : full : size]
    yb = row_medians(y[:full].reshape(-1, size))
    if full < n:
        xb = np.append(xb, x[(full + n) // 2])
        yb = np.append(yb, median(y[full:]))
    return xb, yb


def bucket_size(n: int, max_points: int = MAX_TREND_POINTS) -> int:
    """How many of ``n`` points each of :func:`bucket`'s buckets holds (1: the points themselves; the
    last bucket may hold fewer)."""
    max_points = max(1, int(max_points))
    return 1 if n <= max_points else int(np.ceil(n / max_points))


SPREAD_SAMPLE = 200_000
"""Robust spreads of longer arrays are estimated from this many evenly strided elements."""


def spread_stride(n: int) -> int:
    """The stride of the elements a robust spread of ``n`` values is estimated from."""
    return int(np.ceil(n / SPREAD_SAMPLE)) if n > SPREAD_SAMPLE else 1


def _sample(a: np.ndarray) -> np.ndarray:
    return a[:: spread_stride(a.size)]


MAD_TO_SIGMA = 1.4826
"""A normal distribution's standard deviation is this many times its median absolute deviation."""


def robust_sigma(a: np.ndarray) -> float:
    """Standard deviation estimated from the median absolute deviation (1.4826·MAD, see MAD_TO_SIGMA)."""
    a = _sample(a)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return 0.0
    return MAD_TO_SIGMA * median(np.abs(a - median(a)))


MEDIAN_SE = 1.2533
"""The median of w points with normal scatter sigma scatters like ``MEDIAN_SE * sigma / sqrt(w)``
(sqrt(pi/2)): the standard error of every running-median level here."""


def diff_noise(z: np.ndarray) -> float:
    """Point-to-point noise from first differences: a robust spread, divided by sqrt(2).

    Uses the larger of the MAD and the 75th-percentile deviation (scaled to a normal sigma), so a
    series that repeats values (most differences exactly zero) still shows the noise it has.
    """
    d = _sample(np.diff(z[np.isfinite(z)]))
    if d.size < 3:
        return 0.0
    dev = np.abs(d - median(d))
    mad, q75 = percentile(dev, 50), percentile(dev, 75)
    return float(max(MAD_TO_SIGMA * mad, q75 / 1.1503) / np.sqrt(2.0))


def curvature_noise(z: np.ndarray) -> float:
    """Point noise from second differences (MAD / sqrt(6)): blind to any locally straight trend, so a
    short curve that falls fast and then rises does not count its own shape as noise."""
    d2 = np.diff(_sample(z[np.isfinite(z)]), n=2)
    if d2.size < 3:
        return 0.0
    return float(MAD_TO_SIGMA * median(np.abs(d2 - median(d2))) / np.sqrt(6.0))


@dataclass(frozen=True)
class Trend:
    """A smoothed series on bucketed x, the standard error of a smoothed value, and the window used."""

    x: np.ndarray
    t: np.ndarray
    se: float
    window: int


@dataclass
class Prepared:
    """A series' finite points in judging space, with shared derived views computed on demand.

    ``z`` is ``log(y)`` when every finite value is positive (ratios become differences, so all
    thresholds are scale-free), else ``y`` divided by its robust spread.
    """

    series: Series
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    log_space: bool
    scale: float = 1.0
    """Outside log space, what ``y`` was divided by: its interquartile range (its largest size when that
    is 0, else 1)."""

    @classmethod
    def of(cls, series: Series) -> Prepared:
        finite = np.isfinite(series.y)
        x, y = series.x[finite], series.y[finite]
        if y.size and bool(np.all(y > 0)):
            return cls(series, x, y, np.log(y), True)
        scale = (percentile(y, 75) - percentile(y, 25) or float(np.max(np.abs(y))) if y.size else 1.0) or 1.0
        return cls(series, x, y, y / scale, False, scale)

    @property
    def n(self) -> int:
        return int(self.z.size)

    def bucketed_span(self, lo: int, hi: int) -> tuple[int, int]:
        """The points (``lo``, ``hi`` exclusive) behind buckets ``lo`` to ``hi`` of :attr:`buckets`."""
        size = bucket_size(self.n)
        return lo * size, min(self.n, hi * size)

    @cached_property
    def buckets(self) -> tuple[np.ndarray, np.ndarray]:
        return bucket(self.x, self.z)

    @cached_property
    def curvature_noise(self) -> float:
        """Point noise of the (bucketed) points from second differences; see :func:`curvature_noise`."""
        _, zb = self.buckets
        return curvature_noise(zb)

    @cached_property
    def level_range(self) -> tuple[float, float]:
        """Lowest and highest level of the run: the extremes of a running median over 5% of it."""
        t = self.trend(0.05).t
        return float(t.min()), float(t.max())

    def trend(self, fraction: float, minimum: int = 3) -> Trend:
        """A spike-proof trend: the running median over ``fraction`` of the (bucketed) run."""
        xb, zb = self.buckets
        w = min(trend_window(zb.size, fraction, minimum), max(1, (zb.size // 2) * 2 - 1))
        t = rolling_median(zb, w) if w > 1 else zb.copy()
        # A median of w points scatters like 1.25 sigma / sqrt(w) around the true level.
        se = MEDIAN_SE * self.curvature_noise / np.sqrt(max(1, w))
        return Trend(xb, t, float(se), w)

    def to_value(self, z: np.ndarray | float) -> np.ndarray | float:
        """Back from judging space to the loss's own units (for messages)."""
        if self.log_space:
            return np.exp(z)
        return np.asarray(z) * self.scale


def trend_window(n: int, fraction: float = 0.05, minimum: int = 3) -> int:
    return max(minimum, round(n * fraction) | 1)
