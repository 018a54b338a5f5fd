"""overfitting — validation loss bottoms out and rises while training loss keeps falling.

What it means: the smoothed validation loss reaches its minimum and then rises in a sustained way
— it ends clearly above its minimum (by default 5%), or stays above it for a long stretch (20% of
the run) — while the training loss keeps falling or stays flat. The finding's ``start`` is the best
point: the lowest evaluation logged where the smoothed validation loss is lowest (never a spike beside
it), where early stopping should have stopped.

Why it matters: every step after the best point makes the model worse on data it has not seen
while costing compute; the final checkpoint is not the best one.

What to do: stop at the best point (early stopping with ``restore_best_weights``/
``load_best_model_at_end``); then fight the cause: more or augmented data, a smaller model, L2
weight decay, dropout, mixup or label smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss
from lossdoc.analysis.kernels import median, rolling_median, window_span
from lossdoc.analysis.smoothing import Prepared, trend_window
from lossdoc.analysis.types import Finding, Marks, grade

SLUG = "overfitting"
SEVERITY = "warning"


@dataclass(frozen=True)
class Params:
    min_rise: float = field(
        default=0.05,
        metadata={"doc": "Smoothed validation loss ends at least this fraction above its minimum..."},
    )
    long_rise_fraction: float = field(
        default=0.20,
        metadata={"doc": "...or stays above its minimum for at least this fraction of the run,"},
    )
    long_rise_min: float = field(
        default=0.02,
        metadata={"doc": "while ending at least this fraction above the minimum."},
    )
    noise_sigmas: float = field(
        default=2.0,
        metadata={"doc": "The rise must also exceed this many validation-noise sigmas (noisy validation curves)."},
    )
    train_tolerance: float = field(
        default=0.05,
        metadata={"doc": "Training loss after the best point may rise at most this fraction (more is divergence)."},
    )
    smooth_fraction: float = field(
        default=0.06,
        metadata={"doc": "Width of the running median that smooths validation loss (3 points at least)."},
    )
    min_points: int = field(
        default=4,
        metadata={"doc": "Validation points needed to judge at all."},
    )
    first_min_train_fall: float = field(
        default=0.05,
        metadata={
            "doc": (
                "Validation lowest at the first evaluation counts only when the training loss fell at least this "
                "fraction after it: the model is learning the training set while getting worse on held-out data "
                "(a fine-tune that overfits from its first epoch), not failing to learn at all."
            )
        },
    )


def smoothed_val(v: Prepared, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    xb, zb = v.buckets
    return xb, rolling_median(zb, smoothing_window(zb.size, fraction))


def smoothing_window(n: int, fraction: float) -> int:
    """The running median's width over ``n`` (bucketed) validation points: none under seven."""
    return trend_window(n, fraction) if n >= 7 else 1


@dataclass(frozen=True)
class BestVal:
    """The run's best validation point. Every report quotes this one point (summary, header, finding,
    advice, plot), with the loss logged there and the smoothed level there."""

    x: float
    logged: float
    smoothed: float
    index: int  # into the smoothed (bucketed) validation series: where it is lowest
    smoothed_x: float  # where that is: what the verdict measures the run and the training loss from
    first: bool  # the smoothed validation loss is lowest at the first evaluation, or the point quoted is it


def best_val(ctx: RunContext) -> BestVal | None:
    """The run's best validation point (computed once per run), or None without validation loss.

    Where the smoothed validation loss is lowest decides *when* the model was best; the point quoted is
    the lowest evaluation logged among those that smoothed minimum is the median of: a checkpoint
    that exists, and never a spike that happens to sit at the smoothed minimum (a median of three
    around a spike is its lower neighbour, and the spike itself was quoted as "best").
    """

    def compute() -> BestVal | None:
        v = ctx.val
        if v is None:
            return None
        fraction = ctx.params(SLUG, Params).smooth_fraction
        xv, sv = smoothed_val(v, fraction)
        k = int(np.argmin(sv))
        lo, hi = v.bucketed_span(*window_span(sv.size, smoothing_window(sv.size, fraction), k))
        i = lo + int(np.argmin(v.z[lo:hi]))
        return BestVal(float(v.x[i]), float(v.y[i]), float(v.to_value(sv[k])), k, float(xv[k]), k == 0 or i == 0)

    return ctx.memo("best_val", compute)


@dataclass(frozen=True)
class Overfit:
    """The numbers behind an overfitting verdict (in the loss's own units)."""

    best_x: float
    best_val: float  # smoothed, at best_x
    best_logged: float  # logged at best_x
    final_val: float  # smoothed level at the end
    end_x: float
    rise_ratio: float  # final_val / best_val (1 + rise in the loss's units for a non-positive loss)
    after_fraction: float  # the share of the run after best_x (what stopping there saves)
    train_change: float | None
    from_first: bool  # validation was lowest at the first evaluation
    val_points: int
    strength: float  # the rise in standard errors of the smoothed end level


def detect(ctx: RunContext, params: Params) -> Overfit | None:
    """The overfitting verdict for a run, or None. Other rules consult it (see still-improving)."""
    v, tr = ctx.val, ctx.train
    if v is None or v.n < params.min_points:
        return None
    best = best_val(ctx)
    xv, sv = smoothed_val(v, params.smooth_fraction)
    k = best.index
    end_level = median(sv[-max(1, sv.size // 10) :])
    rise = end_level - sv[k]
    after = sv[k + 1 :]
    if after.size < 2:
        return None
    noise = v.curvature_noise
    above = float(np.mean(after > sv[k] + max(noise, 1e-12)))
    rise_ratio = float(np.exp(rise)) if v.log_space else 1 + rise
    run_frac = ctx.span_fraction(best.smoothed_x, float(xv[-1]))
    big = rise_ratio - 1 >= params.min_rise
    long = run_frac >= params.long_rise_fraction and rise_ratio - 1 >= params.long_rise_min and above >= 0.7
    se = noise / np.sqrt(max(1, after.size / 3))
    if not (big or long) or rise < params.noise_sigmas * se:
        return None
    train_change = None
    if tr is not None:
        xt, tt = smoothed_val(tr, 0.05)
        at_best = float(np.interp(best.smoothed_x, xt, tt))
        train_end = median(tt[-max(1, tt.size // 10) :])
        if train_end - at_best > np.log1p(params.train_tolerance):
            return None  # training loss rises too: divergence or instability, not overfitting
        train_change = float(np.exp(train_end - at_best) - 1) if tr.log_space else None
        if best.first and (train_change is None or train_change > -params.first_min_train_fall):
            return None  # worse from the first evaluation on while training does not learn: not overfitting
    elif best.first:
        return None  # validation only, never better than at its start: nothing says the model learned
    return Overfit(
        best.x,
        best.smoothed,
        best.logged,
        float(v.to_value(end_level)),
        float(xv[-1]),
        rise_ratio,
        ctx.share_after(best.x),
        train_change,
        best.first,
        v.n,
        float(rise / se) if se > 0 else float("inf"),
    )


def train_text(change: float | None) -> str:
    """`` while training loss fell 57%`` / ``fell 120x`` / ``stayed flat``."""
    if change is None:
        return ""
    if abs(change) < 0.01:
        return " while training loss stayed flat"
    if change > 0:
        return f" while training loss rose only {change:.0%}"
    if change > -0.9:
        return f" while training loss fell {-change:.0%}"
    return f" while training loss fell {1 / max(1 + change, 1e-300):.0f}x"


def rise_text(o: Overfit, v: Prepared) -> str:
    """How far the smoothed validation loss ended above its minimum: ``+66%`` (``val_rise_pct``, the
    same number) or, for a loss that can be negative, the rise in its own units."""
    if v.log_space:
        return f"{(o.rise_ratio - 1) * 100:+.1f}%"
    return f"+{fmt_loss(o.final_val - o.best_val)}"


def confidence(o: Overfit) -> str:
    """high: eight or more evaluations and a rise of four standard errors or more; medium: fewer
    evaluations (a fine-tune evaluated once per epoch) or a rise of two to four; else low."""
    return grade(o.val_points, o.strength)


def verdict(ctx: RunContext, params: Params | None = None) -> Overfit | None:
    """The run's overfitting, judged once per run with the thresholds of the call (``params``, default
    the call's own) whichever rule asks first: still-improving consults it."""
    found: Overfit | None = ctx.memo(SLUG, lambda: detect(ctx, params or ctx.params(SLUG, Params)))
    return found


def check(ctx: RunContext, params: Params) -> list[Finding]:
    o = verdict(ctx, params)
    if o is None or ctx.val is None:
        return []
    v = ctx.val
    after_count = int(np.sum(v.x > o.best_x))
    at_first = o.from_first and o.best_x == float(v.x[0])
    at = ctx.at(o.best_x)
    first = f"its first evaluation, {at}" if at_first else f"{at}, among its first evaluations"
    where = first if o.from_first else ctx.at(o.best_x)
    best = fmt_loss(o.best_val)
    logged = "" if fmt_loss(o.best_logged) == best else f", logged {fmt_loss(o.best_logged)}"
    msg = (
        f"validation loss was lowest at {where} (smoothed {best}{logged}); over the {o.after_fraction:.0%} "
        f"of the run after it, the smoothed loss rose {rise_text(o, v)} to {fmt_loss(o.final_val)}"
        f"{train_text(o.train_change)}"
    )
    if ctx.train is None:
        msg += "; no training loss is logged, so the rise of the validation loss is judged alone"
    if o.from_first:
        advice = (
            f"The model was best at {first}: keep that checkpoint "
            "(load_best_model_at_end / restore_best_weights), and train fewer epochs, with a lower learning "
            "rate or more regularisation (weight decay, dropout; for a fine-tune, fewer trainable "
            "parameters such as a smaller LoRA rank)."
        )
    else:
        advice = (
            f"Stop at {ctx.at(o.best_x)}: early stopping (restore_best_weights / load_best_model_at_end) keeps "
            f"the best model and saves {o.after_fraction:.0%} of the run. Then reduce overfitting: more or "
            "augmented data, a smaller model, weight decay (L2), dropout, or mixup."
        )
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=ctx.val.series.name,
            start=o.best_x,
            end=o.end_x,
            message=msg,
            advice=advice,
            confidence=confidence(o),
            marks=Marks("after", "overfitting (after the best point)"),
            evidence={
                "best_x": o.best_x,
                "best_val": o.best_val,
                "best_val_logged": o.best_logged,
                "final_val": o.final_val,
                "val_rise_pct": round((o.rise_ratio - 1) * 100, 1),
                "after_best_fraction": round(o.after_fraction, 2),
                "val_points_after_best": after_count,
                "train_change_pct": round(o.train_change * 100, 2) if o.train_change is not None else None,
                "from_first_evaluation": o.from_first,
                "rise_sigmas": round(min(o.strength, 1e6), 2),
            },
        )
    ]
