"""still-improving — the run stopped too early: the loss that matters was still clearly falling.

What it means: the loss that matters is the validation loss when it is logged with enough points to
show a trend (five or more, and not too noisy to read), else the training loss. Over the last part of
the run a robust straight line (Theil–Sen, in log space) through it falls by a clear amount and by
several standard errors, the fall is sustained (the stretch twice as long fell at least as much) and
still going on in the last points, and the run ends at its best level (not while recovering from a
blow-up). When validation decides, the training loss must not be flat either. An overfitting run is
never still improving: more epochs would lower the training loss, not the validation loss.

Why it matters: more training would likely give a better model for little extra cost; comparing
this run against others that trained longer is not a fair comparison.

What to do: train longer (more epochs or steps) or with a slightly higher learning rate; if the run
was cut by early stopping, increase its patience; resume from the last checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss
from lossdoc.analysis.kernels import median, row_medians
from lossdoc.analysis.rules import overfitting
from lossdoc.analysis.smoothing import MAD_TO_SIGMA, Prepared
from lossdoc.analysis.types import Finding, Marks, grade

SLUG = "still-improving"
SEVERITY = "info"


@dataclass(frozen=True)
class Params:
    tail_fraction: float = field(
        default=0.2,
        metadata={"doc": "The end of the run that is judged, as a fraction of its x range (4 points at least)."},
    )
    min_tail_points: int = field(
        default=4,
        metadata={"doc": "The tail holds at least this many points (short runs: a slope needs points to be trusted)."},
    )
    min_drop: float = field(
        default=0.03,
        metadata={"doc": "The fitted training loss falls at least this fraction over that tail..."},
    )
    min_t: float = field(
        default=2.0,
        metadata={"doc": "...by at least this many standard errors of the fitted slope."},
    )
    sure_t: float = field(
        default=5.0,
        metadata={"doc": "A smaller fall also counts as clear when it is this many standard errors strong..."},
    )
    sure_drop_factor: float = field(
        default=0.5,
        metadata={"doc": "...at least this fraction of the minimum fall (of training or validation loss)..."},
    )
    min_share: float = field(
        default=0.05,
        metadata={"doc": "...and visible on the curve's own scale: at least this share of its whole smoothed range."},
    )
    sustain_share: float = field(
        default=0.8,
        metadata={
            "doc": (
                "Over twice the tail the loss fell at least this share of the tail's own fall: a sustained fall, "
                "not the downswing of an oscillation."
            )
        },
    )
    borrow_min_t: float = field(
        default=1.0,
        metadata={
            "doc": (
                "A sustained fall whose tail alone is this many standard errors strong is judged with the longer "
                "stretch's standard errors (its slope is measured on twice the points)."
            )
        },
    )
    borrow_max_points: int = field(
        default=20,
        metadata={
            "doc": (
                "...but only a tail of fewer than this many points borrows (a run under 100 points at the default "
                "tail): a t statistic from so few noisy points is itself unreliable. A longer tail shows its own "
                "significance, and borrowing there would let an earlier, steeper fall vouch for a tail gone flat."
            )
        },
    )
    last_min_points: int = field(
        default=8,
        metadata={
            "doc": ("The end-of-tail check below runs only when the last half of the tail holds this many points:")
        },
    )
    last_t: float = field(
        default=0.0,
        metadata={
            "doc": ("Over the last half of that tail the fitted slope still falls by this many standard errors...")
        },
    )
    last_min_drop: float = field(
        default=0.005,
        metadata={"doc": "...and by at least this fraction..."},
    )
    last_share: float = field(
        default=0.05,
        metadata={
            "doc": ("...and this share of the whole tail's fall (a fall that has died out leaves almost none there)...")
        },
    )
    last_sigmas: float = field(
        default=2.0,
        metadata={
            "doc": (
                "...where the shortfall against half the tail's fall is this many standard errors of the last "
                "half's fall: a real stop, not noise (2 sigma: about one noisy flat-looking end in forty passes "
                "as a stop)."
            )
        },
    )
    val_min_drop: float = field(
        default=0.025,
        metadata={
            "doc": ("Validation loss (when logged and not overfitting) falls at least this fraction over the tail...")
        },
    )
    val_min_t: float = field(
        default=1.5,
        metadata={"doc": "...by at least this many standard errors..."},
    )
    val_min_points: int = field(
        default=5,
        metadata={
            "doc": (
                "Validation loss logged at this many points or more shows a trend, and is the loss that is judged "
                "(a run with 3 or 4 evaluations leaves the decision to the training loss)."
            )
        },
    )
    train_min_drop: float = field(
        default=0.01,
        metadata={
            "doc": (
                "When validation loss decides, the training loss must still fall at least this fraction over the "
                "tail or its last half: a flat training loss means the run has stopped learning, whatever the "
                "validation loss does."
            )
        },
    )
    val_max_noise: float = field(
        default=0.1,
        metadata={
            "doc": (
                "...unless it is too noisy to read: the standard error of its fall over the tail is above this "
                "(in judging units, about 10%), and the training loss decides alone."
            )
        },
    )
    max_above_best: float = field(
        default=0.25,
        metadata={
            "doc": ("The run must end within this fraction of its best smoothed level (not recovering from a blow-up).")
        },
    )


@dataclass(frozen=True)
class TailFit:
    drop: float  # fractional fall of the fitted line over the tail (0.05 = 5% lower at the end)
    t: float  # slope / standard error (positive = falling)
    end_above_best: float  # fitted end level relative to the best smoothed level (0.1 = 10% above)
    points: int  # how many (bucketed) points the line was fitted to
    inside: int  # how many of them lie inside the tail (the rest were added to reach the minimum)
    share: float  # the fall as a share of the curve's whole smoothed range in judging space
    fall_se: float  # standard error of the fall, in judging units
    fall: float = 0.0  # the fall itself, in judging units (log space: -log of the end/start ratio)


MAX_PAIR_POINTS = 200
"""Theil–Sen takes the median over all pairs of points; longer tails are first averaged down to this."""


@lru_cache(maxsize=64)
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs i < j of n points (a run's fits reuse the same few sizes)."""
    return np.triu_indices(n, 1)


def tail_fit(p: Prepared, tail_fraction: float, min_points: int = 4) -> TailFit | None:
    """A robust line through the last ``tail_fraction`` of the run, in judging space.

    The slope is Theil–Sen's (the median of all pairwise slopes), so one spike or one bad epoch in a
    short tail does not tilt it; its standard error comes from the residuals' spread, taken robustly
    (MAD) but never below 0.7 of their plain standard deviation, since a MAD of four or five residuals
    can be near zero by chance.
    """
    xb, zb = p.buckets
    if zb.size < 5 or xb[-1] <= xb[0]:
        return None
    sel = xb >= xb[-1] - tail_fraction * (xb[-1] - xb[0])
    inside = int(sel.sum())
    if inside < min_points:
        sel[-min_points:] = True
    x, z = xb[sel], zb[sel]
    n = int(z.size)
    if n > MAX_PAIR_POINTS:
        k = -(-n // MAX_PAIR_POINTS)
        m = (n // k) * k
        x, z = x[n - m :].reshape(-1, k).mean(axis=1), row_medians(z[n - m :].reshape(-1, k))
    i, j = _pairs(int(z.size))
    dx = x[j] - x[i]
    ok = dx > 0
    if not ok.any():
        return None
    slope = median((z[j] - z[i])[ok] / dx[ok])
    level = median(z - slope * x)
    resid = z - level - slope * x
    xc = x - x.mean()
    sxx = float(xc @ xc)
    mad_sigma = MAD_TO_SIGMA * median(np.abs(resid))
    sd_sigma = float(np.sqrt((resid @ resid) / max(1, z.size - 2)))
    se = max(mad_sigma, 0.7 * sd_sigma) / np.sqrt(sxx) if sxx > 0 else 0.0
    fall = -slope * (x[-1] - x[0])
    end = level + slope * x[-1]
    best, top = p.level_range
    span = top - best
    if p.log_space:
        drop, above = float(1 - np.exp(-fall)), float(np.exp(end - best) - 1)
    else:
        drop, above = fall, end - best
    t = -slope / se if se > 0 else (np.inf if slope < 0 else 0.0)
    share = fall / span if span > 0 else 0.0
    return TailFit(drop, float(t), above, n, inside, share, se * float(x[-1] - x[0]), float(fall))


def clearly_falling(fit: TailFit, longer: TailFit | None, min_drop: float, min_t: float, params: Params) -> bool:
    """A clear fall: big enough and several standard errors strong; or smaller but unmistakable (many
    standard errors) and a visible part of the curve's own range, as a reader of the plot sees it.

    A tail that continues a sustained fall over twice its length, and points the same way on its own,
    is judged with that longer stretch's strength: on a short noisy run the tail's five points cannot
    show significance that the ten before them plainly have."""
    t = fit.t
    if (
        longer is not None
        and fit.points < params.borrow_max_points
        and sustained(fit, longer, params)
        and fit.t >= params.borrow_min_t
    ):
        t = max(t, longer.t)
    if fit.drop >= min_drop and t >= min_t:
        return True
    return fit.drop >= params.sure_drop_factor * min_drop and t >= params.sure_t and fit.share >= params.min_share


def sustained(fit: TailFit, longer: TailFit, params: Params) -> bool:
    """The stretch twice as long as the tail fell at least (nearly) as much as the tail itself."""
    return longer.drop >= params.sustain_share * fit.drop


def still_falling(p: Prepared, params: Params, min_drop: float, min_t: float) -> TailFit | None:
    """The tail fit of a series that is still clearly falling when the run ends, or None.

    Clearly falling (:func:`clearly_falling`), ending near its best level (not recovering from a
    blow-up), sustained over twice the tail, and still falling in the last half of the tail where that
    half holds points enough for a slope (on a 40-epoch run its 4 noisy points say nothing)."""
    fit = tail_fit(p, params.tail_fraction, params.min_tail_points)
    if (
        fit is None
        or fit.drop < params.sure_drop_factor * min_drop  # no clear fall however strong (cheap test first)
        or fit.end_above_best > params.max_above_best
    ):
        return None
    longer = tail_fit(p, 2 * params.tail_fraction, params.min_tail_points)
    if not clearly_falling(fit, longer, min_drop, min_t, params) or (
        longer is not None and not sustained(fit, longer, params)
    ):
        return None
    last = tail_fit(p, params.tail_fraction / 2, params.last_min_points)
    if last is not None and last.inside >= params.last_min_points and died_out(fit, last, params):
        return None  # the fall happened early in the tail (e.g. a learning-rate step) and has stopped
    return fit


def died_out(fit: TailFit, last: TailFit, params: Params) -> bool:
    """The last half of the tail fell clearly less than the tail's own pace predicts: less than
    ``last_share`` of the tail's fall (and ``last_min_drop``), short of half the tail's fall by more
    than ``last_sigmas`` standard errors of the last half's fall. Noise alone never makes a fall die
    out: on a noisy validation curve the last 30 points can look flat by chance."""
    small = last.t < params.last_t or last.drop < max(params.last_min_drop, params.last_share * fit.drop)
    return small and fit.fall / 2 - last.fall > params.last_sigmas * last.fall_se


def _fall_text(p: Prepared, fit: TailFit) -> str:
    """``4.2% lower``; a negative loss has no percentage, so its fall is quoted in its own units."""
    return f"{fit.drop:.1%} lower" if p.log_space else f"{fmt_loss(float(p.to_value(fit.drop)))} lower"


def check(ctx: RunContext, params: Params) -> list[Finding]:
    """Judge the loss that matters: validation when it is logged with points enough to show a trend
    (and is readable), else training. An overfitting run is never still improving: more epochs would
    lower the training loss, not the validation loss."""
    overfit = overfitting.verdict(ctx)
    if overfit is not None:
        return []
    p, v = ctx.train, ctx.val
    h = ctx.history.train if p is not None else ctx.history.val
    if h is None or h.y.size == 0 or not np.isfinite(h.y[-1]):
        return []
    use_val = False
    noisy_val = False
    if v is not None and v.n >= params.val_min_points:
        vfit = tail_fit(v, params.tail_fraction, params.min_tail_points)
        noisy_val = vfit is not None and vfit.fall_se > params.val_max_noise
        use_val = vfit is not None and not noisy_val
    if use_val:
        fit = still_falling(v, params, params.val_min_drop, params.val_min_t)
        if fit is None:
            return []
        tfit = tail_fit(p, params.tail_fraction, params.min_tail_points) if p is not None and p.n >= 5 else None
        if tfit is not None:
            tlast = tail_fit(p, params.tail_fraction / 2, params.min_tail_points)
            falls = max(tfit.drop, tlast.drop if tlast is not None else 0.0)
            if falls < params.train_min_drop or tfit.end_above_best > params.max_above_best:
                return []  # the training loss is flat at the end (or far above its best): training has stalled
        judged = v
        what = "the validation loss was still falling when the run ended"
        extra = f"; the training loss ended {_fall_text(p, tfit)} over the same stretch" if tfit is not None else ""
    else:
        tfit = None
        judged = p if p is not None else v
        if judged is None or judged.n < 5:
            return []
        fit = still_falling(judged, params, params.min_drop, params.min_t)
        if fit is None:
            return []
        role = "training" if judged is p else "validation"
        what = f"the {role} loss was still falling when the run ended"
        extra = "; validation loss is too noisy at the end to tell its trend" if noisy_val else ""
    lo, hi = ctx.x_span
    # The first logged point of the judged tail (not a computed x that was never logged).
    tail = judged.x[judged.x >= hi - params.tail_fraction * (hi - lo)]
    start = float(tail[0]) if tail.size else hi
    msg = f"{what}: {_fall_text(judged, fit)} over the last {params.tail_fraction:.0%} of the run{extra}"
    advice = (
        "Train longer (more epochs or steps), resuming from the last checkpoint; if early stopping "
        "ended the run, raise its patience."
    )
    series = p.series.name if p is not None else judged.series.name
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=series,
            start=float(start),
            end=float(hi),
            message=msg,
            advice=advice,
            confidence=grade(fit.points, fit.t),
            marks=Marks("tint", "still improving at the end"),
            evidence={
                "tail_drop_pct": round(fit.drop * 100, 2),
                "tail_fraction": params.tail_fraction,
                "train_tail_drop_pct": round(tfit.drop * 100, 2) if use_val and tfit is not None else None,
                "slope_t": round(fit.t, 2),
                "judged": judged.series.name,
                "validation_overfitting": False,
            },
        )
    ]
