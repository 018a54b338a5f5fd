"""Long-format metric exports: one row per (metric, step, value), pivoted to one series per metric.

Recognised from the header (:func:`long_columns`): a metric-name column (``metric``, ``key``, ``tag``),
a ``value`` column and a step column (``step``, ``_step``, ``global_step``, ``iteration``, ``epoch``).
Written by MLflow (``metric,step,timestamp,value`` with ``run_id`` / ``run_name`` / ``experiment_id``
columns, e.g. from ``MlflowClient.get_metric_history`` or ``mlflow.search_runs`` exports), by
TensorBoard's ``ExperimentFromDev.get_scalars()`` / ``EventAccumulator`` dumps (``run,tag,step,value``)
and by scripts that flatten W&B's ``scan_history``. Each run id (or run name) is a run of its own.
"""

from __future__ import annotations

import sys

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog
from lossdoc.ingest.source import RawInput

FORMAT = LONG_FORMATS = ("mlflow_long_csv", "tb_long_csv", "long_csv")
KEY_NAMES = ("metric", "key", "tag", "metric_name", "name")
VALUE_NAMES = ("value", "metric_value")
STEP_NAMES = ("step", "_step", "global_step", "iteration", "iter", "epoch")
RUN_NAMES = ("run_id", "run_uuid", "run", "run_name", "experiment_id", "experiment_name", "experiment")
"""Columns that tell runs apart, most specific first; a run is named by its run_name (or run) when there is one."""


def _split_header(head: str) -> tuple[str, list[str]] | None:
    from lossdoc.ingest.delimited import sniff_delimiter

    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    delim = sniff_delimiter(head)
    if delim == r"\s+":
        return None
    return delim, [f.strip().strip('"').lower() for f in first.split(delim)]


def long_columns(names: list[str]) -> tuple[str, str, str] | None:
    """The (metric, step, value) columns of a long-format header (lower-cased names), or None."""
    key = next((n for n in KEY_NAMES if n in names), None)
    value = next((n for n in VALUE_NAMES if n in names), None)
    step = next((n for n in STEP_NAMES if n in names), None)
    if key is None or value is None or step is None:
        return None
    return key, step, value


def is_long_format(head: str) -> bool:
    split = _split_header(head)
    return split is not None and long_columns(split[1]) is not None


def _format(names: list[str]) -> str:
    if "timestamp" in names and ("run_id" in names or "run_uuid" in names or "metric" in names):
        return "mlflow_long_csv"
    if "tag" in names:
        return "tb_long_csv"
    return "long_csv"


def read_long_format(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """One run per run id (or the whole file when it has no run column), one series per metric."""
    import io

    # start-up time: pandas only when a table needs it
    import pandas as pd

    from lossdoc.ingest.histories import histories_from_points
    from lossdoc.ingest.names import run_name

    split = _split_header(raw.head_text().lstrip("\ufeff"))
    assert split is not None
    delim, _ = split
    try:
        df = pd.read_csv(io.StringIO(raw.text()), sep=delim, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise LossdocError(raw.source, f"cannot parse as CSV ({str(exc).strip().splitlines()[0]})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    names = list(df.columns)
    cols = long_columns(names)
    assert cols is not None
    key, step, value = cols
    fmt = _format(names)
    run_cols = [c for c in RUN_NAMES if c in names]
    group_col = run_cols[0] if run_cols else None
    label_col = next((c for c in ("run_name", "run", "experiment_name") if c in names), group_col)
    x = pd.to_numeric(df[step].str.strip(), errors="coerce").to_numpy(dtype=np.float64, copy=True)
    text = df[value].str.strip()
    y = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    y[text.str.lower().isin(["inf", "infinity", "+inf"]).to_numpy()] = np.inf
    y[text.str.lower().isin(["-inf", "-infinity"]).to_numpy()] = -np.inf
    if fmt == "mlflow_long_csv":
        y[np.abs(y) >= sys.float_info.max] *= np.inf  # MLflow returns ±Inf as ±the largest float
    written = text.ne("").to_numpy() & ~np.isnan(x)
    base = raw.run_name or run_name(raw.source)
    groups = (
        [("", np.ones(len(df), dtype=bool))]
        if group_col is None
        else [(str(g), (df[group_col] == g).to_numpy()) for g in dict.fromkeys(df[group_col])]
    )
    runs: list[LossHistory] = []
    for group, rows in groups:
        mask = rows & written
        keys = df[key][mask].str.strip()
        points: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for metric in dict.fromkeys(keys):
            sel = np.flatnonzero(mask)[(keys == metric).to_numpy()]
            points[metric] = (x[sel], y[sel])  # in file order: a step going back is a resume, noted
        if not points:
            continue
        label = str(df[label_col][rows].iloc[0]) if label_col else group
        name = base if len(groups) == 1 else f"{base} [{label}]"
        try:
            runs += histories_from_points(
                points, source=raw.source, fmt=fmt, name=name, overrides=overrides, x_name=step
            )
        except NotALog:
            continue  # a run that logged no loss (only accuracy): the others are still read
    if not runs:
        shown = ", ".join(sorted(set(df[key].str.strip()))[:30])
        raise NotALog(raw.source, f"no metric looks like a loss; metrics are: {shown} — use --train METRIC")
    return runs
