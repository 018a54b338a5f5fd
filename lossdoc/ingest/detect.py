"""Sniffers: how a file's first bytes tell its kind (used by the table in :mod:`lossdoc.ingest.readers`)."""

from __future__ import annotations

import re

from lossdoc.ingest.base import is_event_file
from lossdoc.ingest.source import TFEVENTS_MARK, TFEVENTS_SNIFF, RawInput

# MLflow's file store: "<unix ms> <value> [<step>]" per line.
MLFLOW_LINE = re.compile(r"\d{9,}[ ]\S+(?:[ ]-?\d+)?")
MLFLOW_SNIFF_LINES = 20


def is_tfevents(raw: RawInput) -> bool:
    head = raw.head(TFEVENTS_SNIFF)
    named = raw.path is not None and is_event_file(raw.path.name)
    return TFEVENTS_MARK in head or (named and b"\x00" in head)


def is_mlflow_metric(head: str) -> bool:
    lines = head.splitlines()
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sniff window may cut the last line
    lines = [ln.strip() for ln in lines[:MLFLOW_SNIFF_LINES] if ln.strip()]
    return bool(lines) and all(MLFLOW_LINE.fullmatch(ln) for ln in lines)


def is_jsonl(head: str) -> bool:
    """JSON Lines: the first line is a whole object on its own, and the next non-blank line starts another."""
    if not head.startswith("{"):
        return False
    first_line = head.splitlines()[0].strip()
    if first_line.startswith("{") and first_line.endswith("}") and "\n" in head.strip():
        second = [ln for ln in head.splitlines()[1:] if ln.strip()][:1]
        return bool(second) and second[0].strip().startswith("{")
    return False


def is_json(head: str) -> bool:
    return head[0] in "[{"
