"""non-finite — a loss value is NaN or Inf.

What it means: the training (or validation) loss became NaN or infinite. Every step after the first
NaN usually trains nothing: the weights are NaN too, and the run is lost from that point.

Why it matters: a NaN loss is the most common way a run silently wastes its remaining compute.
Frameworks keep logging after it unless told to stop (Keras ``TerminateOnNaN``, Lightning
``EarlyStopping(check_finite=True)``).

What to do: lower the learning rate or add warm-up; clip gradients (``clipnorm``/
``gradient_clip_val``/``max_grad_norm``); look for NaN/Inf or extreme values in the inputs and
labels; guard ``log(0)`` and division by zero in a custom loss; with mixed precision, keep dynamic
loss scaling on. Add a stop-on-NaN callback so the next failure costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_loss, hidden_nan
from lossdoc.analysis.types import Finding, Marks

SLUG = "non-finite"
SEVERITY = "error"


@dataclass(frozen=True)
class Params:
    """non-finite has nothing to tune: one NaN or Inf is a finding."""


ADVICE = (
    "Lower the learning rate or add warm-up, clip gradients, check inputs and labels "
    "for NaN/Inf, guard log(0) in the loss, and stop on NaN (Keras TerminateOnNaN, "
    "Lightning EarlyStopping(check_finite=True)) so the next failure costs nothing."
)


def check(ctx: RunContext, params: Params) -> list[Finding]:
    findings = _loss_findings(ctx)
    if not any(f.series == (ctx.history.train.name if ctx.history.train else None) for f in findings):
        findings.extend(_gradient_findings(ctx))
    return findings


def _gradient_findings(ctx: RunContext) -> list[Finding]:
    """A non-finite gradient norm; when the loss logged at those steps is exactly 0.0, the logger hid a NaN
    loss (HuggingFace Trainer's ``logging_nan_inf_filter`` does this) and the loss itself is reported."""
    g, tr = ctx.history.get("grad_norm"), ctx.history.train
    if g is None or g.y.size == 0:
        return []
    bad = ~np.isfinite(g.y)
    if not bad.any():
        return []
    xs = g.x[bad]
    first_x = float(xs[0])
    if tr is not None and tr.y.size:
        hidden = hidden_nan(tr, g)
        if hidden.any():
            zx = tr.x[hidden]
            return [
                Finding(
                    rule=SLUG,
                    severity=SEVERITY,
                    series=tr.name,
                    start=float(zx[0]),
                    marks=_marks(float(zx[0])),
                    end=float(zx[-1]),
                    message=(
                        f"train loss '{tr.name}' is logged as exactly 0.0 at {int(hidden.sum())} point(s) where the "
                        f"gradient norm '{g.name}' is NaN/Inf, from {ctx.at(zx[0])}: the logger hid NaN losses "
                        "(e.g. HuggingFace Trainer's logging_nan_inf_filter)"
                    ),
                    advice=ADVICE,
                    evidence={"masked_points": int(hidden.sum()), "first_x": float(zx[0]), "grad_norm_series": g.name},
                )
            ]
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=g.name,
            start=first_x,
            marks=_marks(first_x),
            end=float(xs[-1]),
            message=f"gradient norm '{g.name}' is NaN/Inf at {int(bad.sum())} point(s), first at {ctx.at(first_x)}",
            advice=ADVICE,
            evidence={"count": int(bad.sum()), "first_x": first_x},
        )
    ]


def _marks(first_x: float) -> Marks:
    """A dotted line at the first NaN/Inf (one per run), a moment the learning-rate advice names."""
    return Marks("first", "first NaN/Inf at", at=first_x, events=((SLUG, first_x),))


def _loss_findings(ctx: RunContext) -> list[Finding]:
    findings = []
    for series in (ctx.history.train, ctx.history.val):
        if series is None or series.y.size == 0:
            continue
        bad = ~np.isfinite(series.y)
        if not bad.any():
            continue
        idx = np.flatnonzero(bad)
        first, last = int(idx[0]), int(idx[-1])
        n_nan = int(np.isnan(series.y).sum())
        n_inf = int(bad.sum()) - n_nan
        kinds = " and ".join(k for k, c in (("NaN", n_nan), ("Inf", n_inf)) if c)
        before = series.y[:first][np.isfinite(series.y[:first])]
        last_good = f"; the last finite value before it was {fmt_loss(float(before[-1]))}" if before.size else ""
        stays = bool(bad[first:].all())
        tail = "and every value after it is non-finite" if stays else f"{int(bad.sum())} of {bad.size} points"
        # Validation that is non-finite for a moment while training stays finite (an evaluation on an empty
        # or degenerate batch early in a YOLO run) loses nothing the run needs: a warning, not an error.
        train = ctx.history.train
        recovers = not bool(bad[-1])
        transient = series.role == "val" and recovers and (train is None or bool(np.isfinite(train.y).all()))
        if transient:
            tail += "; finite again after it while the training loss stays finite"
        findings.append(
            Finding(
                rule=SLUG,
                severity="warning" if transient else SEVERITY,
                series=series.name,
                start=float(series.x[first]),
                marks=_marks(float(series.x[first])),
                end=float(series.x[last]),
                message=(
                    f"{series.role} loss '{series.name}' is {kinds} from {ctx.at(series.x[first])}, {tail}{last_good}"
                ),
                advice=ADVICE,
                evidence={
                    "nan_count": n_nan,
                    "inf_count": n_inf,
                    "first_x": float(series.x[first]),
                    "fraction": round(float(bad.mean()), 4),
                    "stays_non_finite": stays,
                    "transient": transient,
                },
            )
        )
    return findings
