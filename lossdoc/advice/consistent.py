"""Findings' advice made to fit the run's framework and to agree with itself, before any report.

The rules write their advice one finding at a time, for a neural network. Two things only the whole
run shows: which library trained it (a boosted model has no dropout, mixup, batch or weights to
restore) and what the other findings say (a loss that never learned *and* swings far more than its
trend is not helped by "raise the learning rate" next to "lower the learning rate").
:func:`adapt_findings` rewrites the advice of those findings; messages, severities and evidence are
left as the rules made them.
"""

from __future__ import annotations

from dataclasses import replace

from lossdoc.advice.frameworks import GRADIENT_BOOSTING, overfitting_advice
from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.types import Finding

NEVER_LEARNED_BUT_OSCILLATING = (
    "The model is not learning, and the loss swings far more than its trend (see oscillation): the "
    "learning rate is more likely too high than too low. Lower it (by 3-10x) first; if the loss still "
    "does not fall, check labels, preprocessing and the loss function, and look for dead activations."
)
NEVER_LEARNED_BOOSTING = (
    "The model is not learning: check the labels and features, that the objective and eval metric "
    "fit the task, and learning_rate/eta (a rate far too low learns nothing in the rounds given)."
)
OSCILLATION_BOOSTING = (
    "Lower learning_rate/eta (by 3-10x) with proportionally more rounds; subsampling (subsample, "
    "bagging_fraction) far below 1 also adds round-to-round noise."
)


def adapt_findings(findings: list[Finding], framework: str, x_name: str) -> list[Finding]:
    """``findings`` with advice that fits ``framework`` and never both raises and lowers the rate."""
    oscillating = any(f.rule == "oscillation" for f in findings)
    boosting = framework in GRADIENT_BOOSTING
    out = []
    for f in findings:
        advice = f.advice
        if f.rule == "overfitting":
            at = f"{x_name} {fmt_x(f.start)}" if f.start is not None else None
            advice = overfitting_advice(framework, at) or advice
        elif f.rule == "plateau" and f.evidence.get("kind") == "never-learned":
            if boosting:
                advice = NEVER_LEARNED_BOOSTING
            elif oscillating:
                advice = NEVER_LEARNED_BUT_OSCILLATING
        elif f.rule == "oscillation" and boosting:
            advice = OSCILLATION_BOOSTING
        out.append(f if advice == f.advice else replace(f, advice=advice))
    return out
