"""The signals :mod:`lossdoc.advice.causes` reads around a loss event, one function each: where the loss
moved, the gradient norm against its running median, a collapse of the loss scale, and what the
learning rate did (warm-up end, a schedule step up, a warm-up still climbing). Their thresholds are
:class:`Params`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lossdoc.advice import lr as lr_notes
from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.kernels import median
from lossdoc.history import LossHistory, Series


@dataclass(frozen=True)
class Params:
    grad_ratio: float = 8.0
    """The gradient norm leads when it stands this many times over its running median: a clipped run's
    norm wanders within about 2-3x of its median; 8x (three doublings) is no fluctuation, and it is the
    size of the gradient spikes that precede loss spikes in published large-model logs."""
    flat_ratio: float = 2.0
    """The gradient norm is flat when it stays under this many times its running median around the
    event: ordinary batch-to-batch variation of the norm stays within about 2x."""
    loss_moved: float = 0.5
    """The loss has moved at the first point where it has made this share (in log space) of its jump
    from its running median to the event's value: that point, not the peak, is where it moved."""
    lead_points: int = 2
    """How many logged points before the loss moved a leading signal may come: a couple of logging
    intervals; further back, a signal is a different event."""
    reference_points: int = 20
    """The running median a signal is compared with is over this many logged points before it: long
    enough that one spike does not move it, short enough to follow a schedule."""
    min_reference_points: int = 3
    """Fewer points than this before an event give no running median: no comparison is made."""
    scale_collapse: float = 64.0
    """A loss scale collapsed when it fell this many times below its running maximum (six halvings of a
    dynamic scaler in a row): single halvings happen every few hundred steps in healthy fp16 runs."""
    step_up: float = 1.0 / lr_notes.PARAMS.cut_ratio
    """A schedule step up: the rate rises by this factor from one logged point to the next (the inverse
    of :data:`lossdoc.advice.lr.Params.cut_ratio`, the step cut the learning-rate notes use)."""


PARAMS = Params()


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """The series' points (the series given to the helpers below are already :func:`cleaned`)."""
    return s.x, s.y


def cleaned(s: Series | None, positive: bool = False) -> Series | None:
    """The finite points of a series (and only its positive ones: a norm or a scale of 0 is no
    reference), as float arrays, once per run: every event is then read from the same arrays."""
    if s is None:
        return None
    x, y = np.asarray(s.x, dtype=float), np.asarray(s.y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if positive:
        keep &= y > 0
    return Series(s.name, s.role, x[keep], y[keep])


def _ref_median(y: np.ndarray, i: int, params: Params) -> float | None:
    """The running median of the points before index ``i``."""
    lo = max(0, i - params.reference_points)
    if i - lo < params.min_reference_points:
        return None
    return median(y[lo:i])


def _window(s: Series, at: float, params: Params) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """The series' points, the index of its last point at or before ``at``, and the first index of the
    :data:`Params.lead_points` before that; None when no point is at or before ``at``."""
    x, y = _finite(s)
    if y.size == 0:
        return None
    i = int(np.searchsorted(x, at, side="right")) - 1
    if i < 0:
        return None
    return x, y, i, max(0, i - params.lead_points)


def loss_moved_at(loss: Series, xe: float, params: Params) -> float:
    """The x where the loss moved on its way to the event at ``xe``: the first of the points up to
    :data:`Params.lead_points` before it that made :data:`Params.loss_moved` of the jump (log space)."""
    window = _window(loss, xe, params)
    if window is None:
        return xe
    x, y, i, lo = window
    ref = _ref_median(y, lo, params)
    if ref is None or ref <= 0 or np.any(y[lo : i + 1] <= 0):
        return float(x[i])
    jump = np.log(y[lo : i + 1] / ref)
    top = float(jump.max())
    if top <= 0:
        return float(x[i])
    k = int(np.flatnonzero(jump >= params.loss_moved * top)[0])
    return float(x[lo + k])


def grad_at(grad: Series, moved: float, params: Params, until: float | None = None) -> dict[str, Any] | None:
    """The gradient norm around the point where the loss moved: its ratio to the running median before
    the window, where it first crossed :data:`Params.grad_ratio`, and its largest ratio from there to
    ``until`` (else one point after the loss moved)."""
    window = _window(grad, moved, params)
    if window is None:
        return None
    x, y, i, lo = window
    ref = _ref_median(y, lo, params)
    if ref is None or ref <= 0:
        return None
    ratios = y[lo : i + 1] / ref
    # one point after the loss moved shows a norm that follows the loss (it is no lead, but it is not flat)
    stop = i + 2 if until is None else max(i + 2, int(np.searchsorted(x, until, side="right")))
    after = y[i + 1 : stop] / ref
    over = np.flatnonzero(ratios >= params.grad_ratio)
    peak = float(max(ratios.max(), after.max() if after.size else 0.0))
    if over.size:
        k = lo + int(over[0])
        return {"leads": True, "x": float(x[k]), "ratio": float(y[k] / ref), "peak_ratio": peak, "median": ref}
    k = lo + int(np.argmax(ratios))
    return {"leads": False, "x": float(x[k]), "ratio": float(ratios.max()), "peak_ratio": peak, "median": ref}


def scale_collapse(scale: Series, moved: float, params: Params) -> dict[str, Any] | None:
    window = _window(scale, moved, params)
    if window is None or window[2] < 1:
        return None
    x, y, i, lo = window
    top = float(np.max(y[max(0, lo - params.reference_points) : lo + 1]))
    last = y[lo : i + 1]
    low = float(last.min())
    if low <= 0 or top / low < params.scale_collapse:
        return None
    k = lo + int(np.argmin(last))
    return {"x": float(x[k]), "ratio": top / low}


def lr_reason(
    lr: Series, xe: float, moved: float, rule: str, history: LossHistory, params: Params
) -> dict[str, Any] | None:
    """Why the learning rate is to blame for an event, or None: the end of warm-up, a schedule step up,
    or a warm-up still climbing far above its start (the same tests as the learning-rate notes)."""
    x, y = _finite(lr)
    if y.size < 3 or np.any(y < 0):
        return None
    p = lr_notes.PARAMS
    x_name = history.x_name
    span = history.x_range
    peak = float(y.max())
    k = int(np.flatnonzero(y >= peak * 0.999)[0])
    x_peak = float(x[k])
    # "just after" the peak: within as many steps as the warm-up took (a spike 99,000 steps after a
    # 1,000-step warm-up is not its doing), and within the learning-rate notes' share of the run
    reach = min(p.after_peak_fraction * max(span[1] - span[0], 1e-12), max(x_peak - float(x[0]), 1.0))
    # a warm-up often starts at 0 (the Trainer logs 0.0 at step 1): its start is its first positive rate
    positive = y[y > 0]
    y0 = float(positive[0]) if positive.size else 0.0
    warmed = y0 > 0 and y0 <= peak / p.warmup_rise
    lower = f"lower the peak rate (to about {lr_notes._fv(peak / 3)}, a third) or lengthen warm-up (twice as long)"
    # a rate that jumps to its peak in one logged step was stepped up by the schedule, not warmed up
    jumped = k >= 1 and y[k] >= params.step_up * y[k - 1]
    if x_peak <= xe <= x_peak + reach and (warmed or k > 0) and not jumped:
        what = "warm-up ended" if warmed else "the rate reached its peak"
        return {
            "x": x_peak,
            "ratio": peak / y0 if y0 > 0 else 0.0,
            "why": (
                f"the loss {lr_notes._KIND[rule]} {fmt_x(xe - x_peak)} {x_name}s after {what} "
                f"({x_name} {fmt_x(x_peak)}, rate {lr_notes._fv(peak)})"
            ),
            "fix": lower,
        }
    j = int(np.searchsorted(x, moved, side="right")) - 1
    if j >= 1:
        ups = np.flatnonzero(y[1 : j + 1] >= params.step_up * y[:j]) + 1
        ups = ups[x[ups] >= xe - reach]
        if ups.size:
            u = int(ups[-1])
            return {
                "x": float(x[u]),
                "ratio": float(y[u] / y[u - 1]),
                "why": (
                    f"the schedule stepped the rate up {y[u] / y[u - 1]:.3g}x at {x_name} {fmt_x(x[u])} "
                    f"({lr_notes._fv(y[u - 1])} to {lr_notes._fv(y[u])}), just before"
                ),
                "fix": f"keep the rate at or below {lr_notes._fv(y[u - 1])} after that step, or ramp it up slowly",
            }
        rising = y0 > 0 and y[j] >= p.warmup_rise * y0 and y[j] >= y[j - 1]
        if rule in ("divergence", "creep", "non-finite") and xe < x_peak and rising:
            return {
                "x": float(x[j]),
                "ratio": float(y[j] / y0),
                "why": f"the rate was still rising, at {lr_notes._fv(y[j])} ({y[j] / y0:.3g}x its start)",
                "fix": f"keep the peak rate well below {lr_notes._fv(y[j])}, or lengthen warm-up",
            }
    return None


def steps_around(loss: Series, xe: float) -> tuple[float, float]:
    """The logged steps from the point before the event to the event: the batches to skip."""
    x, _ = _finite(loss)
    i = int(np.searchsorted(x, xe, side="left"))
    a = float(x[i - 1]) + 1 if i >= 1 and float(x[i - 1]).is_integer() else xe
    return min(a, xe), xe
