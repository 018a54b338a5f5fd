"""Frame: the columns of a tabular log, and turning them into LossHistory runs.

A Frame keeps, per column, float values and a ``present`` mask: an empty cell (a sparse Lightning
row, a Keras ``NA``) is *absent* and dropped from that series, while a written ``nan``/``inf`` is
*present* and kept as a non-finite value, because it is a finding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory, Series, resolve_repeats
from lossdoc.ingest import NotALog
from lossdoc.ingest.names import GENERIC_LOG_STEMS, log_stem
from lossdoc.ingest.roles import RolePlan, plan_roles

MISSING_TOKENS = ("", "NA", "N/A", "na", "n/a", "null", "NULL", "None", "none", "-", "--")
NAN_TOKENS = frozenset({"nan", "-nan", "+nan", "nan(ind)", "-nan(ind)"})


@dataclass
class Column:
    values: np.ndarray  # float64; NaN where absent
    present: np.ndarray  # bool


@dataclass
class Frame:
    columns: dict[str, Column]
    # first bad cell per text-holding column: (row index, text)
    text_cells: dict[str, tuple[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def numeric_names(self) -> list[str]:
        return [n for n in self.columns if n not in self.text_cells]


def column_from_values(values: np.ndarray) -> Column:
    vals = np.asarray(values, dtype=np.float64)
    return Column(vals, ~np.isnan(vals))


def column_from_objects(items: list[object]) -> tuple[Column, tuple[int, str] | None]:
    """A column from JSON values: numbers, None (absent), or strings like "NaN" / "Infinity"."""
    n = len(items)
    values = np.full(n, np.nan)
    present = np.zeros(n, dtype=bool)
    bad: tuple[int, str] | None = None
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
                if bad is None:
                    bad = (i, v[:40])
        elif bad is None:
            bad = (i, type(v).__name__)
    return Column(values, present), bad


def frame_from_pandas(df: object) -> Frame:
    """A Frame from a DataFrame read with missing tokens as NA and ``nan`` text kept as text."""
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    columns: dict[str, Column] = {}
    text_cells: dict[str, tuple[int, str]] = {}
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
            text_cells[key] = (first, str(s.iloc[first])[:40])
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


def _first_bad_cells(df: object, keep: np.ndarray, frame: Frame) -> dict[str, tuple[int, str]]:
    import pandas as pd

    assert isinstance(df, pd.DataFrame)
    out: dict[str, tuple[int, str]] = {}
    for name in df.columns:
        key = str(name).strip()
        col = frame.columns[key]
        s = df[name][keep].astype("string").str.strip()
        missing = s.isna().to_numpy() | s.isin(MISSING_TOKENS).to_numpy()
        is_nan_text = s.str.lower().isin(NAN_TOKENS).fillna(False).to_numpy(dtype=bool)
        bad = ~missing & ~col.present & ~is_nan_text
        if bad.any():
            first = int(np.argmax(bad))
            out[key] = (first, str(s.iloc[first])[:40])
    return out


def run_name(source: str) -> str:
    """A run's name from its path: the file stem, or the folder for generic names like metrics.csv."""
    if source == "<stdin>":
        return "stdin"
    p = Path(source)
    stem = log_stem(p.name)
    if stem.lower() in GENERIC_LOG_STEMS and p.parent.name not in ("", "."):
        return p.parent.name
    return stem


def histories_from_frame(
    frame: Frame,
    *,
    source: str,
    fmt: str,
    overrides: dict[str, str | None] | None = None,
    default_x_name: str = "row",
    name: str | None = None,
    display: Mapping[str, str] | None = None,
) -> list[LossHistory]:
    """Runs from a frame: roles from column names (or overrides), one run per loss pair.

    ``display`` maps a column's name in the frame to the name its series carries, for readers that
    must rename columns to infer roles (a Keras TensorBoard ``validation/`` folder's ``epoch_loss``).
    """
    ov = overrides or {}
    names = frame.numeric_names
    counts = {n: int(np.count_nonzero(frame.columns[n].present)) for n in names}
    try:
        plans = plan_roles(names, x=ov.get("x"), train=ov.get("train"), val=ov.get("val"), counts=counts)
    except KeyError as exc:
        missing = exc.args[0]
        if missing in frame.text_cells:
            row, text = frame.text_cells[missing]
            raise LossdocError(source, f"column '{missing}' holds text ('{text}' in data row {row + 1})") from None
        raise LossdocError(source, f"no column named '{missing}'; columns are: {', '.join(frame.names)}") from None
    if not plans:
        text_loss = [n for n in frame.text_cells if plan_roles([n])]
        if text_loss:
            row, text = frame.text_cells[text_loss[0]]
            raise LossdocError(
                source, f"column '{text_loss[0]}' holds text ('{text}' in data row {row + 1}), not numbers"
            )
        shown = ", ".join(frame.names[:30]) or "(none)"
        raise NotALog(source, f"no column looks like a loss; columns are: {shown} — use --train COL")
    base = name or run_name(source)
    shown = dict(display or {})
    runs = []
    for plan in plans:
        label = base if len(plans) == 1 else f"{base} [{shown.get(plan.train, plan.train)}]"
        run = _history_from_plan(frame, plan, source=source, fmt=fmt, name=label, default_x_name=default_x_name)
        if shown:
            run.series = [dataclasses.replace(s, name=shown.get(s.name, s.name)) for s in run.series]
        runs.append(run)
    return runs


def _history_from_plan(
    frame: Frame, plan: RolePlan, *, source: str, fmt: str, name: str, default_x_name: str
) -> LossHistory:
    n = len(next(iter(frame.columns.values())).values)
    if plan.x is not None:
        xcol = frame.columns[plan.x]
        x_all = xcol.values
        x_name = plan.x
    else:
        x_all = np.arange(n, dtype=np.float64)
        xcol = Column(x_all, np.ones(n, dtype=bool))
        x_name = default_x_name
    notes = list(frame.notes)
    series: list[Series] = []
    roles = (("train", plan.train), ("val", plan.val), ("lr", plan.lr), ("grad_norm", plan.grad_norm))
    for role, col_name in roles:
        if col_name is None:
            continue
        col = frame.columns[col_name]
        keep = col.present & xcol.present & np.isfinite(x_all)
        x, y = x_all[keep], col.values[keep]
        x, y, repeats = resolve_repeats(x, y)
        if repeats and role == "train":
            notes.append(
                f"x '{x_name}' repeats or goes backwards ({repeats} point(s), e.g. a resumed run): "
                "kept the last write of each x"
            )
        if role == "train" and y.size == 0:
            raise LossdocError(source, f"loss column '{col_name}' has no values")
        series.append(Series(name=col_name, role=role, x=x, y=y))  # type: ignore[arg-type]
    return LossHistory(source=source, format=fmt, name=name, x_name=x_name, series=series, notes=notes)


def histories_from_points(
    points: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    source: str,
    fmt: str,
    name: str,
    overrides: dict[str, str | None],
    display: Mapping[str, str] | None = None,
    notes: list[str] | None = None,
) -> list[LossHistory]:
    """Runs from per-key ``(x, y)`` points (TensorBoard tags, MLflow metrics), each key logged on its own x.

    Roles are planned from the keys first, so only the columns a run uses are laid out: one sparse
    row per point, as in a Lightning CSV (a hundred tags of a million points each stay cheap).
    """
    counts = {k: int(p[0].size) for k, p in points.items()}
    try:
        plans = plan_roles(list(points), train=overrides.get("train"), val=overrides.get("val"), counts=counts)
    except KeyError:
        plans = []  # an unknown --train/--val key: histories_from_frame names it and lists the keys
    needed = {c for p in plans for c in (p.train, p.val, p.lr, p.grad_norm) if c is not None}
    needed |= {c for c in (overrides.get("train"), overrides.get("val")) if c in points}
    kept = [k for k in points if k in needed] or list(points)  # none: the error lists every key
    x_name = next(n for n in ("step", "global_step", "points_x") if n not in points)
    losses = [(display or {}).get(k, k) for p in plans for k in (p.train, p.val) if k is not None]
    if losses and "epoch" not in points and all(k.rsplit("/", 1)[-1].startswith("epoch_") for k in losses):
        x_name = "epoch"  # Keras's TensorBoard callback logs epoch_loss once per epoch, at step = epoch
    total = sum(points[k][0].size for k in kept)
    columns: dict[str, Column] = {
        x_name: Column(np.concatenate([np.asarray(points[k][0], dtype=np.float64) for k in kept]), np.ones(total, bool))
    }
    offset = 0
    for k in kept:
        x, y = points[k]
        values = np.full(total, np.nan)
        present = np.zeros(total, dtype=bool)
        values[offset : offset + x.size] = y
        present[offset : offset + x.size] = True
        columns[k] = Column(values, present)
        offset += x.size
    frame = Frame(columns, notes=list(notes or []))
    ov = {**overrides, "x": overrides.get("x") or x_name}
    return histories_from_frame(frame, source=source, fmt=fmt, overrides=ov, name=name, display=display)
