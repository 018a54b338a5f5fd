"""JSON logs: dict of lists (Keras History), list of records, JSON Lines, HuggingFace
``trainer_state.json`` and gradient-boosting ``evals_result`` dicts.

Python's ``json`` accepts the bare ``NaN``/``Infinity`` tokens that ``json.dump`` writes, so a
NaN loss survives as a NaN value.
"""

from __future__ import annotations

import json
import re
from itertools import chain, repeat
from operator import is_not, itemgetter

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog
from lossdoc.ingest.frame import BadCells, Column, Frame, check_columns, column_from_objects
from lossdoc.ingest.histories import histories_from_frame
from lossdoc.ingest.source import RawInput

MAX_DEPTH = 64


def _parse_error(source: str, exc: json.JSONDecodeError) -> LossdocError:
    if exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
        return LossdocError(
            source, f"truncated JSON: it ends at line {exc.lineno} column {exc.colno} before the document is complete"
        )
    return LossdocError(source, f"malformed JSON at line {exc.lineno} column {exc.colno} ({exc.msg})")


FLOAT_DIGITS = 309
"""An integer of this many digits is beyond any float (1.8e308): it reads as infinity, with a note."""


LONG_INT = re.compile(rf"\d{{{FLOAT_DIGITS},}}")
"""A run of digits as long as a number :class:`_Ints` reads as infinity."""


class _Ints:
    """``json``'s ``parse_int``: Python refuses to convert integers of more than 4300 digits (a
    ValueError); such a number is simply too large for a float, like 1e400, so it reads as inf, a
    value the rules report, and the run notes it (a 5,000-digit loss is damage, not a value)."""

    def __init__(self) -> None:
        self.long: list[int] = []

    def __call__(self, text: str) -> int | float:
        if len(text.lstrip("-")) < FLOAT_DIGITS:
            return int(text)
        self.long.append(len(text.lstrip("-")))
        return float(text)

    def notes(self) -> list[str]:
        if not self.long:
            return []
        more = f" and {len(self.long) - 1:,} more" if len(self.long) > 1 else ""
        return [f"read a number of {self.long[0]:,} digits{more} as infinity (too large for a float)"]


def load_json(raw: RawInput) -> object:
    ints = _Ints()
    try:
        obj = json.loads(raw.text(), parse_int=ints)
        raw.notes.extend(ints.notes())
        return obj
    except json.JSONDecodeError as exc:
        raise _parse_error(raw.source, exc) from None
    except RecursionError:
        raise LossdocError(raw.source, "JSON nested too deeply") from None


def _dropped(kept: int, items: list, what: str) -> list[str]:
    """The note for the items of a JSON list that are not records (and so hold no points)."""
    left = len(items) - kept
    if not left:
        return []
    first = next(i for i, r in enumerate(items) if not isinstance(r, dict))
    many = left != 1
    return [
        f"skipped {left:,} {what}{'s' if many else ''} that {'are' if many else 'is'} not an object "
        f"(the first: #{first + 1}, a {type(items[first]).__name__})"
    ]


NUMBER_TYPES = frozenset({int, float, type(None)})


def json_column(items: list[object]) -> tuple[Column, BadCells | None]:
    """:func:`~lossdoc.ingest.frame.column_from_objects` in a few C-level passes when every item is a
    number or None (absent), as in almost every log; anything else takes the item-by-item reader."""
    if NUMBER_TYPES.issuperset(map(type, items)):
        try:
            values = np.array(items, dtype=np.float64)  # None reads as NaN; `present` tells them apart
        except OverflowError:
            return column_from_objects(items)  # an int beyond a float: read as infinity there
        present = np.fromiter(map(is_not, items, repeat(None)), dtype=bool, count=len(items))
        return Column(values, present), None
    return column_from_objects(items)


def frame_from_records(records: list[dict[str, object]], source: str, flat: bool = False) -> Frame:
    """Columns from a list of records (``flat``: none holds an object); a key missing from a record is
    an absent cell."""
    rows = records if flat else [_flatten(r, "/") for r in records]
    keys = dict.fromkeys(chain.from_iterable(rows))
    check_columns(source, len(keys))
    columns: dict[str, Column] = {}
    text_cells: dict[str, tuple[int, str]] = {}
    for k in keys:
        col, bad = json_column(list(map(dict.get, rows, repeat(k, len(rows)))))
        columns[k] = col
        if bad is not None:
            text_cells[k] = bad
    if not columns:
        raise NotALog(source, "JSON records hold no keys")
    return Frame(columns, text_cells)


def frame_from_lists(obj: dict[str, object], source: str) -> Frame:
    """Columns from a dict of equal-or-unequal-length lists (shorter lists end early)."""
    flat = _flatten(obj, ".")
    lists = {k: v for k, v in flat.items() if isinstance(v, list)}
    check_columns(source, len(lists))
    if not lists:
        raise NotALog(source, "JSON object holds no lists of values")
    n = max(len(v) for v in lists.values())
    columns: dict[str, Column] = {}
    text_cells: dict[str, tuple[int, str]] = {}
    for k, v in lists.items():
        col, bad = json_column(list(v) + [None] * (n - len(v)))
        columns[k] = col
        if bad is not None:
            text_cells[k] = bad
    return Frame(columns, text_cells)


def _flatten(obj: dict[str, object], sep: str, prefix: str = "", depth: int = 0) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in obj.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, dict) and depth < MAX_DEPTH:
            out.update(_flatten(v, sep, key, depth + 1))
        else:
            out[key] = v
    return out


def is_hf_trainer_state(obj: object) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("log_history"), list)


def read_json(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    obj = load_json(raw)
    src = raw.source
    name = raw.run_name
    if is_hf_trainer_state(obj):
        assert isinstance(obj, dict)
        entries = [e for e in obj["log_history"] if isinstance(e, dict) and not _is_hf_summary(e)]
        dicts = sum(1 for e in obj["log_history"] if isinstance(e, dict))
        raw.notes.extend(_dropped(dicts, obj["log_history"], "log_history entry"))
        if not entries:
            raise LossdocError(src, "trainer_state.json has an empty log_history")
        frame = frame_from_records(entries, src)
        return histories_from_frame(frame, source=src, fmt="hf_trainer_state", overrides=overrides, name=name)
    if isinstance(obj, list):
        if obj and all(isinstance(v, (int, float)) or v is None for v in obj):
            frame = frame_from_lists({"loss": obj}, src)
            return histories_from_frame(
                frame, source=src, fmt="json_list", overrides=overrides, default_x_name="epoch", name=name
            )
        records = [r for r in obj if isinstance(r, dict)]
        if not records:
            raise NotALog(src, "JSON list holds no records or numbers")
        raw.notes.extend(_dropped(len(records), obj, "list item"))
        frame = frame_from_records(records, src)
        return histories_from_frame(frame, source=src, fmt="json_records", overrides=overrides, name=name)
    if isinstance(obj, dict):
        nested = any(isinstance(v, dict) for v in obj.values())
        frame = frame_from_lists(obj, src)
        fmt = "xgboost_json" if nested else "json_history"
        return histories_from_frame(
            frame,
            source=src,
            fmt=fmt,
            overrides=overrides,
            default_x_name="iteration" if nested else "epoch",
            name=name,
        )
    raise NotALog(src, f"JSON top level is a {type(obj).__name__}, not an object or list")


def _is_hf_summary(entry: dict[str, object]) -> bool:
    # The final summary entry's train_loss is a whole-run average, not a point on the curve.
    return "train_runtime" in entry or ("train_loss" in entry and "loss" not in entry and "total_flos" in entry)


def _clean_records(lines: list[str]) -> list[dict[str, object]] | None:
    """Every non-blank line one JSON object, no number too long for a float: the records, parsed by
    the C scanner in one pass. None for anything else, which the line-by-line reader then reads with
    its notes and errors (the same records, when there are any)."""
    scan = json.JSONDecoder().scan_once
    stripped = [s for s in map(str.strip, lines) if s]
    if not stripped or (max(map(len, stripped)) >= FLOAT_DIGITS and any(map(LONG_INT.search, stripped))):
        return None
    try:
        parsed = list(map(scan, stripped, repeat(0)))
    except (StopIteration, ValueError):
        return None
    if list(map(itemgetter(1), parsed)) != list(map(len, stripped)):
        return None  # something after a line's value
    records = list(map(itemgetter(0), parsed))
    return records if all(type(r) is dict for r in records) else None


def read_jsonl(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    text = raw.text()
    lines = text.splitlines()
    notes = []
    others: list[int] = []
    ints = _Ints()
    records = _clean_records(lines)
    if records is None:
        records = []
        # One line at a time: the C scanner with Python's own int parsing, and a line it refuses (or one
        # holding a number long enough to overflow a float: damage) through ``json.loads`` with the hook
        # that reads such a number as infinity and notes it.
        scan = json.JSONDecoder().scan_once
        for i, line in enumerate(lines):
            s = line.strip()
            if not s:
                continue
            try:
                if len(s) >= FLOAT_DIGITS and LONG_INT.search(s):
                    raise ValueError
                rec, end = scan(s, 0)
                if end != len(s):
                    raise ValueError
            except (StopIteration, ValueError):
                try:
                    rec = json.loads(s, parse_int=ints)
                except json.JSONDecodeError as exc:
                    if i == len(lines) - 1 and not text.endswith("\n"):
                        notes.append(f"ignored an incomplete last line (line {i + 1}); the log may still be written")
                        continue
                    raise LossdocError(raw.source, f"malformed JSON on line {i + 1} ({exc.msg})") from None
            if isinstance(rec, dict):
                records.append(rec)
            else:
                others.append(i + 1)
    # Every record holds a "{"; as many in the whole text as records means none holds a nested object.
    nested = text.count("{") > len(records)
    if not records:
        raise LossdocError(raw.source, "no JSON records found")
    if others:
        many = len(others) != 1
        notes.append(
            f"skipped {len(others):,} line{'s' if many else ''} holding JSON that is not an object "
            f"(the first: line {others[0]:,})"
        )
    notes.extend(ints.notes())
    frame = frame_from_records(records, raw.source, flat=not nested)
    frame.notes.extend(notes)
    fmt = jsonl_format(frame.names)
    return histories_from_frame(frame, source=raw.source, fmt=fmt, overrides=overrides, name=raw.run_name)


def jsonl_format(keys: list[str]) -> str:
    """Which framework wrote JSON Lines with these keys (the reader is the same; the name is reported)."""
    k = set(keys)
    if "iteration" in k and ({"total_loss", "eta_seconds", "data_time"} & k):
        return "detectron2_json"  # detectron2 JSONWriter: metrics.json
    if "step" in k and ({"iter", "epoch"} & k) and ({"lr", "data_time", "memory"} & k):
        return "mmengine_json"  # mmengine LocalVisBackend: vis_data/scalars.json
    if "current_steps" in k and "total_steps" in k:
        return "llamafactory_jsonl"  # LLaMA-Factory trainer_log.jsonl
    return "jsonl"
