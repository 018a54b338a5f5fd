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

from dataclasses import replace
from typing import Any

from lossdoc.advice import lr as lr_notes
from lossdoc.advice.cause_signals import (
    PARAMS,
    Params,
    cleaned,
    grad_at,
    loss_moved_at,
    lr_reason,
    scale_collapse,
    steps_around,
)
from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.types import Finding
from lossdoc.history import LossHistory, Series
from lossdoc.ingest.roles import is_loss_scale_name

CAUSES = ("loss_scale", "learning_rate", "gradient", "data", "unknown")


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
    grad = cleaned(history.get("grad_norm"), positive=True)
    lr = cleaned(history.lr)
    scale = cleaned(loss_scale_series(history), positive=True)
    losses: dict[str, Series] = {}
    events: list[tuple[float, str, Finding, Series]] = []
    for f in findings:
        if f.marks is None or not f.marks.events or f.series is None:
            continue
        if f.series not in losses:
            found = next((s for s in history.series if s.name == f.series and s.role in ("train", "val")), None)
            if found is None:
                continue  # a non-finite gradient norm is a signal, not a loss event
            losses[f.series] = cleaned(found)  # type: ignore[assignment]
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
    moved = loss_moved_at(loss, xe, params)
    a, b = steps_around(loss, xe)
    signals: dict[str, Any] = {}
    missing = [name for name, s in (("grad_norm", grad), ("learning_rate", lr)) if s is None]

    scale_drop = scale_collapse(scale, moved, params) if scale is not None else None
    lr_hit = lr_reason(lr, xe, moved, rule, history, params) if lr is not None else None
    # a blow-up drags the norm up over its whole course; a spike's norm is judged one point after it
    until = (f.end if f.end is not None else xe) if rule in ("divergence", "creep") else None
    g = grad_at(grad, moved, params, until) if grad is not None else None
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
