"""divergence — the training loss blows up and stays far above its earlier minimum.

What it means: after making progress, the smoothed training loss climbs back to (or above) where
it started, or to several times its best value, and stays there for a sustained stretch. Unlike a
loss spike, it does not come back down. It is judged on a spike-proof running median in log space,
so the same thresholds hold for a loss of 1e-4 and of 1e4.

Why it matters: once a run diverges, the steps after the blow-up only undo what was learned; the
weights from before the blow-up are the best the run will give.

What to do: lower the learning rate (the most common cause), add or lengthen warm-up, clip
gradients, and check the data around the blow-up for bad batches. Resume from a checkpoint taken
before the onset rather than restarting from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss, fmt_ratio
from lossdoc.analysis.kernels import median
from lossdoc.analysis.smoothing import MEDIAN_SE, diff_noise
from lossdoc.analysis.types import Finding, Marks, grade

SLUG = "divergence"
SEVERITY = "error"


@dataclass(frozen=True)
class Params:
    min_ratio: float = field(
        default=3.0,
        metadata={
            "doc": (
                'The smoothed loss must reach this multiple of its running minimum ("several times its minimum")...'
            )
        },
    )
    return_fraction: float = field(
        default=0.8,
        metadata={"doc": "...or win back this fraction of all progress made (in log space) since the start,"},
    )
    min_return_ratio: float = field(
        default=1.5,
        metadata={"doc": "while being at least this multiple of the running minimum."},
    )
    sustain_fraction: float = field(
        default=0.08,
        metadata={"doc": "The blown-up state lasts at least this fraction of the run's points..."},
    )
    sustain_points: int = field(
        default=3,
        metadata={"doc": "...and at least this many points (the smoothed trend, so a lone spike never counts)."},
    )
    smooth_fraction: float = field(
        default=0.03,
        metadata={"doc": "Width of the running median that makes the trend spike-proof, as a fraction of the run."},
    )
    noise_sigmas: float = field(
        default=4.0,
        metadata={
            "doc": ("The rise must also exceed this many standard errors of the smoothed trend (noisy floors wander).")
        },
    )
    onset_fraction: float = field(
        default=0.1,
        metadata={
            "doc": (
                "The onset is the last point before the blow-up within this fraction of the rise from the minimum..."
            )
        },
    )
    onset_max_ratio: float = field(
        default=1.2,
        metadata={
            "doc": ("...but never more than this ratio above the minimum (a huge blow-up starts where it leaves it)...")
        },
    )
    onset_sigmas: float = field(
        default=3.0,
        metadata={
            "doc": ("...or within this many standard errors of the trend (measured before the rise), if that is more.")
        },
    )
    creep_slope_ratio: float = field(
        default=5.0,
        metadata={
            "doc": (
                "A climb that bends from a slow creep into a steep blow-up starts at the bend when the steep part "
                "rises at least this many times faster (in log space) than the creep before it..."
            )
        },
    )
    creep_max_share: float = field(
        default=0.25,
        metadata={"doc": "...and the creep made at most this share of the climb from the minimum to the peak."},
    )


@dataclass(frozen=True)
class Blowup:
    """Where the blow-up starts (x), the best point before it, and how far it went (loss units)."""

    onset_x: float
    end_x: float
    creep_x: float | None  # where a slow creep before the steep blow-up left the minimum, if there was one
    best_x: float
    min_loss: float
    end_loss: float
    peak_ratio: float  # peak_loss / min_loss (the rise in the loss's units when it can be negative)
    peak_loss: float
    sustained_fraction: float
    recovered: bool
    sigmas: float = float("inf")  # the largest rise in standard errors of the trend before it


def detect(ctx: RunContext, params: Params) -> Blowup | None:
    """The first sustained blow-up of the training loss, or None. Other rules consult it."""
    p = ctx.train
    if p is None or p.n < 5:
        return None
    tr = p.trend(params.smooth_fraction)
    xb, t = tr.x, tr.t
    run_min = np.minimum.accumulate(t)
    start_level = median(t[: max(1, min(3, t.size // 10))])
    gap = t - run_min
    progress = np.maximum(start_level - run_min, 0.0)
    far = (gap >= np.log(params.min_ratio)) | (
        (gap >= params.return_fraction * progress) & (gap >= np.log(params.min_return_ratio))
    )
    need = max(params.sustain_points, int(np.ceil(params.sustain_fraction * t.size)))
    ends_non_finite = _ends_non_finite(ctx)
    first = None
    for a, b in _true_runs(far):
        # Beyond what the trend's own scatter could produce, judged by the noise *before* the rise
        # (a noisy floor wanders; a blow-up's own chaos must not hide it).
        se = tr.se if a < 6 else MEDIAN_SE * diff_noise(p.buckets[1][:a]) / np.sqrt(tr.window)
        ok = gap[a:b] >= params.noise_sigmas * se
        # A blow-up that runs into a NaN/Inf tail never recovers: it is sustained however short it is.
        runs = [(a + i, a + j) for i, j in _true_runs(ok) if j - i >= need or (ends_non_finite and a + j == t.size)]
        if runs:
            first = runs[0]
            break
    if first is None:
        return None
    a, b = first
    m = int(np.argmin(t[: a + 1]))  # the best point before the blow-up
    top_z = float(t[a:b].max())
    peak_ratio = float(np.exp(top_z - run_min[a])) if p.log_space else float(top_z - run_min[a])
    base = run_min[a]
    rise = t[a] - base
    # Onset: walk back from the first blown-up point to where the climb left the minimum,
    # then refine on the raw points: the first one past the onset threshold in that stretch.
    # Near the minimum = within a small fraction of the rise, or within the trend's own scatter before it
    # (a noisy creep is not yet the blow-up; a clean slow climb starts where it leaves the minimum).
    near = max(min(params.onset_fraction * rise, np.log(params.onset_max_ratio)), params.onset_sigmas * se)
    near_min = np.flatnonzero(t[: a + 1] - base <= near)
    j = int(near_min[-1]) if near_min.size else 0
    raw_sel = (p.x >= xb[j]) & (p.x <= xb[a]) & (p.z - base > near)
    onset_x = float(p.x[np.argmax(raw_sel)]) if raw_sel.any() else float(xb[min(j + 1, a)])
    creep_x = None
    # the climb ends where it first comes close to its peak (not at a noisy maximum late in a high plateau)
    top = t[m] + 0.9 * (float(t[a:b].max()) - t[m])
    peak = a + int(np.argmax(t[a:b] >= top))
    bend = _bend(xb[m : peak + 1], t[m : peak + 1], params)
    if bend is not None and bend > onset_x:
        later = p.x[p.x >= bend]
        creep_x, onset_x = onset_x, float(later[0]) if later.size else bend
    return Blowup(
        onset_x=onset_x,
        end_x=float(xb[b - 1]),
        creep_x=creep_x,
        best_x=float(xb[m]),
        min_loss=float(p.to_value(base)),
        end_loss=float(p.to_value(t[b - 1])),
        peak_ratio=peak_ratio,
        peak_loss=float(p.to_value(top_z)),
        sustained_fraction=(b - a) / t.size,
        recovered=b < t.size,
        sigmas=float(gap[a:b].max() / se) if se > 0 else float("inf"),
    )


def verdict(ctx: RunContext, params: Params | None = None) -> Blowup | None:
    """The run's blow-up, judged once per run with the thresholds of the call (``params``, default the
    call's own) whichever rule asks first: plateau and loss-spike consult it."""
    found: Blowup | None = ctx.memo(SLUG, lambda: detect(ctx, params or ctx.params(SLUG, Params)))
    return found


def check(ctx: RunContext, params: Params) -> list[Finding]:
    d = verdict(ctx, params)
    if d is None or ctx.train is None:
        return []
    shape = f"before partly recovering to {fmt_loss(d.end_loss)}" if d.recovered else "and stays there"
    creep = f", after a slow creep up since {ctx.at(d.creep_x)}" if d.creep_x is not None else ""
    # peak / minimum is the quoted ratio; a loss that can be negative has none (its rise is quoted in units)
    by = fmt_ratio(d.peak_ratio) + " its minimum" if ctx.train.log_space else f"+{fmt_loss(d.peak_ratio)}"
    msg = (
        f"training loss blows up from {ctx.at(d.onset_x)}{creep}: the smoothed loss climbs from its minimum "
        f"{fmt_loss(d.min_loss)} to {fmt_loss(d.peak_loss)} at its peak ({by}) {shape}"
    )
    advice = (
        f"Lower the learning rate (by 3-10x), add or lengthen warm-up, and clip gradients; check the "
        f"data around {ctx.at(d.onset_x)} for bad batches. Resume from a checkpoint at or before "
        f"{ctx.at(d.best_x)} (the best point before the blow-up) instead of restarting."
    )
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=ctx.train.series.name,
            start=d.onset_x,
            end=d.end_x,
            message=msg,
            advice=advice,
            # a blow-up into NaN/Inf is certain however short; else the run's points and the rise decide
            confidence="high" if not d.recovered and _ends_non_finite(ctx) else grade(ctx.train.n, d.sigmas),
            # the first sign of trouble is where the creep towards the blow-up began, when there was one
            marks=Marks(
                "onset",
                "divergence from",
                at=d.onset_x,
                points=(d.onset_x,),
                events=(("creep", float(d.creep_x)),) if d.creep_x is not None else (("divergence", d.onset_x),),
            ),
            evidence={
                "min_loss": d.min_loss,
                "min_x": d.best_x,
                "peak_ratio_to_min": round(d.peak_ratio, 3),
                "peak_loss": d.peak_loss,
                "end_loss": d.end_loss,
                "sustained_fraction": round(d.sustained_fraction, 3),
                "recovered": d.recovered,
                "creep_from_x": d.creep_x,
            },
        )
    ]


BEND_POINTS = 400
"""The climb is thinned to at most this many trend points before the bend is searched for."""


def _bend(x: np.ndarray, z: np.ndarray, params: Params) -> float | None:
    """Where a climb from the minimum (x, z: trend in log space) bends from a slow creep into a steep
    rise, or None when it climbs at one pace (or bends the other way).

    A continuous two-piece line is fitted for every candidate bend (least squares, all candidates at
    once); the best one counts only when the steep part is ``creep_slope_ratio`` times steeper and the
    creep made at most ``creep_max_share`` of the whole climb.
    """
    if x.size < 7:
        return None
    if x.size > BEND_POINTS:
        keep = np.linspace(0, x.size - 1, BEND_POINTS).round().astype(int)  # sorted, spaced more than 1 apart
        x, z = x[keep], z[keep]
    n = x.size
    xk = x[2 : n - 2, None]
    u = np.minimum(x - xk, 0.0)  # the creep's part of each candidate line
    v = np.maximum(x - xk, 0.0)  # the steep part's
    normal = np.empty((xk.size, 3, 3))
    normal[:, 0, 0] = n
    normal[:, 0, 1] = normal[:, 1, 0] = u.sum(axis=1)
    normal[:, 0, 2] = normal[:, 2, 0] = v.sum(axis=1)
    normal[:, 1, 1] = (u * u).sum(axis=1)
    normal[:, 2, 2] = (v * v).sum(axis=1)
    normal[:, 1, 2] = normal[:, 2, 1] = 0.0
    rhs = np.stack([np.full(xk.size, z.sum()), u @ z, v @ z], axis=1)
    try:
        coef = np.linalg.solve(normal, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return None
    sse = ((coef[:, :1] + coef[:, 1:2] * u + coef[:, 2:3] * v - z) ** 2).sum(axis=1)
    k = int(np.argmin(sse))
    creep, steep = float(coef[k, 1]), float(coef[k, 2])
    climb = float(z.max() - z[0])
    bend = float(xk[k, 0])
    if steep <= 0 or climb <= 0 or steep < params.creep_slope_ratio * max(creep, 0.0):
        return None
    if max(creep, 0.0) * (bend - x[0]) > params.creep_max_share * climb:
        return None
    return bend


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) index ranges where ``mask`` is True."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _ends_non_finite(ctx: RunContext) -> bool:
    raw = ctx.history.train
    return raw is not None and raw.y.size > 0 and not np.isfinite(raw.y[-1])
