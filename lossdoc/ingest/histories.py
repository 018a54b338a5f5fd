"""LossHistory runs from a :class:`~lossdoc.ingest.frame.Frame` (a table's columns) or from per-key
``(x, y)`` points: roles from the names (or ``--x/--train/--val``), one run per loss pair, and the
notes a reader's user should see (left-out points, repeated x, a counter within an outer counter)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory, Series, resolve_repeats
from lossdoc.ingest.base import NotALog
from lossdoc.ingest.frame import Column, Frame, bad_cell_note
from lossdoc.ingest.names import run_name
from lossdoc.ingest.roles import RolePlan, is_loss_scale_name, is_lr_name, plan_roles


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
            bad = frame.text_cells[missing]
            raise LossdocError(
                source, f"column '{missing}' holds text ('{bad.text}' in data row {bad.row + 1})"
            ) from None
        raise LossdocError(source, f"no column named '{missing}'; columns are: {', '.join(frame.names)}") from None
    text_loss = _text_loss_column(frame, ov)
    if text_loss is not None or not plans:
        if text_loss is not None:
            bad = frame.text_cells[text_loss]
            raise LossdocError(
                source, f"column '{text_loss}' holds text ('{bad.text}' in data row {bad.row + 1}), not numbers"
            )
        shown = ", ".join(frame.names[:30]) or "(none)"
        raise NotALog(source, f"no column looks like a loss; columns are: {shown} — use --train COL")
    base = name or run_name(source)
    shown = dict(display or {})
    runs = []
    for plan in plans:
        key = plan.train if plan.train is not None else plan.val
        label = base if len(plans) == 1 else f"{base} [{shown.get(key, key)}]"
        run = _history_from_plan(frame, plan, source=source, fmt=fmt, name=label, default_x_name=default_x_name)
        if shown:
            run.series = [dataclasses.replace(s, name=shown.get(s.name, s.name)) for s in run.series]
        runs.append(run)
    return runs


def _text_loss_column(frame: Frame, ov: Mapping[str, str | None]) -> str | None:
    """A text column (see :meth:`Frame.is_text`) that would be a loss of a run were it numbers.

    Without it the other columns would be planned as if it were not there: ``val_loss`` analysed as
    the training loss, a run reported healthy. Such a file is an input error naming the column.
    """
    text = [n for n in frame.text_cells if frame.is_text(n)]
    if not text or not any(plan_roles([n]) for n in text):
        return None
    counts = {n: int(np.count_nonzero(c.present)) for n, c in frame.columns.items()}
    for n, bad in frame.text_cells.items():
        counts[n] += bad.count
    try:
        plans = plan_roles(frame.names, x=ov.get("x"), train=ov.get("train"), val=ov.get("val"), counts=counts)
    except KeyError:
        return None
    if not plans:
        return next(n for n in text if plan_roles([n]))
    used = [c for p in plans for c in (p.train, p.val) if c is not None]
    return next((c for c in used if frame.is_text(c)), None)


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
    if plan.x is not None:
        loss_rows = np.zeros(n, dtype=bool)
        for c in (plan.train, plan.val):
            if c is not None:
                loss_rows |= frame.columns[c].present
        nested = _within_outer_counter(frame, plan.x, x_all, xcol.present & loss_rows)
        if nested is not None:
            outer, x_all = nested
            notes.append(
                f"x '{plan.x}' restarts each time '{outer}' advances (a count within each {outer}): "
                f"counted on across {outer}s"
            )
    if plan.x is not None and plan.x in frame.text_cells:
        notes.append(bad_cell_note(plan.x, frame.text_cells[plan.x]))
    series: list[Series] = []
    lr_name, above = _representative_lr(frame, plan.lr)
    if lr_name != plan.lr:
        notes.append(
            f"learning rate: '{lr_name}', the rate most parameter groups follow ('{plan.lr}' starts "
            f"{above:.0f}x higher: a bias warm-up, as YOLO's)"
        )
        plan = dataclasses.replace(plan, lr=lr_name)
    roles = (("train", plan.train), ("val", plan.val), ("lr", plan.lr), ("grad_norm", plan.grad_norm))
    used = {c for _, c in roles if c is not None}
    scale = next((c for c in frame.numeric_names if c not in used and is_loss_scale_name(c)), None)
    roles += (("other", scale),)  # a mixed-precision loss scale: a signal for the causes of blow-ups
    for role, col_name in roles:
        if col_name is None:
            continue
        col = frame.columns[col_name]
        has_x = xcol.present & np.isfinite(x_all)
        keep = col.present & has_x
        if role in ("train", "val") and plan.x is not None:
            lost = col.present & ~has_x
            if lost.any():
                count = int(lost.sum())
                notes.append(
                    f"left out {count:,} point{'s' if count != 1 else ''} of '{col_name}' with no usable "
                    f"'{x_name}' value (the first: data row {int(np.argmax(lost)) + 1:,})"
                )
        x, y = x_all[keep], col.values[keep]
        x, y, repeats = resolve_repeats(x, y)
        if repeats and role == "train":
            notes.append(
                f"x '{x_name}' repeats or goes backwards ({repeats} point(s), e.g. a resumed run): "
                "kept the last write of each x"
            )
        elif repeats and role == "val":
            notes.append(
                f"x '{x_name}' repeats or goes backwards in '{col_name}' ({repeats} point(s)): "
                "kept the last write of each x"
            )
        if y.size == 0 and (role == "train" or (role == "val" and plan.train is None)):
            raise LossdocError(source, f"loss column '{col_name}' has no values")
        if col_name in frame.text_cells:
            notes.append(bad_cell_note(col_name, frame.text_cells[col_name]))
        series.append(Series(name=col_name, role=role, x=x, y=y))  # type: ignore[arg-type]
    return LossHistory(source=source, format=fmt, name=name, x_name=x_name, series=series, notes=notes)


BIAS_WARMUP_RATIO = 10.0
"""A parameter group's rate that starts this many times above the rate the other groups follow is a
bias warm-up (YOLO's ``warmup_bias_lr`` of 0.1 against a weight rate rising from 0), not the run's rate."""


def _representative_lr(frame: Frame, lr: str | None) -> tuple[str | None, float]:
    """Of several per-group learning-rate columns (``lr/pg0``, ``lr/pg1``, ...), the one most groups
    follow, and how many times the median group's start ``lr`` starts: when that is
    :data:`BIAS_WARMUP_RATIO` or more, the first group that matches the median. Else ``lr`` itself."""
    if lr is None:
        return lr, 1.0
    groups = [n for n in frame.columns if is_lr_name(n)]
    if len(groups) < 3 or lr not in groups:
        return lr, 1.0
    first = [frame.columns[g].values[frame.columns[g].present][:1] for g in groups]
    if any(f.size == 0 or not np.isfinite(f[0]) for f in first):
        return lr, 1.0
    starts = np.array([float(f[0]) for f in first])
    mid = float(np.median(starts))
    own = starts[groups.index(lr)]
    if mid <= 0 or own < BIAS_WARMUP_RATIO * mid:
        return lr, 1.0
    return groups[int(np.argmin(np.abs(starts - mid)))], own / mid


def _within_outer_counter(
    frame: Frame, x_name: str, x_all: np.ndarray, present: np.ndarray
) -> tuple[str, np.ndarray] | None:
    """An x that counts within an outer counter (MMDetection's ``iter`` within ``epoch``): on the rows
    ``present`` (those with a loss), x falls back at every step of a column that never decreases and
    changes only there. Returns that column and x counted on across it (each block offset by the
    largest x of the blocks before it), or None.

    A resumed run also sends x back, but its epoch goes back too: it is left to the last-write rule.
    """
    rows = np.flatnonzero(present & np.isfinite(x_all))
    if rows.size < 3:
        return None
    x = x_all[rows]
    back = np.diff(x) < 0
    if not back.any():
        return None
    for name, col in frame.columns.items():
        if name == x_name or not col.present[rows].all():
            continue
        o = col.values[rows]
        step = np.diff(o)
        if not np.isfinite(o).all() or (step < 0).any() or not np.array_equal(step > 0, back):
            continue
        # each block is offset by the largest x of the blocks before it
        starts = np.concatenate([[0], np.flatnonzero(back) + 1])
        ends = np.concatenate([starts[1:], [x.size]])
        tops = np.array([x[a:b].max() for a, b in zip(starts, ends, strict=True)])
        offsets = np.concatenate([[0.0], np.cumsum(tops)[:-1]])
        counted = x + np.repeat(offsets, ends - starts)
        out = x_all.copy()
        out[rows] = counted
        return name, out
    return None


def histories_from_points(
    points: Mapping[str, tuple[np.ndarray, np.ndarray]],
    *,
    source: str,
    fmt: str,
    name: str,
    overrides: dict[str, str | None],
    display: Mapping[str, str] | None = None,
    notes: list[str] | None = None,
    x_name: str | None = None,
) -> list[LossHistory]:
    """Runs from per-key ``(x, y)`` points (TensorBoard tags, MLflow metrics), each key logged on its own x.

    ``x_name`` names the x axis when the reader knows it (a console log's ``epoch``); else ``step``.

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
    losses = [(display or {}).get(k, k) for p in plans for k in (p.train, p.val) if k is not None]
    if x_name is None or x_name in points:
        x_name = next(n for n in ("step", "global_step", "points_x") if n not in points)
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
