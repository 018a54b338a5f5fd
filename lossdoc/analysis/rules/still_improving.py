"""still-improving — the loss was still clearly falling when the run ended.

What it means: over the last part of the run the smoothed training loss kept dropping at a rate
well above its noise (and the validation loss, when logged, was falling too, not rising). The run
was stopped before it converged.

Why it matters: more training would likely give a better model for little extra cost; comparing
this run against others that trained longer is not a fair comparison.

What to do: train longer (more epochs or steps) or with a slightly higher learning rate; if the run
was cut by early stopping, increase its patience; resume from the last checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.context import RunContext
from lossdoc.analysis.smoothing import Prepared, rolling_median
from lossdoc.analysis.types import Finding

SLUG = "still-improving"
SEVERITY = "info"


@dataclass(frozen=True)
class Params:
    tail_fraction: float = 0.2
    """The end of the run that is judged, as a fraction of its x range."""
    min_drop: float = 0.03
    """The smoothed training loss falls at least this fraction over that tail..."""
    last_drop: float = 0.005
    """...and is still falling over the final half of the tail by at least this fraction."""
    noise_sigmas: float = 3.0
    """The drop exceeds this many noise sigmas of the tail's level estimate."""
    val_max_rise: float = 0.0
    """Validation loss (when logged) must not rise over the tail by more than this fraction."""


def tail_drop(p: Prepared, tail_fraction: float) -> tuple[float, float, float] | None:
    """(drop over the tail, drop over its last half, noise of a level estimate) in judging space."""
    xb, zb = p.buckets
    if zb.size < 5:
        return None
    span = xb[-1] - xb[0]
    if span <= 0:
        return None
    w = max(3, round(zb.size * 0.05) | 1)
    t = rolling_median(zb, min(w, 2 * (zb.size // 4) + 1))
    x0 = xb[-1] - tail_fraction * span
    xm = xb[-1] - tail_fraction * span / 2
    tail = xb >= x0
    if tail.sum() < 3:
        tail = np.zeros(zb.size, dtype=bool)
        tail[-3:] = True
    # Level at the start and end of the tail from robust local medians (not single points).
    m = max(1, int(tail.sum()) // 4)
    idx = np.flatnonzero(tail)
    start_level = float(np.median(t[idx[:m]]))
    end_level = float(np.median(t[idx[-m:]]))
    mid = np.flatnonzero(xb >= xm)
    mid_level = float(np.median(t[mid[: max(1, mid.size // 2)]])) if mid.size else start_level
    noise = p.noise / np.sqrt(max(1.0, m * max(1, p.n // max(1, zb.size))))
    return start_level - end_level, mid_level - end_level, noise


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    if p is None or p.n < 5:
        return []
    got = tail_drop(p, params.tail_fraction)
    if got is None:
        return []
    drop, last, noise = got
    drop_frac = float(1 - np.exp(-drop)) if p.log_space else drop
    last_frac = float(1 - np.exp(-last)) if p.log_space else last
    if drop_frac < params.min_drop or last_frac < params.last_drop or drop < params.noise_sigmas * noise:
        return []
    val_text = ""
    if ctx.val is not None and ctx.val.n >= 5:
        vgot = tail_drop(ctx.val, params.tail_fraction)
        if vgot is not None:
            vdrop = float(1 - np.exp(-vgot[0])) if ctx.val.log_space else vgot[0]
            if vdrop < -params.val_max_rise:
                return []
            val_text = f"; validation loss fell {vdrop:.1%} over the same stretch"
    lo, hi = ctx.x_span
    start = hi - params.tail_fraction * (hi - lo)
    msg = (
        f"the training loss was still falling when the run ended: {drop_frac:.1%} lower over the last "
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
            evidence={"tail_drop_pct": round(drop_frac * 100, 2), "last_half_drop_pct": round(last_frac * 100, 2)},
        )
    ]
