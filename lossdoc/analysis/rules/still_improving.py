"""still-improving — the loss was still clearly falling when the run ended.

What it means: over the last part of the run a straight line fitted to the training loss (in log
space) falls by a clear amount and by several standard errors, the run ends at its best level (not
while recovering from a blow-up), and the validation loss — when logged and not overfitting — is
falling clearly too. When validation loss is overfitting, only the training loss is judged.

Why it matters: more training would likely give a better model for little extra cost; comparing
this run against others that trained longer is not a fair comparison.

What to do: train longer (more epochs or steps) or with a slightly higher learning rate; if the run
was cut by early stopping, increase its patience; resume from the last checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss
from lossdoc.analysis.rules import overfitting
from lossdoc.analysis.smoothing import Prepared, rolling_median, trend_window
from lossdoc.analysis.types import Finding

SLUG = "still-improving"
SEVERITY = "info"


@dataclass(frozen=True)
class Params:
    tail_fraction: float = 0.2
    """The end of the run that is judged, as a fraction of its x range (4 points at least)."""
    min_tail_points: int = 4
    """The tail holds at least this many points (short runs: a slope needs points to be trusted)."""
    min_drop: float = 0.03
    """The fitted training loss falls at least this fraction over that tail..."""
    min_t: float = 2.0
    """...by at least this many standard errors of the fitted slope."""
    last_min_points: int = 8
    """The end-of-tail check below runs only when the last half of the tail holds this many points:"""
    last_t: float = 0.0
    """Over the last half of that tail the fitted slope still falls by this many standard errors."""
    last_min_drop: float = 0.01
    """...and by at least this fraction."""
    val_min_drop: float = 0.025
    """Validation loss (when logged and not overfitting) falls at least this fraction over the tail..."""
    val_min_t: float = 1.5
    """...by at least this many standard errors."""
    max_above_best: float = 0.25
    """The run must end within this fraction of its best smoothed level (not recovering from a blow-up)."""


@dataclass(frozen=True)
class TailFit:
    drop: float  # fractional fall of the fitted line over the tail (0.05 = 5% lower at the end)
    t: float  # slope / standard error (positive = falling)
    end_above_best: float  # fitted end level relative to the best smoothed level (0.1 = 10% above)
    points: int  # how many (bucketed) points the line was fitted to


def tail_fit(p: Prepared, tail_fraction: float, min_points: int = 4) -> TailFit | None:
    """A least-squares line through the last ``tail_fraction`` of the run, in judging space."""
    xb, zb = p.buckets
    if zb.size < 5 or xb[-1] <= xb[0]:
        return None
    sel = xb >= xb[-1] - tail_fraction * (xb[-1] - xb[0])
    if sel.sum() < min_points:
        sel[-min_points:] = True
    x, z = xb[sel], zb[sel]
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0:
        return None
    slope = float(xc @ (z - z.mean())) / sxx
    resid = z - z.mean() - slope * xc
    se = float(np.sqrt((resid @ resid) / max(1, z.size - 2) / sxx))
    fall = -slope * (x[-1] - x[0])
    end = z.mean() + slope * (x[-1] - x.mean())
    best = float(rolling_median(zb, trend_window(zb.size)).min())
    if p.log_space:
        drop, above = float(1 - np.exp(-fall)), float(np.exp(end - best) - 1)
    else:
        drop, above = fall, end - best
    t = -slope / se if se > 0 else (np.inf if slope < 0 else 0.0)
    return TailFit(drop, float(t), above, int(z.size))


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    h = ctx.history.train
    if p is None or p.n < 5 or h is None or not np.isfinite(h.y[-1]):
        return []
    fit = tail_fit(p, params.tail_fraction, params.min_tail_points)
    if fit is None or fit.drop < params.min_drop or fit.t < params.min_t or fit.end_above_best > params.max_above_best:
        return []
    # Still falling at the very end, judged only where the last half of the tail has points enough for a
    # slope (on a 40-epoch run its 4 noisy points say nothing).
    last = tail_fit(p, params.tail_fraction / 2, params.last_min_points)
    if (
        last is not None
        and last.points >= params.last_min_points
        and (last.t < params.last_t or last.drop < params.last_min_drop)
    ):
        return []  # the fall happened early in the tail (e.g. a learning-rate step) and has stopped
    val_text = ""
    v = ctx.val
    overfit = ctx.memo("overfitting", lambda: overfitting.detect(ctx, ctx.params("overfitting")))
    if overfit is not None and overfit.rise_ratio - 1 < ctx.params("overfitting").min_rise:
        return []  # a long but mild rise: validation has flattened out, so more training would not help
    if v is not None and v.n >= 5 and overfit is None:
        vfit = tail_fit(v, params.tail_fraction)
        if vfit is not None and (vfit.drop < params.val_min_drop or vfit.t < params.val_min_t):
            return []
        vlast = tail_fit(v, params.tail_fraction / 2, params.last_min_points)
        if vlast is not None and vlast.points >= params.last_min_points and vlast.t <= -params.val_min_t:
            return []  # validation has turned up at the very end
        if vfit is not None:
            val_text = f"; validation loss fell {vfit.drop:.1%} over the same stretch"
    lo, hi = ctx.x_span
    # The first logged point of the judged tail (not a computed x that was never logged).
    tail = p.x[p.x >= hi - params.tail_fraction * (hi - lo)]
    start = float(tail[0]) if tail.size else hi
    # A negative loss has no percentage: its fall is quoted in the loss's own units.
    by = f"{fit.drop:.1%} lower" if p.log_space else f"{fmt_loss(float(p.to_value(fit.drop)))} lower"
    msg = (
        f"the training loss was still falling when the run ended: {by} over the last "
        f"{params.tail_fraction:.0%} of the run{val_text}"
    )
    advice = (
        "Train longer (more epochs or steps), resuming from the last checkpoint; if early stopping "
        "ended the run, raise its patience."
    )
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=p.series.name,
            start=float(start),
            end=float(hi),
            message=msg,
            advice=advice,
            evidence={"tail_drop_pct": round(fit.drop * 100, 2), "slope_t": round(fit.t, 2)},
        )
    ]
