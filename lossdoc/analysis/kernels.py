"""Kernels: the numeric building blocks the rules share, written for speed.

Each one gives, bit for bit, what a plain reference gives (``np.median``, ``np.percentile``, a loop
over every pair); ``tests/test_speed_paths.py`` checks each against its reference, so a rule module
reads as the definition it implements and this module holds the tricks:

* :func:`row_medians` / :func:`median` — ``np.median`` with one partition instead of three;
* :func:`sliding_quantile` / :func:`rolling_quantile` — running order statistics: partitions of a
  sliding-window view (O(n·w)) on short series, pandas' skiplist (O(n log w)) on long ones;
* :func:`prefix_medians` — the median of every prefix of an array;
* :func:`flat_stretches` — binary lifting over a sparse table of running maxima and minima;
* :func:`fitted_flat` — least-squares lines through every pair of points, from cumulative sums;
* :func:`trend_range` — the range of every stretch of a short trend.
"""

from __future__ import annotations

import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SKIPLIST_WORK = 8_000_000
"""Running order statistics over ``n`` windows of ``w`` points take about ``n·w`` element moves by
partitioning; pandas' skiplist takes ``n·log w``. Importing pandas costs about as much as partitioning
this many elements (measured: benchmarks/README.md), so a series this big pays for the import."""

SKIPLIST_WORK_LOADED = 100_000
"""Once pandas is imported (an earlier long series, a large CSV), the skiplist is used from this much
work: below it, building a pandas Series costs more than the partitions it saves."""

LARGEST_DIFFERENCE = 1e300
"""The skiplist path is taken only for values under this size, so no difference of two overflows (then
numpy's interpolation and the shortcuts taken here agree bit for bit)."""

PARTITION_CHUNK = 4_000_000
"""Sliding windows are partitioned this many elements at a time, which bounds the memory of a copy."""


def row_medians(a: np.ndarray, nan_free: bool = False) -> np.ndarray:
    """``np.median(a, axis=1)`` bit for bit, several times faster on many short rows.

    np.median partitions each row around both middle positions and the last one (its NaN check);
    one partition around the upper middle is enough: the lower middle of an even row is the
    largest value left of it. The two are averaged as np.median does, ``(lo + hi) / 2``, and a row
    holding a NaN gives NaN, as np.median's does (``nan_free``: the caller knows none does).
    """
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[1]
    h = n // 2
    part = np.partition(a, h, axis=1)
    out = part[:, h].copy() if n % 2 else (part[:, :h].max(axis=1) + part[:, h]) / 2
    return out if nan_free else _nan_rows(a, out)


def _nan_rows(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    has_nan = np.isnan(a).any(axis=1)
    if has_nan.any():
        out[has_nan] = np.nan
    return out


def row_quantiles(a: np.ndarray, q: float, nan_free: bool = False) -> np.ndarray:
    """``np.percentile(a, q, axis=1)`` bit for bit: one partition around the two order statistics numpy's
    linear method interpolates between, joined with its arithmetic; a row holding a NaN gives NaN."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[1]
    virtual = (n - 1) * float(np.true_divide(q, 100))
    below = int(np.floor(virtual))
    above = min(below + 1, n - 1)
    part = np.partition(a, sorted({below, above}), axis=1)
    out = _lerp(part[:, below], part[:, above], virtual - below)
    return out if nan_free else _nan_rows(a, out)


def percentile(a: np.ndarray, q: float) -> float:
    """``np.percentile`` of all of an array's values bit for bit (see :func:`row_quantiles`)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(row_quantiles(a[None, :], q)[0]) if a.size else float("nan")


def median(a: np.ndarray) -> float:
    """``np.median`` of an array (of all its values, as np.median without an axis) bit for bit, faster
    (see :func:`row_medians`), and without the import of ``numpy.ma`` np.median's NaN check makes."""
    a = np.asarray(a, dtype=np.float64).ravel()
    return float(row_medians(a[None, :])[0]) if a.size else float("nan")


def _use_skiplist(y: np.ndarray, window: int) -> bool:
    work = y.size * window
    if work < SKIPLIST_WORK_LOADED or not np.abs(y).max(initial=0.0) < LARGEST_DIFFERENCE:
        return False  # non-finite values (np.median's NaN semantics) or differences that could overflow
    return work >= SKIPLIST_WORK or "pandas" in sys.modules


def _lerp(lo: np.ndarray, hi: np.ndarray, gamma: float) -> np.ndarray:
    """numpy's linear interpolation between two order statistics, with its exact arithmetic."""
    diff = hi - lo
    if gamma >= 0.5:
        return hi - diff * (1 - gamma)
    return lo + diff * gamma


def _skiplist_quantile(y: np.ndarray, window: int, q: float) -> np.ndarray:
    """``sliding_quantile`` from pandas' rolling skiplist: the two order statistics around numpy's
    index, joined with numpy's arithmetic."""
    import pandas as pd  # start-up time: only long series reach this; `import lossdoc` stays light

    roll = pd.Series(y, copy=False).rolling(window)
    if q == 50.0:
        return roll.median().to_numpy()[window - 1 :]
    qf = float(np.true_divide(q, 100))
    virtual = (window - 1) * qf  # np.percentile's linear method; pandas' index is the same product
    lo = roll.quantile(qf, interpolation="lower").to_numpy()[window - 1 :]
    gamma = virtual - np.floor(virtual)
    if gamma == 0:
        return lo + 0.0  # numpy's lerp at 0: lo + (hi - lo)·0, which turns -0.0 into 0.0
    hi = roll.quantile(qf, interpolation="higher").to_numpy()[window - 1 :]
    return _lerp(lo, hi, gamma)


def sliding_quantile(y: np.ndarray, window: int, q: float) -> np.ndarray:
    """Percentile ``q`` (0-100) of every full window ``y[j : j + window]``: ``len(y) - window + 1`` values,
    equal bit for bit to ``np.percentile(sliding_window_view(y, window), q, axis=1)`` (to
    ``np.median`` for ``q == 50``)."""
    y = np.asarray(y, dtype=np.float64)
    if _use_skiplist(y, window):
        return _skiplist_quantile(y, window, q)
    view = sliding_window_view(y, window)
    nan_free = not np.isnan(y).any()  # then no window needs np.median's NaN check
    out = np.empty(view.shape[0])
    chunk = max(1, PARTITION_CHUNK // window)
    for s in range(0, view.shape[0], chunk):
        part = view[s : s + chunk]
        out[s : s + chunk] = row_medians(part, nan_free) if q == 50.0 else row_quantiles(part, q, nan_free)
    return out


def centred_half(n: int, window: int) -> int:
    """How many values either side of its own a centred running statistic over ``window`` of ``n`` values
    takes (0: none, the values are their own statistic): the window is made odd and at most ``n``
    (``n - 1`` when ``n`` is even)."""
    window = int(window) | 1
    if window <= 1 or n < 3:
        return 0
    window = min(window, (n // 2) * 2 - 1) if n % 2 == 0 else min(window, n)
    return window // 2


def window_span(n: int, window: int, k: int) -> tuple[int, int]:
    """The values (``lo``, ``hi`` exclusive) that :func:`rolling_quantile`'s ``k``-th result is taken
    over: the reflected padding at the ends repeats values already inside that span."""
    half = centred_half(n, window)
    return max(0, k - half), min(n, k + half + 1)


def rolling_quantile(y: np.ndarray, window: int, q: float) -> np.ndarray:
    """Centered running percentile ``q`` (0-100) over an odd ``window``, ends padded by reflection."""
    y = np.asarray(y, dtype=np.float64)
    half = centred_half(y.size, window)
    if not half:
        return y.copy()
    window = 2 * half + 1
    padded = np.concatenate([y[:half][::-1], y, y[-half:][::-1]]) if half else y
    return sliding_quantile(padded, window, q)


def rolling_median(y: np.ndarray, window: int) -> np.ndarray:
    """Centered running median; the ends use the nearest full window (edge padding by reflection)."""
    return rolling_quantile(y, window, 50.0)


PREFIX_SKIPLIST_MIN = 32
"""Prefix medians come from pandas' expanding skiplist, once pandas is imported, from this many values:
below it one ``median`` call per prefix is cheaper than building a Series. (Never imported for them:
the loop is cheaper than the import on the short prefixes this is used for.)"""


def prefix_medians(a: np.ndarray) -> np.ndarray:
    """``[np.median(a[:1]), np.median(a[:2]), ...]`` bit for bit."""
    a = np.asarray(a, dtype=np.float64)
    if a.size >= PREFIX_SKIPLIST_MIN and "pandas" in sys.modules and np.isfinite(a).all():
        import pandas as pd  # already imported (checked above): this only binds the name

        return pd.Series(a, copy=False).expanding().median().to_numpy()
    return np.array([median(a[: i + 1]) for i in range(a.size)])


def flat_stretches(t: np.ndarray, tol: float) -> np.ndarray:
    """For each start index ``a``, the first index ``j > a`` where the trend leaves the band
    ``t[a] ± tol`` (``n`` when it never does).

    Binary lifting over a sparse table of running maxima and minima: from ``a + 1``, take the largest
    power-of-two step whose stretch stays in the band, then the next smaller, and so on. O(n log n),
    where comparing every pair costs n². ``max - t[a]`` is the largest ``t[j] - t[a]`` exactly
    (rounding is monotone), so the ends are those of the pairwise test, which short trends (faster
    that way) and the few with a non-finite value still take.
    """
    n = t.size
    if n <= 128 or not np.isfinite(t).all():
        return _flat_stretches_pairwise(t, tol)
    highs, lows = [t], [t]  # highs[k][i] = max(t[i : i + 2**k])
    while 2 ** len(highs) <= n:
        half = 2 ** (len(highs) - 1)
        highs.append(np.maximum(highs[-1][:-half], highs[-1][half:]))
        lows.append(np.minimum(lows[-1][:-half], lows[-1][half:]))
    pos = np.arange(1, n + 1)
    for k in range(len(highs) - 1, -1, -1):
        step = 2**k
        fits = pos + step <= n
        at = np.where(fits, pos, 0)
        fits &= (highs[k][at] - t <= tol) & (t - lows[k][at] <= tol)
        pos += step * fits
    return pos


def _flat_stretches_pairwise(t: np.ndarray, tol: float) -> np.ndarray:
    """:func:`flat_stretches` by comparing every pair, a thousand starts at a time."""
    n = t.size
    js = np.arange(n)
    ends = np.full(n, n)
    for a0 in range(0, n, 1000):
        starts = np.arange(a0, min(n, a0 + 1000))
        # Out of the band either way: improving by more than tol, or rising by more than tol.
        out = (np.abs(t[None, :] - t[starts, None]) > tol) & (js[None, :] > starts[:, None])
        ends[starts] = np.where(out.any(axis=1), out.argmax(axis=1), n)
    return ends


FIT_BLOCK = 8192
""":func:`fitted_flat` works through this many pairs at a time (64 KB per intermediate array)."""


def fitted_flat(
    x: np.ndarray,
    z: np.ndarray,
    tol: float,
    sigmas: float,
    max_rise: float,
    max_fall: float,
    block: int = FIT_BLOCK,
    min_span: float = -np.inf,
) -> np.ndarray:
    """flat[a, b]: a least-squares line through points a..b falls by less than ``tol`` over the stretch,
    allowing ``sigmas`` standard errors of that fall (noise), falls by less than ``max_fall`` outright, and
    rises by less than ``max_rise``. Pairs no longer than ``min_span`` (``x[b] - x[a] <= min_span``) are
    left False without being computed: a caller that already holds a stretch that long passes its length.

    Every pair from cumulative sums, a block of starts at a time: whole n×n intermediates (a dozen of
    them) would go back to the kernel after every run and be faulted in again for the next one. Each
    pair's value is computed element by element, so a pair gets the same answer in any block.
    """
    n = z.size
    xs = (x - x[0]) / max(x[-1] - x[0], 1e-300)
    c = [np.concatenate([[0.0], np.cumsum(v)]) for v in (np.ones(n), xs, z, xs * xs, xs * z, z * z)]
    flat = np.zeros((n, n), dtype=bool)
    rows = max(1, block // max(n, 1))
    # x is sorted: the starts that can begin a long enough pair are a prefix
    starts = n if min_span == -np.inf else int(np.count_nonzero(x[-1] - x > min_span))
    with np.errstate(all="ignore"):
        for a0 in range(0, starts, rows):
            a = np.arange(a0, min(starts, a0 + rows))[:, None]
            # the first end that may be longer than min_span (one earlier: the exact test is below), and
            # never before a0 + 3 (a stretch holds four points at least)
            b0 = max(0, int(np.searchsorted(x, x[a0] + min_span, side="left")) - 1) if min_span > -np.inf else 0
            b0 = min(max(b0, a0 + 3), n)
            b = np.arange(b0, n)[None, :]
            m, sx, sz, sxx, sxz, szz = (c[k][b + 1] - c[k][a] for k in range(6))  # sums over points a..b
            vxx = sxx - sx * sx / m
            vxz = sxz - sx * sz / m
            vzz = szz - sz * sz / m
            slope = vxz / vxx
            rss = np.maximum(vzz - slope * vxz, 0.0)
            se = np.sqrt(rss / np.maximum(m - 2, 1) / vxx)
            length = xs[b] - xs[a]
            fall = -slope * length
            ok = (b - a >= 3) & (np.abs(fall) - sigmas * se * length < tol) & (np.abs(fall) < max_fall)
            ok &= (-fall < max_rise) & np.isfinite(fall)
            if min_span > -np.inf:
                ok &= x[b] - x[a] > min_span
            flat[a0 : a0 + a.shape[0], b0:] = ok
    return flat


def trend_range(t: np.ndarray) -> np.ndarray:
    """r[a, b] = max(t[a..b]) - min(t[a..b]) for b >= a (and 0 below the diagonal)."""
    n = t.size
    tri = np.arange(n)[None, :] >= np.arange(n)[:, None]
    hi = np.maximum.accumulate(np.where(tri, t[None, :], -np.inf), axis=1)
    lo = np.minimum.accumulate(np.where(tri, t[None, :], np.inf), axis=1)
    return np.where(tri, hi - lo, 0.0)


def ranges_at(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``trend_range(t)[a, b]`` for the given pairs (``a <= b``) alone: two lookups each in a sparse table
    of running maxima and minima (a maximum over overlapping halves is the maximum, exactly)."""
    highs, lows = [t], [t]  # highs[k][i] = max(t[i : i + 2**k])
    while 2 ** len(highs) <= t.size:
        half = 2 ** (len(highs) - 1)
        highs.append(np.maximum(highs[-1][:-half], highs[-1][half:]))
        lows.append(np.minimum(lows[-1][:-half], lows[-1][half:]))
    out = np.empty(a.size)
    if not a.size:
        return out
    level = np.frexp(b - a + 1)[1] - 1  # floor(log2(length)), exactly
    for k in range(int(level.min()), int(level.max()) + 1):  # (np.unique would import numpy.ma)
        at = level == k
        lo_i, hi_i = a[at], b[at] - 2**k + 1
        out[at] = np.maximum(highs[k][lo_i], highs[k][hi_i]) - np.minimum(lows[k][lo_i], lows[k][hi_i])
    return out
