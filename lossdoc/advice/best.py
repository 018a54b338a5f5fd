"""The best stopping point: where the validation loss was lowest, and what stopping there saves."""

from __future__ import annotations

from typing import Any

import numpy as np

from lossdoc.analysis.smoothing import median
from lossdoc.history import LossHistory, Series


def best_point(history: LossHistory) -> dict[str, Any] | None:
    """Where the logged validation loss was lowest and what the rest of the run did after it.

    ``saved_fraction`` is the share of the run after the best point, in x units, counting the first
    logged point as one interval of work (epochs 1..30 or 0..29 are both 30 epochs), so the best at
    epoch 12 of 1..30 saves 18/30 = 60%. ``final_value`` is the last finite validation value and
    ``rise_pct`` how far above the best it ended (None when the best is 0 or negative, where a ratio
    means nothing). ``after`` is the length of the run after the best point, in x units. None when
    the run has fewer than two finite validation values.
    """
    val = history.val
    if val is None:
        return None
    finite = np.isfinite(val.y)
    if int(finite.sum()) < 2:
        return None
    xv, yv = val.x[finite].astype(float), val.y[finite].astype(float)
    k = int(np.argmin(yv))
    x_best, value = float(xv[k]), float(yv[k])
    _, x_end = history.x_range
    x_end = max(float(x_end), float(val.x[-1]))
    origin = run_origin(history)
    span = x_end - origin
    # Best at the last validation check: nothing measured after it, so nothing known to be saved.
    after = 0.0 if k == yv.size - 1 else max(0.0, x_end - x_best)
    final = float(yv[-1])
    return {
        "x": x_best,
        "value": value,
        "saved_fraction": round(after / span, 4) if span > 0 else 0.0,
        "final_value": final,
        "rise_pct": round((final / value - 1.0) * 100.0, 2) if value > 0 else None,
        "after": after,
    }


def run_origin(history: LossHistory) -> float:
    """Where the run's work begins: one logging interval before the first logged x."""
    ref: Series | None = history.train if history.train is not None and len(history.train) > 1 else history.val
    lo, _ = history.x_range
    if ref is None or ref.x.size < 2:
        return lo
    steps = np.diff(ref.x.astype(float))
    if steps.size and steps.min() == steps.max() > 0:
        return lo - float(steps[0])  # evenly logged: the median without sorting a million steps
    steps = steps[steps > 0]
    return lo - (median(steps) if steps.size else 0.0)
