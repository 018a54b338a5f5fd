"""How log files are named: the suffixes a log may have and the generic names that say nothing about the run.

One place for both, so that a run found by searching a folder and the same file named directly get the
same run name.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Any

# .gz first: "run.csv.gz" loses ".gz" and then ".csv".
LOG_SUFFIXES = (".gz", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt", ".log", ".out")
# File names a framework always uses (metrics.csv, trainer_state.json ...): the folder names the run.
GENERIC_LOG_STEMS = frozenset(
    {
        "metrics",
        "results",
        "trainer_state",
        "history",
        "training",
        "log",
        "scalars",
        "train",
        "evals_result",
        "loss_curve",
        "progress",
        "nohup",
        "main",
    }
)


def log_stem(file_name: str) -> str:
    """``metrics`` from ``metrics.csv.gz``: the file name without its log suffixes."""
    stem = file_name
    for suffix in LOG_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem


def run_name(source: str) -> str:
    """A run's name from its path: the file stem, or the folder for generic names like metrics.csv."""
    if source == "<stdin>":
        return "stdin"
    p = Path(source)
    stem = log_stem(p.name)
    if stem.lower() in GENERIC_LOG_STEMS and p.parent.name not in ("", "."):
        return p.parent.name
    return stem


def distinct_names(runs: list[tuple[str, Any]]) -> None:
    """Rename runs (``(argument, LossHistory)`` pairs) that came from different command-line arguments
    but share a name: ``exp_a/lightning_logs/version_0`` and ``exp_b/lightning_logs/version_0`` are
    both "version_0" until each gets the shortest end of its path that tells it apart. A table row,
    a JSON name, a JUnit class name and a plot file then each belong to one run."""
    groups: dict[str, list[tuple[str, Any]]] = {}
    for spec, history in runs:
        groups.setdefault(history.name, []).append((spec, history))
    for name, group in groups.items():
        if len({spec for spec, _ in group}) < 2:
            continue
        base, bracket, tail = name.partition(" [")  # "results [train/box_loss]": a YOLO loss pair's panel
        name_parts = [p for p in base.split("/") if p]
        fulls = [_full_name(spec, name_parts) for spec, _ in group]
        depth = len(name_parts) + 1
        longest = max(len(f) for f in fulls)
        while depth < longest and len({tuple(f[-depth:]) for f in fulls}) < len({tuple(f) for f in fulls}):
            depth += 1
        for (_, history), full in zip(group, fulls, strict=True):
            history.name = "/".join(full[-depth:]) + bracket + tail


def _full_name(spec: str, name_parts: list[str]) -> list[str]:
    """The argument's path and the run's name as one list of parts, the part they share written once."""
    if spec == "-":
        return list(name_parts)
    path = PurePath(os.path.normpath(spec))
    parts = [p for p in path.parts if p != path.anchor]
    if parts and not os.path.isdir(spec):
        stem = log_stem(parts[-1])
        parts = parts[:-1] + ([] if stem.lower() in GENERIC_LOG_STEMS else [stem])
    shared = next((k for k in range(min(len(parts), len(name_parts)), 0, -1) if parts[-k:] == name_parts[:k]), 0)
    return parts[: len(parts) - shared] + name_parts
