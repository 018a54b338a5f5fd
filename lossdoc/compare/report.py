"""What ``lossdoc compare`` hands to a formatter: the baseline, one comparison per candidate run, the
gate, the input errors and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field

from lossdoc.analysis.types import Diagnosis
from lossdoc.compare.gate import Gate
from lossdoc.compare.metrics import RunComparison
from lossdoc.ingest import InputError


@dataclass
class CompareReport:
    baseline: Diagnosis | None
    comparisons: list[RunComparison]
    gate: Gate
    errors: list[InputError] = field(default_factory=list)
    target: float | None = None
    plot: str | None = None
    """Where --plot wrote the overlay (markdown links it)."""

    @property
    def failed(self) -> list[RunComparison]:
        return [c for c in self.comparisons if not c.passed]

    @property
    def exit_code(self) -> int:
        if self.errors or self.baseline is None:
            return 2
        return 1 if self.failed else 0

    @property
    def verdict(self) -> str:
        if self.exit_code == 2:
            return "error"
        return "fail" if self.failed else "pass"


def build(
    baseline: Diagnosis | None,
    candidates: list[Diagnosis],
    gate: Gate,
    errors: list[InputError],
    target: float | None = None,
) -> CompareReport:
    """Compare every candidate with the baseline and apply the gate."""
    from lossdoc.compare.metrics import compare

    comparisons: list[RunComparison] = []
    if baseline is not None:
        role, words = gate.needs()
        for cand in candidates:
            c = compare(baseline, cand, target)
            if c.deltas[gate.metric].candidate is None and cand.history.get(role) is not None:  # type: ignore[arg-type]
                # the series is there but never finite: the run blew up, which is a failure, not bad input
                c.violations = [f"{words}: no finite value in the candidate", *gate.check(c)]
                comparisons.append(c)
                continue
            if c.deltas[gate.metric].candidate is None:
                other = "train" if role == "val" else "val"
                missing = f"run '{cand.history.name}' has no {words.split(' ', 1)[1]} to compare"
                errors.append(InputError(cand.history.source, f"{missing} (use --metric best_{other})"))
                continue
            c.violations = gate.check(c)
            comparisons.append(c)
    return CompareReport(baseline, comparisons, gate, errors, target)
