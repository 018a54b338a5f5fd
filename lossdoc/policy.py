"""The decision layer: which rules run (--select/--ignore) and what fails the call (--fail-on).

Kept apart from the rules (which only find) and the formatters (which only format), as flake8's
style guide is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lossdoc.analysis.types import CONFIDENCES, SEVERITIES, Diagnosis, Finding, confidence_rank, severity_rank
from lossdoc.errors import LossdocError

FAIL_NEVER = "never"
DEFAULT_MIN_CONFIDENCE = "medium"
"""``--fail-on`` gates on findings at least this sure: a low-confidence finding (a trend through three
points, an effect within two standard errors of the noise) is reported but does not fail CI."""


def split_list(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in str(v).split(",")]
    return [i.strip() for i in items if i.strip()]


def selected_rules(select: Iterable[str], ignore: Iterable[str], known: Iterable[str]) -> list[str]:
    known = list(known)
    sel, ign = list(select), list(ignore)
    for slug in (*sel, *ign):
        if slug not in known:
            raise LossdocError("--select/--ignore", f"unknown rule '{slug}'; rules are: {', '.join(known)}")
    chosen = sel or known
    rules = [s for s in known if s in chosen and s not in ign]
    if not rules:
        raise LossdocError("--select/--ignore", "no rule is left to run; select at least one rule that is not ignored")
    return rules


@dataclass(frozen=True)
class FailPolicy:
    """Fail on findings at or above a severity, or on findings of listed rules; or never. Only findings
    of at least ``min_confidence`` count."""

    min_severity: str | None
    rules: frozenset[str]
    min_confidence: str = DEFAULT_MIN_CONFIDENCE

    @classmethod
    def parse(cls, value: str, known: Iterable[str], min_confidence: str = DEFAULT_MIN_CONFIDENCE) -> FailPolicy:
        items = split_list(value)
        if not items:
            raise LossdocError("--fail-on", "empty value; use never, info, warning, error or rule slugs")
        if min_confidence not in CONFIDENCES:
            raise LossdocError("--min-confidence", f"'{min_confidence}' is not one of {', '.join(CONFIDENCES)}")
        if items == [FAIL_NEVER]:
            return cls(None, frozenset(), min_confidence)
        known = set(known)
        sev = [i for i in items if i in SEVERITIES]
        rules = [i for i in items if i not in SEVERITIES]
        bad = [r for r in rules if r not in known]
        if bad or len(sev) > 1:
            raise LossdocError(
                "--fail-on",
                f"'{value}' is not a severity (never, info, warning, error) or a list of rules "
                f"({', '.join(sorted(known))})",
            )
        return cls(sev[0] if sev else None, frozenset(rules), min_confidence)

    def check_rules(self, rules: Iterable[str]) -> None:
        """Refuse to gate on a rule that does not run: it could never fail the call (a silent trap in CI)."""
        off = sorted(self.rules - set(rules))
        if off:
            names = ", ".join(f"'{r}'" for r in off)
            raise LossdocError(
                "--fail-on",
                f"{names} {'is' if len(off) == 1 else 'are'} turned off by --select/--ignore, "
                "so it could never fail the call; run it or remove it from --fail-on",
            )

    def fails(self, finding: Finding) -> bool:
        if confidence_rank(finding.confidence) < confidence_rank(self.min_confidence):
            return False
        if finding.rule in self.rules:
            return True
        return self.min_severity is not None and severity_rank(finding.severity) >= severity_rank(self.min_severity)


def exit_code(diagnoses: Iterable[Diagnosis], errors: int, policy: FailPolicy) -> int:
    if errors:
        return 2
    return 1 if any(policy.fails(f) for d in diagnoses for f in d.findings) else 0
