"""overfitting — validation loss bottoms out and rises while training loss keeps falling.

What it means: the smoothed validation loss reaches its minimum and then rises in a sustained way
— it ends clearly above its minimum (by default 5%), or stays above it for a long stretch (20% of
the run) — while the training loss keeps falling or stays flat. The finding's ``start`` is where
the smoothed validation loss is lowest: where early stopping should have stopped.

Why it matters: every step after the best point makes the model worse on data it has not seen
while costing compute; the final checkpoint is not the best one.

What to do: stop at the best point (early stopping with ``restore_best_weights``/
``load_best_model_at_end``); then fight the cause: more or augmented data, a smaller model, L2
weight decay, dropout, mixup or label smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss
from lossdoc.analysis.smoothing import Prepared, rolling_median, trend_window
from lossdoc.analysis.types import Finding

SLUG = "overfitting"
SEVERITY = "warning"


@dataclass(frozen=True)
class Params:
    min_rise: float = 0.05
    """Smoothed validation loss ends at least this fraction above its minimum..."""
    long_rise_fraction: float = 0.20
    """...or stays above its minimum for at least this fraction of the run,"""
    long_rise_min: float = 0.02
    """while ending at least this fraction above the minimum."""
    noise_sigmas: float = 2.0
    """The rise must also exceed this many validation-noise sigmas (noisy validation curves)."""
    train_tolerance: float = 0.05
    """Training loss after the best point may rise at most this fraction (more is divergence)."""
    smooth_fraction: float = 0.06
    """Width of the running median that smooths validation loss (3 points at least)."""
    min_points: int = 4
    """Validation points needed to judge at all."""


def smoothed_val(v: Prepared, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    xb, zb = v.buckets
    return xb, rolling_median(zb, trend_window(zb.size, fraction)) if zb.size >= 7 else zb


@dataclass(frozen=True)
class Overfit:
    """The numbers behind an overfitting verdict (in the loss's own units)."""

    best_x: float
    best_val: float
    final_val: float
    end_x: float
    rise_ratio: float
    after_fraction: float
    train_change: float | None


def detect(ctx: RunContext, params: Params) -> Overfit | None:
    """The overfitting verdict for a run, or None. Other rules consult it (see still-improving)."""
    v, tr = ctx.val, ctx.train
    if v is None or v.n < params.min_points:
        return None
    xv, sv = smoothed_val(v, params.smooth_fraction)
    k = int(np.argmin(sv))
    best_x = float(xv[k])
    end_level = float(np.median(sv[-max(1, sv.size // 10) :]))
    rise = end_level - sv[k]
    after = sv[k + 1 :]
    if after.size < 2 or k == 0:
        return None  # k == 0: validation never got better than where it started; nothing was learned
    run_frac = ctx.span_fraction(best_x, float(xv[-1]))
    noise = v.curvature_noise
    above = float(np.mean(after > sv[k] + max(noise, 1e-12)))
    rise_ratio = float(np.exp(rise)) if v.log_space else 1 + rise
    big = rise_ratio - 1 >= params.min_rise
    long = run_frac >= params.long_rise_fraction and rise_ratio - 1 >= params.long_rise_min and above >= 0.7
    if not (big or long) or rise < params.noise_sigmas * noise / np.sqrt(max(1, after.size / 3)):
        return None
    train_change = None
    if tr is not None:
        xt, tt = smoothed_val(tr, 0.05)
        at_best = float(np.interp(best_x, xt, tt))
        train_end = float(np.median(tt[-max(1, tt.size // 10) :]))
        if train_end - at_best > np.log1p(params.train_tolerance):
            return None  # training loss rises too: divergence or instability, not overfitting
        train_change = float(np.exp(train_end - at_best) - 1) if tr.log_space else None
    return Overfit(
        best_x,
        float(v.to_value(sv[k])),
        float(v.to_value(end_level)),
        float(xv[-1]),
        rise_ratio,
        run_frac,
        train_change,
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


def check(ctx: RunContext, params: Params) -> list[Finding]:
    o = ctx.memo(SLUG, lambda: detect(ctx, params))
    if o is None or ctx.val is None:
        return []
    v = ctx.val
    after_count = int(np.sum(v.x > o.best_x))
    # The message quotes logged values (the smoothed ones decide, and are in the evidence), so it agrees
    # with the log and with the run's best-point advice.
    best_logged = float(v.y[int(np.argmin(np.abs(v.x - o.best_x)))])
    final_logged = float(v.y[-1])
    # A percentage only means something for a positive loss (a negative ELBO-style loss has none).
    by = f" {final_logged / best_logged - 1:+.0%}" if best_logged > 0 else ""
    msg = (
        f"validation loss was lowest at {ctx.at(o.best_x)} ({fmt_loss(best_logged)}); the {o.after_fraction:.0%} "
        f"of the run after it raised it{by} to {fmt_loss(final_logged)}{train_text(o.train_change)}"
    )
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
            evidence={
                "best_x": o.best_x,
                "best_val": o.best_val,
                "final_val": o.final_val,
                "val_rise_pct": round((o.rise_ratio - 1) * 100, 2),
                "after_best_fraction": round(o.after_fraction, 3),
                "val_points_after_best": after_count,
                "train_change_pct": round(o.train_change * 100, 2) if o.train_change is not None else None,
            },
        )
    ]
