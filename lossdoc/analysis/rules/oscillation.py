"""oscillation — the loss swings far more than its trend moves.

What it means: around its smoothed trend, the training loss swings up and down by a large factor
(by default ±30% or more, robustly measured) at nearly every step, and those swings are larger
than the whole progress the trend makes. Normal minibatch noise is a few percent.

Why it matters: the optimiser is bouncing across the loss surface instead of descending it; the
final value depends on where the last swing landed.

What to do: lower the learning rate (a rate too high makes the loss jump around), use a larger
batch, add momentum or switch to Adam, and decay the rate over the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lossdoc.analysis.context import RunContext
from lossdoc.analysis.smoothing import robust_sigma, spread_stride
from lossdoc.analysis.types import Finding, Marks, grade

SLUG = "oscillation"
SEVERITY = "warning"


@dataclass(frozen=True)
class Params:
    min_swing: float = field(
        default=0.30,
        metadata={"doc": "Robust spread of the loss around its trend, as a ratio (0.30 = ±30%)."},
    )
    min_sign_changes: float = field(
        default=0.5,
        metadata={"doc": "At least this fraction of steps reverse direction (up-down-up), not a slow drift."},
    )
    trend_fraction: float = field(
        default=0.1,
        metadata={"doc": "The trend the swings are measured around: a running median over this fraction of the run."},
    )
    min_points: int = field(
        default=20,
        metadata={"doc": "Points needed to judge at all."},
    )


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    if p is None or p.n < params.min_points or not p.log_space:
        return []
    z = p.z
    tr = p.trend(params.trend_fraction, minimum=5)
    # The spread of the residuals is estimated from evenly strided points anyway: only those are computed.
    every = spread_stride(z.size)
    swing = robust_sigma(z[::every] - np.interp(p.x[::every], tr.x, tr.t))
    progress = float(np.max(tr.t) - np.min(tr.t))
    if swing < np.log1p(params.min_swing) or swing < 0.5 * progress:
        return []
    d = np.diff(z)
    up, down = d[1:] > 0, d[1:] < 0  # a reversal: a step up after a step down, or down after up
    turns = np.count_nonzero(up & (d[:-1] < 0)) + np.count_nonzero(down & (d[:-1] > 0))
    reversals = turns / (d.size - 1) if d.size > 1 else 0.0
    if reversals < params.min_sign_changes:
        return []
    ratio = float(np.exp(swing))
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            marks=Marks("hatch", "oscillation"),
            series=p.series.name,
            start=float(p.x[0]),
            end=float(p.x[-1]),
            message=(
                f"the training loss swings ±{ratio - 1:.0%} around its trend, reversing direction at "
                f"{reversals:.0%} of steps — more than the trend itself moves"
            ),
            advice=(
                "Lower the learning rate (by 3-10x), use a larger batch or momentum/Adam, and decay the "
                "rate over the run."
            ),
            # every point backs it; strength: how far the swing clears its threshold, in threshold units x4
            confidence=grade(p.n, 4.0 * swing / np.log1p(params.min_swing)),
            evidence={
                "swing_ratio": round(ratio, 3),
                "reversal_fraction": round(reversals, 3),
                "trend_range_ratio": round(float(np.exp(progress)), 3),
            },
        )
    ]
