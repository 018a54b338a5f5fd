"""Two runs' curves on one x grid, and where the candidate leaves the baseline's noise band.

A curve is judged as the rules judge a series (:class:`lossdoc.analysis.smoothing.Prepared`): in log
space when every value is positive, so a band is a ratio and the same at any loss scale, and bucketed
to at most a few thousand points. Its smoothed form is a running median (one spike does not move it)
and its noise is the robust spread of the points around that median. Runs logged at different
cadences (every 10 steps against every 50) are interpolated onto the sparser run's x values inside the
x range both cover; x outside that range is never compared, and :func:`align` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.kernels import rolling_median
from lossdoc.analysis.smoothing import Prepared, bucket, curvature_noise, robust_sigma, trend_window
from lossdoc.history import Series

TREND_FRACTION = 0.05
"""The running median that smooths a curve spans this fraction of its (bucketed) points."""
BAND_SIGMAS = 3.0
"""The baseline's noise band is its smoothed curve ± this many robust standard deviations of its points
around it: a run of the same recipe with another seed stays inside it."""
MIN_BAND = 0.05
"""The band is never narrower than ± this in judging space (about 5% of the loss in log space). A
run's point scatter understates how much a rerun with another seed differs (a validation loss
evaluated on a fixed set is smooth, yet seeds move it by a few percent), and llm.c's CI rule is the
same 5%: smaller differences are never called a departure."""
PERSIST_POINTS = 3
"""A departure must hold for this many consecutive grid points (or to the end of the shared range):
one noisy stretch of the smoothed curve is not a departure."""


@dataclass(frozen=True)
class Curve:
    """A series' finite points, its running-median trend and its point noise, in judging space."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    trend_x: np.ndarray
    trend: np.ndarray
    sigma: float
    log_space: bool
    scale: float

    def to_loss(self, z: np.ndarray | float) -> np.ndarray | float:
        return np.exp(z) if self.log_space else np.asarray(z) * self.scale

    @property
    def best(self) -> tuple[float, float]:
        """The lowest logged value and its x."""
        i = int(np.argmin(self.y))
        return float(self.x[i]), float(self.y[i])

    @property
    def final(self) -> float:
        return float(self.y[-1])

    @property
    def best_smoothed(self) -> float:
        return float(self.to_loss(float(self.trend.min())))

    @property
    def band(self) -> float:
        """Half the width of the curve's noise band, in judging space."""
        return max(BAND_SIGMAS * self.sigma, MIN_BAND)

    @property
    def at_best(self) -> float:
        """The loss at which the curve is at its best within its noise: its smoothed minimum plus the
        band. A run "reaches the baseline's best" when it gets this low: the exact minimum of a noisy
        curve that levels off is reached at a random point of its plateau."""
        return float(self.to_loss(float(self.trend.min()) + self.band))


def curve(series: Series | None, log_space: bool | None = None, scale: float | None = None) -> Curve | None:
    """The judged form of ``series`` (None when it has no finite point). ``log_space`` and ``scale``
    force the space of another curve, so that two curves compared are in the same one."""
    if series is None:
        return None
    p = Prepared.of(series)
    if p.n == 0:
        return None
    use_log = p.log_space if log_space is None else (log_space and p.log_space)
    if scale is None:
        iqr = float(np.subtract(*np.percentile(p.y, [75, 25])))
        scale = iqr or float(np.max(np.abs(p.y))) or 1.0
    z = np.log(p.y) if use_log else p.y / scale
    xb, zb = bucket(p.x, z)
    window = min(trend_window(zb.size, TREND_FRACTION), max(1, (zb.size // 2) * 2 - 1))
    trend = rolling_median(zb, window) if window > 1 else zb.copy()
    sigma = max(robust_sigma(zb - trend), curvature_noise(zb)) if zb.size >= 3 else 0.0
    return Curve(p.x, p.y, z, xb, trend, float(sigma), use_log, float(scale))


def pair(base: Series | None, cand: Series | None) -> tuple[Curve, Curve] | None:
    """Both series judged in one space (log when both are positive, else the baseline's scale)."""
    b = curve(base)
    c = curve(cand)
    if b is None or c is None:
        return None
    if b.log_space and c.log_space:
        return b, c
    b = curve(base, log_space=False)
    assert b is not None
    c = curve(cand, log_space=False, scale=b.scale)
    assert c is not None
    return b, c


@dataclass(frozen=True)
class Departure:
    """Where the candidate's smoothed curve first leaves the baseline's band (to stay out ``PERSIST_POINTS`` points)."""

    x: float
    direction: str  # "above" (worse: a higher loss) or "below" (better)
    ratio: float | None
    """The candidate's smoothed loss over the baseline's there; None for losses that are not all
    positive, where a ratio means nothing (see ``difference``)."""
    difference: float
    """The candidate's smoothed loss minus the baseline's there, in loss units."""

    def text(self) -> str:
        if self.ratio is not None:
            return f"{(self.ratio - 1) * 100:+.1f}%"
        return f"{self.difference:+.4g}"


@dataclass(frozen=True)
class Alignment:
    """The two smoothed curves on a shared grid, the baseline's band, and what alignment assumed."""

    x: np.ndarray
    base: np.ndarray
    cand: np.ndarray
    band: float
    base_range: tuple[float, float]
    cand_range: tuple[float, float]
    interpolated: bool
    log_space: bool
    scale: float = 1.0
    """Loss units per judging-space unit when not in log space."""

    @property
    def overlap(self) -> tuple[float, float]:
        return max(self.base_range[0], self.cand_range[0]), min(self.base_range[1], self.cand_range[1])

    def departure(self, persist: int = PERSIST_POINTS) -> Departure | None:
        """The first grid x from which the candidate stays outside the band for ``persist`` points."""
        if self.x.size == 0:
            return None
        diff = self.cand - self.base
        need = min(persist, self.x.size)
        earliest: Departure | None = None
        for direction, out in (("above", diff > self.band), ("below", diff < -self.band)):
            held = _held(out, need)
            if held.any():
                i = int(np.argmax(held))
                if earliest is None or self.x[i] < earliest.x:
                    earliest = Departure(float(self.x[i]), direction, *self._sizes(i))
        return earliest

    def _sizes(self, i: int) -> tuple[float | None, float]:
        if self.log_space:
            base, cand = float(np.exp(self.base[i])), float(np.exp(self.cand[i]))
            return cand / base, cand - base
        return None, float(self.cand[i] - self.base[i]) * self.scale


def _held(out: np.ndarray, need: int) -> np.ndarray:
    """``held[i]``: ``out`` is true at i and at the ``need - 1`` points after it."""
    if out.size < need:
        return np.zeros(out.size, dtype=bool)
    windows = np.lib.stride_tricks.sliding_window_view(out, need)
    held = np.zeros(out.size, dtype=bool)
    held[: windows.shape[0]] = windows.all(axis=1)
    return held


def align(base: Series | None, cand: Series | None) -> Alignment | None:
    """The two series smoothed and put on one grid (None when either has no finite point)."""
    both = pair(base, cand)
    if both is None:
        return None
    b, c = both
    base_range = (float(b.x.min()), float(b.x.max()))
    cand_range = (float(c.x.min()), float(c.x.max()))
    lo, hi = max(base_range[0], cand_range[0]), min(base_range[1], cand_range[1])
    # The sparser run's x values set the grid: interpolating a dense curve onto sparse points loses
    # nothing, the other way round invents points.
    sparse = b.trend_x if b.trend_x.size <= c.trend_x.size else c.trend_x
    grid = sparse[(sparse >= lo) & (sparse <= hi)]
    # Interpolation is needed (and said) only where a grid x was not logged by both runs.
    same_x = bool(np.isin(grid, b.trend_x).all() and np.isin(grid, c.trend_x).all())
    base_on = np.interp(grid, b.trend_x, b.trend)
    cand_on = np.interp(grid, c.trend_x, c.trend)
    return Alignment(grid, base_on, cand_on, b.band, base_range, cand_range, not same_x, b.log_space, b.scale)
