"""Why a loss spiked, diverged or went non-finite: the signal the log holds in the steps before it.

For every loss event the rules found (:func:`lossdoc.advice.lr.loss_events`: a spike's peak, a
divergence's onset or the creep before it, the first non-finite value), :func:`attribute` reads the
other logged series just before it and names the leading signal:

* ``loss_scale`` — a mixed-precision loss scale (a series named ``loss_scale``, ``grad_scale``…)
  collapsed just before it: fp16 overflow. Fix: bf16, or a loss-scale floor.
* ``learning_rate`` — the event came at or just after the rate's warm-up peak, right after the
  schedule stepped the rate up, or while a warm-up was still climbing far above its start. Fix: a
  lower peak rate or a longer warm-up.
* ``gradient`` — the gradient norm stood :data:`Params.grad_ratio` times over its running median
  within :data:`Params.lead_points` logged points before (or at) the point where the loss moved. Fix:
  clip the gradient norm; with Adam, a larger ε or a smaller β2.
* ``data`` — the loss moved while the gradient norm stayed flat (under :data:`Params.flat_ratio`
  times its running median): a bad batch. Fix: skip those batches, inspect the data at those steps.
* ``unknown`` — the log holds none of these signals (or they say nothing): which one to log.

Each cause carries a confidence (high / medium / low): high when its signal clearly leads and no
other logged signal contradicts it, medium when the signals moved in the same logged step (the log
cannot order them) or only one signal was logged, low when the logged signals disagree. The
disagreement and the missing signals are said in words.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from lossdoc.advice import lr as lr_notes
from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.types import Finding
from lossdoc.history import LossHistory, Series
from lossdoc.ingest.roles import is_loss_scale_name

CAUSES = ("loss_scale", "learning_rate", "gradient", "data", "unknown")


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

MAX_CAUSES = 8
"""Events attributed per run (the first ones): a run with more spikes than this has a common cause."""

ADAM_NOTE = "with Adam, a larger eps (1e-8 to 1e-6) or a lower beta2 (0.999 to 0.95) damps one large gradient"


def attribute(
    history: LossHistory, findings: list[Finding], framework: str, params: Params = PARAMS
) -> list[dict[str, Any]]:
    """One dict per loss event (at most :data:`MAX_CAUSES`), in x order::

        {"rule", "series", "x", "cause", "leading_signal", "lead_steps", "confidence",
         "batch_steps": [a, b], "signals": {name: {"ratio", "x"}}, "missing": [...], "disagree": str | None,
         "message": str, "fix": str}

    ``lead_steps`` is how far (in x units) the leading signal came before the loss moved (0: the same
    logged point; None: no leading signal). ``batch_steps`` are the first and last step whose batches
    went into the event's logged point (from the step after the logged point before it)."""
    grad = _cleaned(history.get("grad_norm"), positive=True)
    lr = _cleaned(history.lr)
    scale = _cleaned(loss_scale_series(history), positive=True)
    losses: dict[str, Series] = {}
    events: list[tuple[float, str, Finding, Series]] = []
    for f in findings:
        if f.marks is None or not f.marks.events or f.series is None:
            continue
        if f.series not in losses:
            found = next((s for s in history.series if s.name == f.series and s.role in ("train", "val")), None)
            if found is None:
                continue  # a non-finite gradient norm is a signal, not a loss event
            losses[f.series] = _cleaned(found)  # type: ignore[assignment]
        loss = losses[f.series]
        events.extend((xe, rule, f, loss) for rule, xe in lr_notes.loss_events([f]))
    events.sort(key=lambda e: e[0])
    return [
        _attribute_one(f, rule, xe, loss, grad, lr, scale, history, framework, params)
        for xe, rule, f, loss in events[:MAX_CAUSES]
    ]


def with_causes(findings: list[Finding], causes: list[dict[str, Any]]) -> list[Finding]:
    """The findings with their first event's cause added to their evidence (``cause``,
    ``leading_signal``, ``lead_steps``, ``cause_confidence``); a spike finding with several spikes also
    gets ``causes``, one per attributed spike."""
    by_finding: dict[int, list[dict[str, Any]]] = {}
    for c in causes:
        by_finding.setdefault(c["finding"], []).append(c)
    out: list[Finding] = []
    for f in findings:
        mine = by_finding.get(id(f))
        if not mine:
            out.append(f)
            continue
        first = mine[0]
        extra: dict[str, Any] = {
            "cause": first["cause"],
            "leading_signal": first["leading_signal"],
            "lead_steps": first["lead_steps"],
            "cause_confidence": first["confidence"],
        }
        if len(mine) > 1:
            extra["causes"] = [{"x": c["x"], "cause": c["cause"], "leading_signal": c["leading_signal"]} for c in mine]
        out.append(replace(f, evidence={**f.evidence, **extra}))
    return out


def public(causes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The causes as the JSON ``advice.causes`` holds them (without the link to their finding)."""
    return [{k: v for k, v in c.items() if k != "finding"} for c in causes]


def loss_scale_series(history: LossHistory) -> Series | None:
    """The logged loss scale (:data:`lossdoc.ingest.roles.LOSS_SCALE_NAMES`), kept as an ``other`` series."""
    return next((s for s in history.series if s.role == "other" and is_loss_scale_name(s.name)), None)


def _attribute_one(
    f: Finding,
    rule: str,
    xe: float,
    loss: Series,
    grad: Series | None,
    lr: Series | None,
    scale: Series | None,
    history: LossHistory,
    framework: str,
    params: Params,
) -> dict[str, Any]:
    x_name = history.x_name
    moved = _loss_moved_at(loss, xe, params)
    a, b = _steps_around(loss, xe)
    signals: dict[str, Any] = {}
    missing = [name for name, s in (("grad_norm", grad), ("learning_rate", lr)) if s is None]

    scale_drop = _scale_collapse(scale, moved, params) if scale is not None else None
    lr_hit = _lr_reason(lr, xe, moved, rule, history, params) if lr is not None else None
    # a blow-up drags the norm up over its whole course; a spike's norm is judged one point after it
    until = (f.end if f.end is not None else xe) if rule in ("divergence", "creep") else None
    g = _grad_at(grad, moved, params, until) if grad is not None else None
    if g is not None:
        signals["grad_norm"] = {"ratio": round(g["ratio"], 3), "x": g["x"]}
    if lr_hit is not None:
        signals["learning_rate"] = {"ratio": round(lr_hit["ratio"], 3), "x": lr_hit["x"]}
    if scale_drop is not None:
        signals["loss_scale"] = {"ratio": round(scale_drop["ratio"], 3), "x": scale_drop["x"]}

    grad_led = g is not None and g["leads"]
    grad_flat = g is not None and g["peak_ratio"] < params.flat_ratio
    at = f"{x_name} {fmt_x(xe)}"
    disagree: str | None = None
    lead: float | None = None

    if scale_drop is not None:
        cause, leading, lead = "loss_scale", scale.name if scale else "loss_scale", max(0.0, moved - scale_drop["x"])
        why = (
            f"the loss scale '{leading}' fell {scale_drop['ratio']:.3g}x below its running maximum at "
            f"{x_name} {fmt_x(scale_drop['x'])}: fp16 overflowed"
        )
        fix = (
            "train in bf16 (no loss scale needed), or keep a loss-scale floor "
            "(DeepSpeed min_loss_scale, a GradScaler growth_interval that recovers)"
        )
        confidence = "high"
    elif lr_hit is not None:
        cause, leading, lead = "learning_rate", lr.name if lr else "learning_rate", max(0.0, xe - lr_hit["x"])
        why = lr_hit["why"]
        fix = lr_hit["fix"]
        confidence = "high"
        if grad_led and g is not None:
            rose = f"{g['ratio']:.3g}x its running median at {x_name} {fmt_x(g['x'])}"
            why += f"; the gradient norm rose with it ({rose})"
        elif grad_flat and g is not None:
            disagree = (
                f"the gradient norm stayed flat ({g['peak_ratio']:.3g}x its running median): a bad batch at "
                f"{x_name} {fmt_x(xe)} would look the same"
            )
            confidence = "low"
        elif g is None:
            confidence = "medium"
    elif grad_led and g is not None:
        cause, leading, lead = "gradient", grad.name if grad else "grad_norm", max(0.0, moved - g["x"])
        same = lead == 0
        before = f", {fmt_x(lead)} {x_name}s before the loss moved"
        when = ", in the same logged step the loss moved" if same else before
        why = (
            f"the gradient norm '{leading}' stood {g['ratio']:.3g}x over its running median at {x_name} "
            f"{fmt_x(g['x'])}{when}"
        )
        hint = lr_notes.CLIP_HINTS.get(framework, lr_notes.CLIP_HINTS["generic"])
        fix = f"clip the gradient norm near its usual value ({lr_notes._fv(g['median'])}): {hint}; {ADAM_NOTE}"
        confidence = "medium" if same or lr is None else "high"
    elif grad_flat and g is not None:
        cause, leading = "data", loss.name
        why = (
            f"the loss moved alone: the gradient norm stayed at {g['peak_ratio']:.3g}x its running median "
            "(flat), so the batch, not the optimizer, is the likely culprit"
        )
        which = f"the batch of {x_name} {fmt_x(b)}" if a == b else f"the batches of {x_name}s {fmt_x(a)}..{fmt_x(b)}"
        fix = f"skip {which} on resume, and inspect the data fed at that point"
        confidence = "medium" if lr is None else "high"
    elif g is not None and g["peak_ratio"] >= params.grad_ratio:
        cause, leading = "unknown", None
        why = (
            f"the gradient norm rose to {g['peak_ratio']:.3g}x its running median only after the loss moved: "
            "it followed the loss rather than led it, and the learning rate shows nothing"
        )
        disagree = why
        hint = lr_notes.CLIP_HINTS.get(framework, lr_notes.CLIP_HINTS["generic"])
        fix = (
            f"lower the learning rate and clip the gradient norm ({hint}); log both every step to see what moves first"
        )
        confidence = "low"
    elif g is not None:
        cause, leading = "unknown", None
        why = (
            f"the gradient norm moved {g['peak_ratio']:.3g}x its running median, between flat and leading "
            f"(under {params.grad_ratio:g}x), and the learning rate shows nothing: the signals do not settle it"
        )
        disagree = why
        fix = "log the gradient norm every step (not averaged) to see which moved first"
        confidence = "low"
    else:
        cause, leading = "unknown", None
        rate = " and no learning rate" if lr is None else ", and the learning rate shows nothing"
        why = f"the log holds no gradient norm{rate}"
        fix = _log_hint(framework)
        confidence = "low"
    message = f"Cause of the {_NOUN[rule]} at {at}: {_LABEL[cause]} — {why}"
    if disagree and disagree != why:
        message += f"; but {disagree}"
    unlogged = f"; not logged: {', '.join(missing)}" if missing and cause != "unknown" else ""
    tail = f"{confidence} confidence{unlogged}"
    return {
        "finding": id(f),
        "rule": f.rule,
        "series": f.series,
        "x": float(xe),
        "cause": cause,
        "leading_signal": leading,
        "lead_steps": None if lead is None else float(lead),
        "batch_steps": [a, b],
        "confidence": confidence,
        "signals": signals,
        "missing": missing,
        "disagree": disagree,
        "message": f"{message} ({tail}).",
        "fix": fix[0].upper() + fix[1:] + ".",
    }


_NOUN = {
    "loss-spike": "spike",
    "divergence": "divergence",
    "creep": "climb to a blow-up",
    "non-finite": "non-finite loss",
}
_LABEL = {
    "loss_scale": "loss-scale collapse",
    "learning_rate": "led by the learning rate",
    "gradient": "led by the gradient norm",
    "data": "a bad batch (loss alone)",
    "unknown": "unknown",
}


def _log_hint(framework: str) -> str:
    if framework == "huggingface":
        return (
            "log the gradient norm and learning rate every step (the Trainer logs grad_norm and "
            "learning_rate; set logging_steps=1 around the event)"
        )
    if framework == "lightning":
        return (
            "log the gradient norm and learning rate (self.log('grad_norm', ...) in "
            "on_before_optimizer_step, and LearningRateMonitor)"
        )
    if framework == "keras":
        return (
            "log the learning rate and gradient norm each epoch (a callback that records "
            "optimizer.learning_rate and the global norm)"
        )
    return "log the gradient norm (before clipping) and the learning rate every step, next to the loss"


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """The series' points (the series given to the helpers below are already :func:`_cleaned`)."""
    return s.x, s.y


def _cleaned(s: Series | None, positive: bool = False) -> Series | None:
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
    return float(np.median(y[lo:i]))


def _loss_moved_at(loss: Series, xe: float, params: Params) -> float:
    """The x where the loss moved on its way to the event at ``xe``: the first of the points up to
    :data:`Params.lead_points` before it that made :data:`Params.loss_moved` of the jump (log space)."""
    x, y = _finite(loss)
    if y.size == 0:
        return xe
    i = int(np.searchsorted(x, xe, side="right")) - 1
    if i < 0:
        return xe
    lo = max(0, i - params.lead_points)
    ref = _ref_median(y, lo, params)
    if ref is None or ref <= 0 or np.any(y[lo : i + 1] <= 0):
        return float(x[i])
    jump = np.log(y[lo : i + 1] / ref)
    top = float(jump.max())
    if top <= 0:
        return float(x[i])
    k = int(np.flatnonzero(jump >= params.loss_moved * top)[0])
    return float(x[lo + k])


def _grad_at(grad: Series, moved: float, params: Params, until: float | None = None) -> dict[str, Any] | None:
    """The gradient norm around the point where the loss moved: its ratio to the running median before
    the window, where it first crossed :data:`Params.grad_ratio`, and its largest ratio from there to
    ``until`` (else one point after the loss moved)."""
    x, y = _finite(grad)
    if y.size == 0:
        return None
    i = int(np.searchsorted(x, moved, side="right")) - 1
    if i < 0:
        return None
    lo = max(0, i - params.lead_points)
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


def _scale_collapse(scale: Series, moved: float, params: Params) -> dict[str, Any] | None:
    x, y = _finite(scale)
    if y.size == 0:
        return None
    i = int(np.searchsorted(x, moved, side="right")) - 1
    if i < 1:
        return None
    lo = max(0, i - params.lead_points)
    top = float(np.max(y[max(0, lo - params.reference_points) : lo + 1]))
    window = y[lo : i + 1]
    low = float(window.min())
    if low <= 0 or top / low < params.scale_collapse:
        return None
    k = lo + int(np.argmin(window))
    return {"x": float(x[k]), "ratio": top / low}


def _lr_reason(
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


def _steps_around(loss: Series, xe: float) -> tuple[float, float]:
    """The logged steps from the point before the event to the event: the batches to skip."""
    x, _ = _finite(loss)
    i = int(np.searchsorted(x, xe, side="left"))
    a = float(x[i - 1]) + 1 if i >= 1 and float(x[i - 1]).is_integer() else xe
    return min(a, xe), xe
