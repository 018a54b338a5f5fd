"""The run's advice as typed records: what :func:`lossdoc.advice.advise` returns, what the reports read
and what the JSON report writes as the run's ``advice`` (its fields, in order, are the JSON keys).

The parts whose shape depends on what they describe stay JSON-ready dicts: a replayed callback
(``callback``, ``params`` of its own, then ``stop_x``/``reason`` or ``lr_cut_x``), a cause (its signals
differ by cause, see :mod:`lossdoc.advice.causes`) and the recovery plan (see
:mod:`lossdoc.advice.recovery`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BestPoint:
    """The run's best validation point and what the rest of the run did after it (see
    :func:`lossdoc.advice.best.best_point`)."""

    x: float
    value: float
    saved_fraction: float
    """The share of the run after the best point."""
    final_value: float | None
    """The last validation value; None when it was NaN/Inf."""
    rise_pct: float | None
    """How far above the best the run ended, in percent; None when the best is not positive or the end not finite."""
    after: float
    """The length of the run after the best point, in x units."""


@dataclass(frozen=True)
class Recommendation:
    """The early-stopping setting to use next time, and the code for it."""

    framework: str
    patience: int
    min_delta: float
    stop_x: float | None
    """Where it stops on this log; None when the run ended first."""
    snippet: str


@dataclass
class Advice:
    """Run-level advice: the best point, the callbacks replayed, the recommendation, notes, causes and
    the way back. ``monitor`` is the series the callbacks were replayed on, ``checks`` how many checks
    and ``bucket`` the logged points per check."""

    framework: str = "generic"
    x_name: str | None = None
    monitor: str | None = None
    checks: int = 0
    bucket: int = 1
    best: BestPoint | None = None
    replay: list[dict[str, Any]] = field(default_factory=list)
    recommendation: Recommendation | None = None
    notes: list[str] = field(default_factory=list)
    causes: list[dict[str, Any]] = field(default_factory=list)
    recovery: dict[str, Any] | None = None
