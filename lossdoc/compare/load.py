"""Runs for a comparison: each path read and analysed as ``lossdoc analyze`` would, every problem
kept as an :class:`~lossdoc.ingest.InputError` value."""

from __future__ import annotations

from collections.abc import Iterable

from lossdoc.analysis.types import Diagnosis
from lossdoc.ingest import InputError, Overrides


def diagnose_paths(
    paths: Iterable[str], overrides: Overrides | None = None, rules: list[str] | None = None
) -> tuple[list[Diagnosis], list[InputError]]:
    """Every run the paths hold, analysed, in order; unreadable inputs as errors."""
    from lossdoc.analysis import analyze
    from lossdoc.ingest import load_paths

    histories, errors = load_paths(list(paths), overrides)
    return [analyze(h, rules) for h in histories], errors
