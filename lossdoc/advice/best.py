"""The best stopping point: where the validation loss was lowest, and what stopping there saves."""

from __future__ import annotations

import math

import numpy as np

from lossdoc.advice.model import BestPoint
from lossdoc.analysis.context import share_after
from lossdoc.history import LossHistory


def best_point(history: LossHistory, x_best: float | None = None) -> BestPoint | None:
    """The run's best validation point and what the rest of the run did after it.

    ``x_best`` is the analysis' best point (``summary["best_val_x"]``: the lowest evaluation logged where
    the smoothed validation loss is lowest), so the advice quotes the point every other part of the report
    quotes; ``value`` is the loss logged there. Without it, the lowest logged value is used.

    ``saved_fraction`` is the share of the run after the best point, in x units, counting the first
    logged point as one interval of work (epochs 1..30 or 0..29 are both 30 epochs), so the best at
    epoch 12 of 1..30 saves 18/30 = 60%. ``final_value`` is the last validation value (None when the
    last check was NaN/Inf) and ``rise_pct`` how far above the best it ended (None when the best is 0
    or negative, where a ratio means nothing, or the end is not finite). ``after`` is the length of the
    run after the best point, in x units. None when the run has fewer than two finite validation values.
    """
    val = history.val
    if val is None:
        return None
    finite = np.isfinite(val.y)
    if int(finite.sum()) < 2:
        return None
    xv, yv = val.x[finite].astype(float), val.y[finite].astype(float)
    k = int(np.argmin(yv)) if x_best is None else int(np.argmin(np.abs(xv - x_best)))
    x_best, value = float(xv[k]), float(yv[k])
    _, x_end = history.x_range
    # Best at the last validation check: nothing measured after it, so nothing known to be saved. Checks
    # that came back NaN/Inf after it count: the run went on (and went wrong) after its best point.
    last = x_best >= float(val.x[-1])
    after = 0.0 if last else max(0.0, x_end - x_best)
    saved = 0.0 if last else share_after(history, x_best)
    # the run's last check: None when it came back NaN/Inf (the report says the run ended non-finite)
    final = float(val.y[-1]) if np.isfinite(val.y[-1]) else None
    rise = round((final / value - 1.0) * 100.0, 2) if value > 0 and final is not None else None
    return BestPoint(
        x=x_best,
        value=value,
        saved_fraction=round(float(saved), 4),
        final_value=final,
        rise_pct=rise if rise is not None and math.isfinite(rise) else None,
        after=float(after),
    )
