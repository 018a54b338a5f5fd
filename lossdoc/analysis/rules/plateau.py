"""plateau — the smoothed training loss improves by almost nothing over a long stretch.

What it means: over a contiguous stretch covering at least a quarter of the run, the smoothed
training loss never gets more than ~2% below where the stretch began. The finding says which kind:

* never learned — the loss is flat from the start: the model is not learning at all;
* stalled — the loss stopped improving mid-run, then improved again (often when the rate was cut);
* converged — the loss settled and the rest of the run added nothing.

Why it matters: a never-learning run wastes all of its compute; a stall wastes the stretch; a
converged run could have stopped earlier.

What to do: never learned — a learning rate too low (or far too high), dead activations or a bug
in labels/preprocessing: raise the rate, use Adam/RMSprop, check the data pipeline and the loss
function. Stalled — use a schedule (step decay, reduce-on-plateau, cosine) so the rate drops
sooner. Converged — stop earlier (early stopping) or, if the result is not good enough, use a
bigger model or better features.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss
from lossdoc.analysis.kernels import fitted_flat, flat_stretches, median, ranges_at, rolling_median
from lossdoc.analysis.rules import divergence
from lossdoc.analysis.smoothing import MEDIAN_SE, Prepared, Trend, bucket, diff_noise, trend_window
from lossdoc.analysis.types import STRONG_SIGMAS, Finding, Marks, grade

SLUG = "plateau"
SEVERITY = "warning"


@dataclass(frozen=True)
class Params:
    tolerance: float = field(
        default=0.02,
        metadata={"doc": "A flat stretch never improves more than this fraction below its starting level."},
    )
    min_fraction: float = field(
        default=0.25,
        metadata={"doc": "A plateau covers at least this fraction of the run's x range."},
    )
    smooth_fraction: float = field(
        default=0.08,
        metadata={
            "doc": ("Width of the running median that smooths the loss, as a fraction of the run (3 points at least).")
        },
    )
    noise_sigmas: float = field(
        default=0.0,
        metadata={
            "doc": (
                "The smoothed trend's band may widen to this many of its standard errors on noisy curves. 0: a "
                "band wider than the tolerance cannot show an improvement below the tolerance (a noisy per-step "
                "loss falling 10% a quarter stays inside a 5% band for a quarter of the run); noisy flat "
                "stretches are found by the fitted-line test below."
            )
        },
    )
    fit_sigmas: float = field(
        default=1.0,
        metadata={
            "doc": (
                "On a heavily noisy curve, the fitted-line test allows the fall to exceed the tolerance by this "
                "many standard errors..."
            )
        },
    )
    sure_sigmas: float = field(
        default=1.0,
        metadata={
            "doc": (
                "...and on any other curve the fitted fall plus this many standard errors must stay below it: of "
                "the many windows a noisy, slowly falling loss offers, the longest one whose fit happens to fall "
                "less than the tolerance is not flat (a per-step loss falling 7% a quarter with 8-25% noise per "
                'point found a "plateau" in 5 to 10 of 10 generated runs with the plain fit, none with one '
                "standard error)."
            )
        },
    )
    max_rise: float = field(
        default=1.25,
        metadata={
            "doc": ("...and rejects a stretch whose fitted line rises by more than this ratio (that is not flat).")
        },
    )
    band_fraction: float = field(
        default=0.5,
        metadata={
            "doc": ("...and falls by less than the tolerance or, on heavily noisy curves, this fraction of the noise:")
        },
    )
    heavy_noise: float = field(
        default=0.4,
        metadata={
            "doc": (
                "a curve is heavily noisy when the point-to-point noise exceeds this ratio (a visible band, e.g. "
                "a per-batch loss on a floor spanning a decade): then the eye judges flatness by the band, not by "
                "2%."
            )
        },
    )
    band_sigmas: float = field(
        default=4.0,
        metadata={"doc": "...and whose smoothed trend spans at most this many of its standard errors (no U shapes)."},
    )
    fit_points: int = field(
        default=300,
        metadata={"doc": "The fitted-line test runs on at most this many bucket medians (all pairs are tested)."},
    )
    min_points: int = field(
        default=4,
        metadata={
            "doc": (
                "A plateau holds at least this many logged points: fewer make no stretch (the confidence grades' "
                "few-points floor)."
            )
        },
    )
    never_learned_gain: float = field(
        default=0.10,
        metadata={"doc": "The whole run improves by less than this fraction: the model never learned."},
    )


def longest_flat(p: Prepared, tr: Trend, params: Params) -> tuple[float, float]:
    """The x range of the longest stretch that is flat by either test:

    * the smoothed trend never gets ``tolerance`` below where the stretch began (widened to the trend's
      own scatter on noisy curves), or
    * a line fitted to the points falls by less than ``tolerance`` over the stretch, within
      ``fit_sigmas`` standard errors — what the eye does with a noisy floor on a log scale.
    """
    base_tol = float(np.log1p(params.tolerance)) if p.log_space else params.tolerance
    tol = max(base_tol, params.noise_sigmas * tr.se)
    ends = flat_stretches(tr.t, tol)
    lengths = tr.x[np.minimum(ends, tr.t.size) - 1] - tr.x
    a = int(np.argmax(lengths))
    best = (float(tr.x[a]), float(tr.x[min(int(ends[a]), tr.t.size) - 1]))
    xf, zf = bucket(p.x, p.z, params.fit_points)
    if zf.size >= 8:
        # A fall smaller than the noise band itself is what the eye calls flat on a noisy floor.
        noise = diff_noise(zf)
        heavy = is_heavy(p, noise, params)
        tol_fit = max(base_tol, params.band_fraction * noise) if heavy else base_tol
        # A band that is not heavy: the fall must be shown below the tolerance (its fit plus sure_sigmas
        # standard errors), since the longest of many noisy windows fits flat by chance.
        sigmas = params.fit_sigmas if heavy else -params.sure_sigmas
        # Only stretches longer than the one found above can change the answer: only those are fitted.
        longer = best[1] - best[0]
        flat = fitted_flat(xf, zf, base_tol, sigmas, float(np.log(params.max_rise)), tol_fit, min_span=longer)
        # ...but a line through a U (falls, then rises back) is flat too: the smoothed trend must also stay
        # in a band no wider than its own scatter allows.
        w = trend_window(zf.size, params.smooth_fraction)
        tf = rolling_median(zf, w)
        ai, bi = np.nonzero(flat)  # in row-major order, as an argmax over the whole matrix meets them
        keep = ranges_at(tf, ai, bi) <= max(2 * tol_fit, params.band_sigmas * MEDIAN_SE * noise / np.sqrt(w))
        ai, bi = ai[keep], bi[keep]
        if ai.size:  # every pair left is longer than `longer` (fitted_flat's min_span)
            k = int(np.argmax(xf[bi] - xf[ai]))  # the first of the longest
            best = (float(xf[ai[k]]), float(xf[bi[k]]))
    return best


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    if p is None or p.n < 5:
        return []
    lo, hi = ctx.x_span
    span = hi - lo
    if span <= 0:
        return []
    blowup = divergence.verdict(ctx)
    if blowup is not None:
        # Only the run before a blow-up (and the slow creep into it) can plateau; a blown-up loss sitting
        # high is the divergence.
        keep = p.x < (blowup.onset_x if blowup.creep_x is None else blowup.creep_x)
        if keep.sum() < 5:
            return []
        p = Prepared.of(replace(p.series, x=p.x[keep], y=p.y[keep]))
    tr = p.trend(params.smooth_fraction)
    xb, t = tr.x, tr.t
    x0, x1 = longest_flat(p, tr, params)
    frac = float((x1 - x0) / span)
    if frac < params.min_fraction:
        return []
    a = int(np.searchsorted(xb, x0))
    b = min(int(np.searchsorted(xb, x1, side="right")) - 1, t.size - 1)
    seg = t[a : b + 1]
    logged = int(np.count_nonzero((p.x >= x0) & (p.x <= x1)))
    if logged < params.min_points:
        return []  # two or three points make no stretch: a 2-point "plateau" of a 5-point run is noise
    if seg.max() - t[a] > np.log(2.0):
        return []  # it blew up inside the stretch: divergence, not a plateau
    total_gain = float(1 - np.exp(t.min() - t[: max(1, t.size // 20)].max())) if p.log_space else 0.0
    later_gain = float(1 - np.exp(t[b:].min() - t[b])) if p.log_space and b < t.size - 1 else 0.0
    if blowup is None and b < t.size - 1 and p.log_space and later_gain < params.tolerance:
        # nothing improved after the stretch (a noisy floor can end its flat fit a little early): the run
        # converged there, and the stretch is the rest of the run
        b, frac, later_gain = t.size - 1, float((hi - x0) / span), 0.0
        seg = t[a:]
    level = float(p.to_value(median(seg)))
    # Before a blow-up the run never "converged": it stalled until it blew up.
    reaches_end = b >= t.size - 1 and blowup is None
    starts_at_beginning = (xb[a] - xb[0]) <= 0.1 * span
    if starts_at_beginning and (reaches_end or total_gain < params.never_learned_gain):
        kind, severity = "never-learned", "warning"
        msg = (
            f"the training loss never learned: it stays near {fmt_loss(level)} from the start "
            f"to {ctx.at(xb[b])} ({frac:.0%} of the run)"
        )
        advice = (
            "The model is not learning. Check labels and preprocessing and the loss function, raise the "
            "learning rate (or lower it if it is far too high), try Adam/RMSprop, and look for dead "
            "activations (e.g. all-ReLU layers with a bad initialisation)."
        )
    elif reaches_end:
        kind, severity = "converged", "info"
        msg = (
            f"the training loss converged at {ctx.at(xb[a])}: the last {frac:.0%} of the run improved it "
            f"by less than {params.tolerance:.0%} (level {fmt_loss(level)})"
        )
        advice = (
            f"Training after {ctx.at(xb[a])} bought almost nothing: stop earlier (early stopping) to "
            "save compute; if the loss is still too high, a bigger model or better features will help "
            "more than more steps."
        )
    else:
        kind, severity = "stalled", "warning"
        if blowup is not None and later_gain < params.tolerance:
            crept = "" if blowup.creep_x is None else f" crept up from {ctx.at(blowup.creep_x)} and"
            after = f", until the loss{crept} blew up at {ctx.at(blowup.onset_x)}"
        elif later_gain < params.tolerance:
            after = ", and did not improve after it"
        else:
            after = f", then improved {later_gain:.0%} further"
        msg = (
            f"the training loss stalled from {ctx.at(xb[a])} to {ctx.at(xb[b])} ({frac:.0%} of the run) "
            f"near {fmt_loss(level)}{after}"
        )
        advice = (
            "A learning-rate schedule that reacts sooner (reduce-on-plateau with a shorter patience, "
            "step decay or cosine) would have cut this stall short."
        )
    return [
        Finding(
            rule=SLUG,
            severity=severity,
            series=p.series.name,
            start=float(xb[a]),
            end=float(xb[b]),
            message=msg,
            advice=advice,
            confidence=_confidence(p, logged, params),
            marks=Marks("shade", f"plateau ({kind})"),
            evidence={
                "kind": kind,
                "fraction": round(frac, 3),
                "level": level,
                "improvement_in_stretch": round(float(1 - np.exp(seg.min() - t[a])), 4) if p.log_space else None,
                "improvement_after": round(later_gain, 4),
                "tolerance": params.tolerance,
                "total_improvement": round(total_gain, 4),
            },
        )
    ]


def is_heavy(p: Prepared, noise: float, params: Params) -> bool:
    """A heavily noisy curve (see ``heavy_noise``): its flatness is judged by its band, as the eye does."""
    return p.log_space and noise >= np.log1p(params.heavy_noise)


def _confidence(p: Prepared, logged: int, params: Params) -> str:
    """How many points show the stretch decides, once it was shown flat at the tolerance; on a heavily
    noisy curve it was judged by its band (as the eye does), not at the tolerance: medium at most."""
    _, zf = bucket(p.x, p.z, params.fit_points)
    heavy = zf.size >= 8 and is_heavy(p, diff_noise(zf), params)
    level = grade(logged, STRONG_SIGMAS)
    return "medium" if heavy and level == "high" else level
