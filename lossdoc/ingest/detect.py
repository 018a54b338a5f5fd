"""Recognise a log's format from its content (the file name is only a hint)."""

from __future__ import annotations

from lossdoc.errors import LossdocError
from lossdoc.ingest import Reader
from lossdoc.ingest.source import RawInput


def reader_for(raw: RawInput) -> Reader:
    from lossdoc.ingest.delimited import read_delimited
    from lossdoc.ingest.jsonlike import read_json, read_jsonl

    head = raw.head_text().lstrip("\ufeff")
    stripped = head.lstrip()
    if not stripped:
        raise LossdocError(raw.source, "empty file")
    if stripped[0] in "[{":
        first_line = stripped.splitlines()[0].strip()
        # JSON Lines: the first line is a whole object on its own.
        if first_line.startswith("{") and first_line.endswith("}") and "\n" in stripped.strip():
            second = [ln for ln in stripped.splitlines()[1:] if ln.strip()][:1]
            if second and second[0].strip().startswith("{"):
                return read_jsonl
        return read_json
    return read_delimited
