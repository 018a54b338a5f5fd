"""The records analysis produces: a Finding per problem, a Diagnosis per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lossdoc.history import LossHistory

SEVERITIES = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    """One problem in one series: where (in the run's x units), how bad, why, and what to do."""

    rule: str
    severity: str
    series: str | None
    start: float | None
    end: float | None
    message: str
    advice: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "series": self.series,
            "start": _num(self.start),
            "end": _num(self.end),
            "message": self.message,
            "advice": self.advice,
            "evidence": {k: _num(v) if isinstance(v, float) else v for k, v in self.evidence.items()},
        }


def _num(v: float | None) -> float | int | None:
    if v is None:
        return None
    if float(v).is_integer():
        return int(v)
    return round(float(v), 6)


@dataclass
class Diagnosis:
    """A run and what was found in it, most severe first."""

    history: LossHistory
    findings: list[Finding]
    summary: dict[str, Any]
    advice: dict[str, Any] | None = None
    """Run-level advice (best point, callback replay, recommendation), set by lossdoc.advice."""
