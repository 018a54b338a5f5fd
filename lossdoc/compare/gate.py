"""The decision layer: which comparisons fail the gate, and so the exit code.

``--max-regression`` bounds how much worse (higher) the candidate's ``--metric`` may be than the
baseline's, as a fraction of the baseline; ``--fail-on-new`` fails a candidate with a finding the
baseline does not have, at or above a severity. Exit codes: 0 every candidate passes, 1 one fails,
2 an input could not be read or a setting is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from lossdoc.analysis.types import SEVERITIES, severity_rank
from lossdoc.compare.metrics import METRICS, RunComparison
from lossdoc.errors import LossdocError

DEFAULT_MAX_REGRESSION = 0.05
"""A candidate whose metric is more than 5% above the baseline's fails (llm.c's CI rule)."""
DEFAULT_FAIL_ON_NEW = "error"
"""A new error (divergence, NaN/Inf) fails the candidate; new warnings are reported, not gated."""
METRIC_WORDS = {
    "best_val": "best validation loss",
    "final_val": "final validation loss",
    "best_train": "best training loss",
    "final_train": "final training loss",
}


@dataclass(frozen=True)
class Gate:
    metric: str = "best_val"
    max_regression: float | None = DEFAULT_MAX_REGRESSION
    fail_on_new: str = DEFAULT_FAIL_ON_NEW  # never | info | warning | error

    @classmethod
    def parse(cls, metric: str | None, max_regression: str | None, fail_on_new: str | None) -> Gate:
        m = (metric or "best_val").strip().replace("-", "_")
        if m not in METRICS:
            raise LossdocError("--metric", f"'{metric}' is not one of {', '.join(METRICS)}")
        limit: float | None = DEFAULT_MAX_REGRESSION
        if max_regression is not None:
            limit = parse_fraction(max_regression, "--max-regression", allow_none=True)
        new = (fail_on_new or DEFAULT_FAIL_ON_NEW).strip().lower()
        if new not in ("never", *SEVERITIES):
            raise LossdocError("--fail-on-new", f"'{fail_on_new}' is not one of never, {', '.join(SEVERITIES)}")
        return cls(m, limit, new)

    def check(self, c: RunComparison) -> list[str]:
        """Why ``c`` fails the gate (empty: it passes)."""
        out: list[str] = []
        delta = c.deltas[self.metric]
        rel = delta.relative
        if self.max_regression is not None and rel is not None and rel > self.max_regression:
            out.append(
                f"{METRIC_WORDS[self.metric]} {delta.relative * 100:+.1f}% against the baseline "
                f"(allowed: +{self.max_regression * 100:g}%)"
            )
        if self.fail_on_new != "never":
            floor = severity_rank(self.fail_on_new)
            out += [f"new finding, {ch.text}" for ch in c.new if severity_rank(ch.finding.severity) >= floor]
        return out

    def needs(self) -> tuple[str, str]:
        """The role and words the metric needs in both runs."""
        return self.metric.split("_", 1)[1], METRIC_WORDS[self.metric]


def parse_fraction(text: str, option: str, allow_none: bool = False) -> float | None:
    """``5%`` or ``5`` (both five percent) as a fraction, 0.05; ``off`` where ``allow_none``."""
    t = text.strip().lower()
    if allow_none and t in ("none", "off", "never"):
        return None
    try:
        value = float(t[:-1]) if t.endswith("%") else float(t)
    except ValueError:
        raise LossdocError(option, f"'{text}' is not a percentage such as 5%") from None
    if not (value >= 0 and value < float("inf")):
        raise LossdocError(option, f"'{text}' is not a percentage of 0 or more")
    return value / 100.0
