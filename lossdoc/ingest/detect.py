"""Recognise a log's format from its content (the file name is only a hint).

Order: TensorBoard event records (binary; the first record says ``brain.Event:``), then text:
JSON / JSON Lines by their first characters, an MLflow metric file by its lines of
``timestamp value step``, and everything else as delimited text, whose reader names the framework
from the header.
"""

from __future__ import annotations

import re

from lossdoc.errors import LossdocError
from lossdoc.ingest import Reader, is_event_file
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


def reader_for(raw: RawInput) -> Reader:
    from lossdoc.ingest.delimited import read_delimited
    from lossdoc.ingest.jsonlike import read_json, read_jsonl

    if is_tfevents(raw):
        from lossdoc.ingest.tensorboard import read_tfevents

        return read_tfevents
    head = raw.head_text().lstrip("\ufeff")
    stripped = head.lstrip()
    if not stripped:
        raise LossdocError(raw.source, "empty file")
    from lossdoc.ingest.console import is_console

    if stripped.startswith("{'") and is_console(stripped):
        from lossdoc.ingest.console import read_console

        return read_console  # the HuggingFace Trainer's printed dicts (Python reprs, not JSON)
    if stripped[0] in "[{":
        first_line = stripped.splitlines()[0].strip()
        # JSON Lines: the first line is a whole object on its own.
        if first_line.startswith("{") and first_line.endswith("}") and "\n" in stripped.strip():
            second = [ln for ln in stripped.splitlines()[1:] if ln.strip()][:1]
            if second and second[0].strip().startswith("{"):
                return read_jsonl
        return read_json
    if is_mlflow_metric(stripped):
        from lossdoc.ingest.mlflow import read_mlflow_metric_file

        return read_mlflow_metric_file
    from lossdoc.ingest.longformat import is_long_format

    if is_long_format(stripped):
        from lossdoc.ingest.longformat import read_long_format

        return read_long_format
    from lossdoc.ingest.headerless import is_headerless

    if is_headerless(stripped):
        from lossdoc.ingest.headerless import read_headerless

        return read_headerless
    from lossdoc.ingest.console import is_text_log

    if is_console(stripped) or is_text_log(stripped):
        from lossdoc.ingest.console import read_console

        return read_console  # a text log: its loss lines, or an error saying it has none
    return read_delimited
