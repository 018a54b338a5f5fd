"""The records analysis produces: a Finding per problem, a Diagnosis per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lossdoc.history import LossHistory
from lossdoc.plain import plain

if TYPE_CHECKING:
    from lossdoc.advice.model import Advice

SEVERITIES = ("info", "warning", "error")
CONFIDENCES = ("low", "medium", "high")


def confidence_rank(confidence: str) -> int:
    return CONFIDENCES.index(confidence)


ENOUGH_POINTS = 8
"""A finding backed by this many points (or more) can be of high confidence: a trend through fewer
points moves with any one of them."""
FEW_POINTS = 4
"""Fewer points than this back a finding of low confidence only: three points show no trend."""
STRONG_SIGMAS = 4.0
"""High confidence needs an effect of this many standard errors (noise alone: about 1 in 30,000)."""
WEAK_SIGMAS = 2.0
"""Medium confidence needs this many (noise alone: about 1 in 40); below it, low."""


def grade(points: int, sigmas: float) -> str:
    """The confidence of a finding from the points that back it and the size of the effect in standard
    errors of the noise: ``high``, ``medium`` or ``low``."""
    if points >= ENOUGH_POINTS and sigmas >= STRONG_SIGMAS:
        return "high"
    if points >= FEW_POINTS and sigmas >= WEAK_SIGMAS:
        return "medium"
    return "low"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


MARK_STYLES = ("shade", "hatch", "tint", "after", "onset", "points", "first")
"""How a plot draws a finding (see :mod:`lossdoc.plot.marks`): ``shade`` its stretch in its severity's
colour, ``hatch`` its stretch hatched (both give way to a strip when a more severe one of the other
style covers most of it), ``tint`` its stretch faintly, ``after`` faintly in the validation colour from
its start to its end or the run's end, ``onset`` a line at its start with a marker on the curve,
``points`` a marker on the curve at each of ``points``, ``first`` a dotted line at its start (the first
such finding of a run only)."""


@dataclass(frozen=True)
class Marks:
    """What a plot draws for a finding and which moments of the loss advice names: set by the rule
    that made the finding, so that neither reads rule names or evidence keys."""

    style: str
    """One of :data:`MARK_STYLES`."""
    label: str
    """The legend's words for it; followed by ``<x name> <at>`` when ``at`` is set."""
    at: float | None = None
    points: tuple[float, ...] = ()
    """Where on the curve markers go (x in the run's units)."""
    events: tuple[tuple[str, float], ...] = ()
    """``(kind, x)`` moments the loss went wrong (``divergence``, ``creep``, ``loss-spike``,
    ``non-finite``): what the learning-rate advice lines up against the schedule."""


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
    confidence: str = "high"
    """How sure the finding is (high / medium / low), from how many points and how much noise backed it;
    ``--fail-on`` gates on medium and above unless ``--min-confidence`` says otherwise."""
    marks: Marks | None = field(default=None, hash=False, compare=False)
    """How a plot draws it and what advice reads of it; not part of the JSON (that is ``evidence``)."""

    def as_dict(self) -> dict[str, Any]:
        """The finding as the JSON reports write it: its positions and numbers to 6 decimals, integral
        ones (of any size) as integers, through the one cleaning function (:func:`lossdoc.plain.plain`)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "series": self.series,
            "start": plain(self.start, 6, big_ints=True),
            "end": plain(self.end, 6, big_ints=True),
            "message": self.message,
            "advice": self.advice,
            "confidence": self.confidence,
            "evidence": {
                k: plain(v, 6, big_ints=True) if isinstance(v, float) else v for k, v in self.evidence.items()
            },
        }


@dataclass
class Diagnosis:
    """A run and what was found in it, most severe first. The Python API hands out its subclass
    :class:`lossdoc.diagnosis.Diagnosis`, which adds ``to_dict``/``to_json``/``plot`` (analysis never
    imports the reports)."""

    history: LossHistory
    findings: list[Finding]
    summary: dict[str, Any]
    advice: Advice | None = None
    """Run-level advice (best point, callback replay, recommendation), set by lossdoc.advice."""

    @property
    def verdict(self) -> str:
        """``error`` / ``warning`` / ``info`` (the worst finding), ``too-short`` (nothing found, but too few
        points to judge: never called healthy) or ``healthy``."""
        if self.findings:
            return max(self.findings, key=lambda f: severity_rank(f.severity)).severity
        return "too-short" if self.summary.get("too_short") else "healthy"
