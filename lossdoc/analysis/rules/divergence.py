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

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss
from lossdoc.analysis.smoothing import rolling_median
from lossdoc.analysis.types import Finding

SLUG = "divergence"
SEVERITY = "error"


@dataclass(frozen=True)
class Params:
    min_ratio: float = 3.0
    """The smoothed loss must reach this multiple of its running minimum ("several times its minimum")..."""
    return_fraction: float = 0.8
    """...or win back this fraction of all progress made (in log space) since the start,"""
    min_return_ratio: float = 1.5
    """while being at least this multiple of the running minimum."""
    sustain_fraction: float = 0.08
    """The blown-up state lasts at least this fraction of the run's points..."""
    sustain_points: int = 3
    """...and at least this many points (the smoothed trend, so a lone spike never counts)."""
    smooth_fraction: float = 0.03
    """Width of the running median that makes the trend spike-proof, as a fraction of the run."""
    onset_fraction: float = 0.15
    """The onset is the last point before the blow-up within this fraction of the rise from the minimum."""


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    if p is None or p.n < 5:
        return []
    xb, zb = p.buckets
    w = max(3, round(zb.size * params.smooth_fraction) | 1)
    t = rolling_median(zb, min(w, 2 * (zb.size // 4) + 1))
    run_min = np.minimum.accumulate(t)
    start_level = float(np.median(t[: max(1, min(3, t.size // 10))]))
    gap = t - run_min
    progress = np.maximum(start_level - run_min, 0.0)
    blown = (gap >= np.log(params.min_ratio)) | (
        (gap >= params.return_fraction * progress) & (gap >= np.log(params.min_return_ratio))
    )
    need = max(params.sustain_points, int(np.ceil(params.sustain_fraction * t.size)))
    runs = _true_runs(blown)
    sustained = [(a, b) for a, b in runs if b - a >= need]
    if not sustained:
        return []
    a, b = sustained[0]
    peak_ratio = float(np.exp(gap[a:b].max())) if p.log_space else float(gap[a:b].max())
    base = run_min[a]
    rise = t[a] - base
    # Onset: walk back from the first blown-up point to where the climb left the minimum.
    before = np.flatnonzero(t[: a + 1] - base <= params.onset_fraction * rise)
    j = int(before[-1]) if before.size else 0
    onset_idx = min(j + 1, a) if j < a else a
    # Refine on the raw points: the first raw point past the onset threshold in [x_j, x_a].
    lo, hi = xb[j], xb[a]
    raw_sel = (p.x >= lo) & (p.x <= hi) & (p.z - base > params.onset_fraction * rise)
    onset_x = float(p.x[np.argmax(raw_sel)]) if raw_sel.any() else float(xb[onset_idx])
    best_x = float(xb[int(np.argmin(t[: a + 1]))])
    min_val = float(p.to_value(base))
    end_val = float(p.to_value(t[b - 1]))
    recovered = b < t.size
    shape = "and stays there" if not recovered else "for a sustained stretch before partly recovering"
    msg = (
        f"training loss blows up from {ctx.at(onset_x)}: the smoothed loss climbs from its minimum "
        f"{fmt_loss(min_val)} to {fmt_loss(end_val)} ({peak_ratio:.1f}x at its peak) {shape}"
    )
    advice = (
        f"Lower the learning rate (by 3-10x), add or lengthen warm-up, and clip gradients; check the "
        f"data around {ctx.at(onset_x)} for bad batches. Resume from a checkpoint at or before "
        f"{ctx.at(best_x)} (the best point before the blow-up) instead of restarting."
    )
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=p.series.name,
            start=onset_x,
            end=float(xb[b - 1]),
            message=msg,
            advice=advice,
            evidence={
                "min_loss": min_val,
                "min_x": best_x,
                "peak_ratio_to_min": round(peak_ratio, 3),
                "sustained_fraction": round((b - a) / t.size, 3),
                "recovered": recovered,
            },
        )
    ]


def _true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, end) index ranges where ``mask`` is True."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))
