"""A candidate run against the baseline: deltas, time to a target, where the curves part, and the
findings one run has and the other has not."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.types import Diagnosis, Finding
from lossdoc.compare.align import Alignment, Curve, Departure, align, curve
from lossdoc.history import LossHistory

METRICS = ("best_val", "final_val", "best_train", "final_train")
"""What ``--metric`` may name: a run's lowest or last logged validation or training loss."""


@dataclass(frozen=True)
class Delta:
    """One metric in both runs (None where a run has no such series)."""

    baseline: float | None
    candidate: float | None

    @property
    def absolute(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def relative(self) -> float | None:
        """The change as a fraction of the baseline (+0.05: five percent higher, i.e. worse)."""
        if self.absolute is None or not self.baseline:
            return None
        return self.absolute / abs(self.baseline)


@dataclass(frozen=True)
class Reach:
    """How soon each run's smoothed curve reached ``target`` on ``role``'s series."""

    role: str
    target: float
    explicit: bool
    """True when the target came from --target, False when it is the baseline's best (smoothed)."""
    baseline_x: float | None
    candidate_x: float | None

    @property
    def speedup(self) -> float | None:
        """Baseline x over candidate x (2.0: the candidate got there in half the steps)."""
        if self.baseline_x is None or self.candidate_x is None or self.candidate_x <= 0 or self.baseline_x <= 0:
            return None
        return self.baseline_x / self.candidate_x


@dataclass(frozen=True)
class FindingChange:
    """A finding (rule on a series role) present in only one of the two runs."""

    rule: str
    role: str
    finding: Finding
    side: str  # "candidate" (new) or "baseline" (gone)
    x_name: str = "x"

    @property
    def text(self) -> str:
        other = "baseline" if self.side == "candidate" else "candidate"
        start = self.finding.start
        where = f" from {self.x_name} {fmt_x(start)}" if start is not None else ""
        return f"{self.side}: {self.rule}{where} ({self.finding.severity}); {other} does not"


@dataclass
class RunComparison:
    baseline: Diagnosis
    candidate: Diagnosis
    deltas: dict[str, Delta]
    alignments: dict[str, Alignment]
    departures: dict[str, Departure | None]
    reach: Reach | None
    new: list[FindingChange]
    gone: list[FindingChange]
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.violations


def _role_of(history: LossHistory, series_name: str | None) -> str:
    for s in history.series:
        if s.name == series_name:
            return s.role
    return "run"


def _curves(d: Diagnosis) -> dict[str, Curve]:
    out: dict[str, Curve] = {}
    for role in ("train", "val"):
        c = curve(d.history.get(role))  # type: ignore[arg-type]
        if c is not None:
            out[role] = c
    return out


def deltas(base: Diagnosis, cand: Diagnosis) -> dict[str, Delta]:
    b, c = _curves(base), _curves(cand)
    out: dict[str, Delta] = {}
    for role in ("val", "train"):
        bc, cc = b.get(role), c.get(role)
        out[f"best_{role}"] = Delta(bc.best[1] if bc else None, cc.best[1] if cc else None)
        out[f"final_{role}"] = Delta(bc.final if bc else None, cc.final if cc else None)
    return out


def _reach_x(c: Curve, target: float) -> float | None:
    level = np.asarray(c.to_loss(c.trend))
    hit = np.flatnonzero(level <= target)
    return float(c.trend_x[hit[0]]) if hit.size else None


def reach(base: Diagnosis, cand: Diagnosis, target: float | None = None) -> Reach | None:
    """Steps (x) each run's smoothed curve took to reach ``target``, by default the baseline's best
    (its smoothed minimum, within its noise band), on the validation series when both runs have one,
    else on the training series."""
    b, c = _curves(base), _curves(cand)
    role = "val" if "val" in b and "val" in c else "train" if "train" in b and "train" in c else None
    if role is None:
        return None
    goal = target if target is not None else b[role].at_best
    return Reach(role, goal, target is not None, _reach_x(b[role], goal), _reach_x(c[role], goal))


def finding_changes(base: Diagnosis, cand: Diagnosis) -> tuple[list[FindingChange], list[FindingChange]]:
    """Findings of the candidate whose rule the baseline has not on the same series role (new), and
    the other way round (gone)."""

    def keyed(d: Diagnosis) -> dict[tuple[str, str], Finding]:
        out: dict[tuple[str, str], Finding] = {}
        for f in d.findings:  # most severe first: the first of a key is the one kept
            out.setdefault((f.rule, _role_of(d.history, f.series)), f)
        return out

    b, c = keyed(base), keyed(cand)
    xb, xc = base.history.x_name, cand.history.x_name
    new = [FindingChange(rule, role, f, "candidate", xc) for (rule, role), f in c.items() if (rule, role) not in b]
    gone = [FindingChange(rule, role, f, "baseline", xb) for (rule, role), f in b.items() if (rule, role) not in c]
    return new, gone


def compare(base: Diagnosis, cand: Diagnosis, target: float | None = None) -> RunComparison:
    alignments: dict[str, Alignment] = {}
    notes: list[str] = []
    for role in ("train", "val"):
        a = align(base.history.get(role), cand.history.get(role))  # type: ignore[arg-type]
        if a is not None:
            alignments[role] = a
    said: set[str] = set()
    for a in alignments.values():
        for note in _alignment_notes(a):
            if note not in said:  # train and val usually share their x range: say it once
                said.add(note)
                notes.append(note)
    for role in ("train", "val"):
        if (base.history.get(role) is None) != (cand.history.get(role) is None):  # type: ignore[arg-type]
            has = "baseline" if base.history.get(role) is not None else "candidate"  # type: ignore[arg-type]
            notes.append(f"only the {has} has a {'validation' if role == 'val' else 'training'} loss")
    new, gone = finding_changes(base, cand)
    return RunComparison(
        baseline=base,
        candidate=cand,
        deltas=deltas(base, cand),
        alignments=alignments,
        departures={role: a.departure() for role, a in alignments.items()},
        reach=reach(base, cand, target),
        new=new,
        gone=gone,
        notes=notes,
    )


def _alignment_notes(a: Alignment) -> list[str]:
    out: list[str] = []
    if a.base_range != a.cand_range:
        lo, hi = a.overlap
        b0, b1 = (fmt_x(v) for v in a.base_range)
        c0, c1 = (fmt_x(v) for v in a.cand_range)
        out.append(
            f"x ranges differ: baseline {b0}–{b1}, candidate {c0}–{c1}; curves compared on {fmt_x(lo)}–{fmt_x(hi)}"
            if lo <= hi
            else f"x ranges do not overlap (baseline {b0}–{b1}, candidate {c0}–{c1}): curves not compared"
        )
    if a.interpolated and a.x.size:
        out.append("the runs were logged at different x values: interpolated onto the sparser run's")
    return out


def departure_text(x_name: str, d: Departure | None) -> str:
    if d is None:
        return "stays within the baseline's noise band"
    return f"leaves the band {d.direction} the baseline at {x_name} {fmt_x(d.x)} ({d.text()})"


def summary_numbers(c: RunComparison) -> dict[str, Any]:
    """The numbers a report shows, as plain values (JSON-ready)."""
    out: dict[str, Any] = {}
    for key, d in c.deltas.items():
        out[key] = {
            "baseline": d.baseline,
            "candidate": d.candidate,
            "delta": d.absolute,
            "delta_pct": None if d.relative is None else d.relative * 100,
        }
    return out
