"""Numeric files with no header: ``np.savetxt`` output and CSVs whose first row is already numbers.

Recognised by :func:`is_headerless` (every field of the first line is a number). The columns are
named by position, ``0``, ``1``, ... as pandas and numpy call them; ``--train col2`` and ``--train 2``
both pick the third. The first column is the loss, or the x axis when it is a strictly increasing
integer (a step counter) and another column follows; the run's notes say what was assumed.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.source import RawInput

FORMAT = "headerless"
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
COLUMN_ALIAS = re.compile(r"col(?:umn)?[ _]?(\d+)", re.IGNORECASE)
SNIFF_LINES = 5


def split_fields(line: str, delim: str) -> list[str]:
    """A line's fields, stripped (``delim`` as :func:`~lossdoc.ingest.delimited.sniff_delimiter` gives it)."""
    return line.split() if delim == r"\s+" else [f.strip() for f in line.split(delim)]


def is_headerless(head: str) -> bool:
    """Whether the first lines are rows of numbers only (no header): cheap, on the sniff window."""
    from lossdoc.ingest.delimited import sniff_delimiter

    lines = [ln for ln in head.splitlines()[: SNIFF_LINES + 1] if ln.strip()]
    if len(lines) > 1 and not head.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sniff window may cut the last line
    if not lines:
        return False
    delim = sniff_delimiter(head)
    return all(
        (fields := split_fields(ln, delim)) and all(NUMBER.fullmatch(f) for f in fields) for ln in lines[:SNIFF_LINES]
    )


def _position(name: str | None, count: int) -> str | None:
    """A column as the command line names it (``col2``, ``column 2`` or ``2``) -> its name here (``2``)."""
    if name is None:
        return None
    m = COLUMN_ALIAS.fullmatch(name.strip())
    return m.group(1) if m else name.strip()


def _is_step_counter(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return (
        finite.size == values.size
        and values.size > 1
        and bool(np.all(values == np.round(values)))
        and bool(np.all(np.diff(values) > 0))
    )


def read_headerless(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """The runs of a headerless numeric file (see the module docstring)."""
    from lossdoc.ingest.delimited import read_frame, sniff_delimiter
    from lossdoc.ingest.histories import histories_from_frame

    head = raw.head_text().lstrip("\ufeff")
    delim = sniff_delimiter(head)
    first = next(ln for ln in head.splitlines() if ln.strip())
    count = len(split_fields(first, delim))
    sep = " " if delim == r"\s+" else delim
    header = sep.join(str(i) for i in range(count)) + "\n"
    # The same parser as any CSV (cut-off last lines, bad cells, NaN spellings), given a header of positions.
    framed = dataclasses.replace(raw, path=None, _data=header.encode() + raw.data.lstrip(b"\xef\xbb\xbf"))
    frame = read_frame(framed)
    ov = {k: _position(v, count) for k, v in overrides.items()}
    for role in ("x", "train", "val"):
        if ov.get(role) is not None and ov[role] not in frame.columns:
            raise LossdocError(
                raw.source,
                f"no column '{overrides[role]}': this file has no header and {count} column(s), "
                f"named 0..{count - 1} (or col0..col{count - 1})",
            )
    names = ", ".join(frame.names) if count <= 6 else f"0, 1, ... {count - 1}"
    if ov.get("train") is None and ov.get("val") is None:
        if count > 1 and ov.get("x") is None and _is_step_counter(frame.columns["0"].values):
            ov.update(x="0", train="1")
            assumed = "column 0 counts up in whole steps: read it as x and column 1 as the training loss"
        else:
            ov["train"] = "0"
            assumed = "read column 0 as the training loss" + ("" if ov.get("x") else ", x = row number")
    else:
        picked = ", ".join(f"{role} = column {ov[role]}" for role in ("x", "train", "val") if ov.get(role))
        assumed = f"read {picked}"
    note = f"no header: {assumed}; the columns are named by position ({names}); pick another with --train colN"
    frame.notes.insert(0, note)
    return histories_from_frame(frame, source=raw.source, fmt=FORMAT, overrides=ov, name=raw.run_name)
