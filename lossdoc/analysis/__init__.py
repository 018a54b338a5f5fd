"""Analysis: a LossHistory in, a Diagnosis out. Pure numpy; knows nothing about files or output.

The registry is explicit: a dict from slug to the rule's module, each module holding ``SLUG``,
``SEVERITY``, a frozen ``Params`` dataclass of documented thresholds, ``check(ctx, params)``, and a
docstring that is the rule's user documentation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from lossdoc.analysis.context import RunContext
from lossdoc.analysis.rules import (
    divergence,
    loss_spike,
    non_finite,
    oscillation,
    overfitting,
    plateau,
    still_improving,
)
from lossdoc.analysis.types import Diagnosis, Finding, severity_rank
from lossdoc.history import LossHistory


@dataclass(frozen=True)
class Rule:
    slug: str
    severity: str
    module: ModuleType

    @property
    def doc(self) -> str:
        return (self.module.__doc__ or "").strip()

    @property
    def summary(self) -> str:
        return self.doc.splitlines()[0].split("—", 1)[-1].strip()

    def default_params(self) -> Any:
        return self.module.Params()


RULES: dict[str, Rule] = {
    m.SLUG: Rule(m.SLUG, m.SEVERITY, m)
    for m in (non_finite, divergence, loss_spike, plateau, overfitting, still_improving, oscillation)
}


def params_for(slug: str, overrides: Mapping[str, Any] | None) -> Any:
    """The rule's Params with ``overrides`` applied (unknown keys raise KeyError)."""
    params = RULES[slug].default_params()
    if not overrides:
        return params
    names = {f.name for f in dataclasses.fields(params)}
    for key in overrides:
        if key not in names:
            raise KeyError(key)
    return dataclasses.replace(params, **dict(overrides))


def analyze(
    history: LossHistory,
    rules: Iterable[str] | None = None,
    rule_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Diagnosis:
    params = {slug: params_for(slug, (rule_params or {}).get(slug)) for slug in RULES}
    ctx = RunContext(history, params)
    findings: list[Finding] = []
    with np.errstate(all="ignore"):
        for slug in rules if rules is not None else RULES:
            findings.extend(RULES[slug].module.check(ctx, params[slug]))
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.start if f.start is not None else 0.0))
    return Diagnosis(history=history, findings=findings, summary=summarize(ctx))


MIN_JUDGE_POINTS = 5
"""A run whose longest loss series has fewer finite points than this is too short to judge: no trend
rule can run on it (a slope, a stretch or a rise needs five points), so it is never called healthy."""


def summarize(ctx: RunContext) -> dict[str, Any]:
    h = ctx.history
    lo, hi = h.x_range
    judged = max((p.n for p in (ctx.train, ctx.val) if p is not None), default=0)
    out: dict[str, Any] = {
        "points": len(h.train) if h.train is not None else len(h.val) if h.val is not None else 0,
        "x_min": lo,
        "x_max": hi,
        "best_val_x": None,
        "best_val": None,
        "final_train": None,
        "final_val": None,
    }
    if ctx.train is not None:
        out["final_train"] = float(ctx.train.y[-1])
    if ctx.val is not None:
        best = overfitting.best_val(ctx)
        out["best_val_x"] = best.x
        out["best_val"] = best.logged
        out["best_val_smoothed"] = best.smoothed
        out["final_val"] = float(ctx.val.y[-1])
    out["too_short"] = judged < MIN_JUDGE_POINTS
    # final_train / final_val are the last finite values; these series' last logged value was NaN/Inf
    ended = [x for x in (ctx.train_logged, h.val) if x is not None and x.y.size and not np.isfinite(x.y[-1])]
    out["final_non_finite"] = [x.role for x in ended]
    return out
