"""How log files are named: the suffixes a log may have and the generic names that say nothing about the run.

One place for both, so that a run found by searching a folder and the same file named directly get the
same run name.
"""

from __future__ import annotations

# .gz first: "run.csv.gz" loses ".gz" and then ".csv".
LOG_SUFFIXES = (".gz", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt", ".log")
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
    }
)


def log_stem(file_name: str) -> str:
    """``metrics`` from ``metrics.csv.gz``: the file name without its log suffixes."""
    stem = file_name
    for suffix in LOG_SUFFIXES:
        stem = stem.removesuffix(suffix)
    return stem
