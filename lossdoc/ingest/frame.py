"""Frame: the columns of a tabular log (:mod:`lossdoc.ingest.histories` turns them into LossHistory runs).

A Frame keeps, per column, float values and a ``present`` mask: an empty cell (a sparse Lightning
row, a Keras ``NA``) is *absent* and dropped from that series, while a written ``nan``/``inf`` is
*present* and kept as a non-finite value, because it is a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from lossdoc.errors import LossdocError

MAX_COLUMNS = 10_000
"""A log with more columns (keys) than this is refused: real logs have tens, a YOLO or W&B export a
few hundred, and each column costs a pass over the rows (pandas renames repeated names in quadratic
time, see benchmarks/README.md)."""
MISSING_TOKENS = ("", "NA", "N/A", "na", "n/a", "null", "NULL", "None", "none", "-", "--")
NAN_TOKENS = frozenset({"nan", "-nan", "+nan", "nan(ind)", "-nan(ind)"})


@dataclass
class Column:
    values: np.ndarray  # float64; NaN where absent
    present: np.ndarray  # bool


class BadCells(NamedTuple):
    """The cells of a column that are neither numbers nor missing tokens (``oops``, ``0x10``, ``1.0.0``)."""

    row: int
    """The first one's data row (0-based)..."""
    text: str
    """...and its text (at most 40 characters)."""
    count: int
    """How many there are."""


@dataclass
class Frame:
    columns: dict[str, Column]
    # the cells that are not numbers, per column holding any (their Column has them as absent)
    text_cells: dict[str, BadCells] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def is_text(self, name: str) -> bool:
        """Whether a column is text, not numbers: most of its written cells are not numbers.

        A column with a few bad cells among its numbers (one ``oops`` in 60 losses) is read as
        numbers with those cells missing, and the run says so (:func:`bad_cell_note`): dropping the
        whole column would silently hand its role to another column (``val_loss`` analysed as the
        training loss)."""
        bad = self.text_cells.get(name)
        return bad is not None and bad.count > int(np.count_nonzero(self.columns[name].present))

    @property
    def numeric_names(self) -> list[str]:
        return [n for n in self.columns if not self.is_text(n)]


def bad_cell_note(name: str, bad: BadCells) -> str:
    """The run note for a numeric column's cells that are not numbers (read as missing)."""
    first = f"'{bad.text}' in data row {bad.row + 1}"
    if bad.count == 1:
        return f"column '{name}': read {first} as missing (not a number)"
    return f"column '{name}': read {bad.count:,} cells that are not numbers as missing (the first: {first})"


def check_columns(source: str, count: int) -> None:
    """Refuse a log of more than MAX_COLUMNS columns before reading its rows."""
    if count > MAX_COLUMNS:
        raise LossdocError(
            source, f"{count:,} columns, more than the {MAX_COLUMNS:,} a loss log could have; refusing to read it"
        )


def column_from_values(values: np.ndarray) -> Column:
    vals = np.asarray(values, dtype=np.float64)
    return Column(vals, ~np.isnan(vals))


def column_from_objects(items: list[object]) -> tuple[Column, BadCells | None]:
    """A column from JSON values: numbers, None (absent), or strings like "NaN" / "Infinity"."""
    n = len(items)
    values = np.full(n, np.nan)
    present = np.zeros(n, dtype=bool)
    first: tuple[int, str] | None = None
    count = 0
    for i, v in enumerate(items):
        if v is None:
            continue
        if isinstance(v, bool):
            values[i], present[i] = float(v), True
        elif isinstance(v, (int, float)):
            try:
                values[i] = float(v)
            except OverflowError:
                values[i] = np.inf if v > 0 else -np.inf  # type: ignore[operator]
            present[i] = True
        elif isinstance(v, str):
            s = v.strip()
            if s in MISSING_TOKENS:
                continue
            try:
                values[i], present[i] = float(s), True
            except ValueError:
                count += 1
                first = first or (i, v[:40])
        else:
            count += 1
            first = first or (i, type(v).__name__)
    return Column(values, present), BadCells(*first, count) if first is not None else None


def frame_from_pandas(df: object) -> Frame:
    """A Frame from a DataFrame read with missing tokens as NA and ``nan`` text kept as text."""
    # start-up time: pandas only when a table needs it
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    columns: dict[str, Column] = {}
    text_cells: dict[str, BadCells] = {}
    junk = np.zeros(len(df), dtype=bool)
    all_missing = np.ones(len(df), dtype=bool)
    for name in df.columns:
        col = df[name]
        key = str(name).strip()
        if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
            c = column_from_values(col.to_numpy(dtype=np.float64, na_value=np.nan))
            columns[key] = c
            all_missing &= ~c.present
            continue
        s = col.astype("string").str.strip()
        missing = s.isna().to_numpy() | s.isin(MISSING_TOKENS).to_numpy()
        parsed = pd.to_numeric(s.where(~pd.Series(missing, index=s.index)), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        is_nan_text = s.str.lower().isin(NAN_TOKENS).fillna(False).to_numpy(dtype=bool)
        bad = ~missing & np.isnan(parsed) & ~is_nan_text
        columns[key] = Column(parsed, ~missing & ~bad)
        all_missing &= missing
        if bad.any():
            junk |= bad
            first = int(np.argmax(bad))
            text_cells[key] = BadCells(first, str(s.iloc[first])[:40], int(bad.sum()))
    frame = Frame(columns, text_cells)
    if text_cells:
        # Rows with no number at all (a repeated header after an append, merge-conflict markers,
        # a stray comment) are not data: drop them and say so.
        has_number = np.zeros(len(df), dtype=bool)
        for c in columns.values():
            has_number |= c.present
        drop = junk & ~has_number
        if drop.any():
            keep = ~drop
            frame = Frame({k: Column(c.values[keep], c.present[keep]) for k, c in columns.items()})
            frame.text_cells = _first_bad_cells(df, keep, frame)
            frame.notes.append(f"skipped {int(drop.sum())} non-data line(s) (repeated headers or markers)")
    return frame


def _first_bad_cells(df: object, keep: np.ndarray, frame: Frame) -> dict[str, BadCells]:
    # start-up time: pandas only when a table needs it
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    out: dict[str, BadCells] = {}
    for name in df.columns:
        key = str(name).strip()
        col = frame.columns[key]
        s = df[name][keep].astype("string").str.strip()
        missing = s.isna().to_numpy() | s.isin(MISSING_TOKENS).to_numpy()
        is_nan_text = s.str.lower().isin(NAN_TOKENS).fillna(False).to_numpy(dtype=bool)
        bad = ~missing & ~col.present & ~is_nan_text
        if bad.any():
            first = int(np.argmax(bad))
            out[key] = BadCells(first, str(s.iloc[first])[:40], int(bad.sum()))
    return out
