"""The Python API: ``lossdoc.analyze(obj)`` for whatever a notebook or a script holds.

>>> import lossdoc
>>> [d] = lossdoc.analyze(history.history)            # Keras History.history: a dict of lists
>>> d.verdict, [f.rule for f in d.findings]
>>> lossdoc.analyze("runs/")                          # paths, as ``lossdoc analyze`` reads them
>>> lossdoc.analyze(trainer.state.log_history)        # HF: a list of log dicts
>>> lossdoc.analyze(df)                               # a pandas DataFrame
>>> lossdoc.analyze(train=losses, val=val_losses)     # numpy arrays (x= for their steps)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lossdoc.diagnosis import Diagnosis
from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory

__all__ = ["analyze"]


def analyze(
    obj: Any = None,
    *,
    train: Any = None,
    val: Any = None,
    x: Any = None,
    val_x: Any = None,
    lr: Any = None,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    framework: str | None = None,
    name: str | None = None,
) -> list[Diagnosis]:
    """Diagnose training-loss histories; one :class:`Diagnosis` per run found.

    ``obj`` is a path or a list of paths (files, folders, as ``lossdoc analyze`` reads them), a pandas
    DataFrame, a dict of lists (Keras ``History.history``), or a list of dicts (HF ``log_history``).
    Without ``obj``, ``train=``/``val=`` are arrays of losses (``x=``/``val_x=`` their steps; default
    0, 1, 2, ...); with it, ``train=``/``val=``/``x=`` may name the columns to use. ``select``/``ignore``
    choose rules, ``params`` sets thresholds (``{"overfitting": {"min_rise": 0.1}}``), ``framework``
    the advice's API. Raises :class:`lossdoc.LossdocError` for input it cannot read.
    """
    from lossdoc.advice import advise
    from lossdoc.analysis import RULES, params_for
    from lossdoc.analysis import analyze as run_rules
    from lossdoc.policy import selected_rules

    rules = selected_rules(list(select or []), list(ignore or []), RULES)
    for slug, overrides in (params or {}).items():
        if slug not in RULES:
            raise LossdocError("params", f"unknown rule '{slug}'; rules are: {', '.join(RULES)}")
        try:
            params_for(slug, overrides)
        except KeyError as exc:
            raise LossdocError("params", f"{slug} has no parameter '{exc.args[0]}'") from None
    rule_params = {k: dict(v) for k, v in (params or {}).items()}
    diagnoses = []
    for h in histories(obj, train=train, val=val, x=x, val_x=val_x, lr=lr, name=name):
        d = run_rules(h, rules, rule_params)
        d.advice = advise(d, framework)
        diagnoses.append(Diagnosis.of(d))
    return diagnoses


def histories(
    obj: Any = None,
    *,
    train: Any = None,
    val: Any = None,
    x: Any = None,
    val_x: Any = None,
    lr: Any = None,
    name: str | None = None,
) -> list[LossHistory]:
    """The runs in ``obj`` (see :func:`analyze`), read but not diagnosed."""
    if obj is None:
        return [_from_arrays(train, val, x, val_x, lr, name or "run")]
    overrides = {k: v for k, v in (("x", x), ("train", train), ("val", val)) if v is not None}
    for key, value in overrides.items():
        if not isinstance(value, str):
            raise LossdocError(key, f"with a log given, {key}= names a column; pass arrays without a log")
    if isinstance(obj, (str, os.PathLike)) or (
        isinstance(obj, Sequence) and obj and all(isinstance(p, (str, os.PathLike)) for p in obj)
    ):
        return _from_paths(
            [os.fspath(obj)] if isinstance(obj, (str, os.PathLike)) else [os.fspath(p) for p in obj], overrides
        )
    if type(obj).__name__ == "DataFrame" and hasattr(obj, "columns"):
        return _from_json(_frame_lists(obj), "<DataFrame>", overrides, name)
    if isinstance(obj, Mapping):
        return _from_json(dict(obj), "<dict>", overrides, name)
    if isinstance(obj, Sequence) and all(isinstance(r, Mapping) for r in obj):
        records = [dict(r) for r in obj]
        looks_hf = any("step" in r for r in records) and any("loss" in r or "eval_loss" in r for r in records)
        return _from_json({"log_history": records} if looks_hf else records, "<records>", overrides, name)
    raise LossdocError(
        type(obj).__name__,
        "lossdoc.analyze reads a path, a list of paths, a DataFrame, a dict of lists or a list of dicts "
        "(or arrays given as train=, val=, x=)",
    )


def _from_paths(paths: list[str], overrides: dict[str, str]) -> list[LossHistory]:
    from lossdoc.ingest import expand, read_ref

    refs, errors = expand(paths)
    if errors:
        raise LossdocError(errors[0].source, errors[0].message)
    runs: list[LossHistory] = []
    for ref in refs:
        runs.extend(read_ref(ref, dict(overrides)))
    return runs


def _plain(value: Any) -> Any:
    """What json cannot write itself: numpy scalars and arrays, tensors with ``tolist``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return float(value)


def _frame_lists(df: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    if df.index.name is not None and str(df.index.name) not in map(str, df.columns):
        out[str(df.index.name)] = list(df.index)
    for column in df.columns:
        col = df[column]
        # A float NaN is a logged value (a finding); pandas' own missing markers are absent cells.
        out[str(column)] = [
            None if v is None or (missing and not isinstance(v, float)) else v
            for v, missing in zip(col.tolist(), col.isna().tolist(), strict=True)
        ]
    return out


def _from_json(obj: Any, source: str, overrides: dict[str, str], name: str | None) -> list[LossHistory]:
    from lossdoc.ingest.jsonlike import read_json
    from lossdoc.ingest.source import RawInput

    raw = RawInput(source=source, path=None, _data=json.dumps(obj, default=_plain).encode())
    raw.run_name = name
    return read_json(raw, dict(overrides))


def _from_arrays(train: Any, val: Any, x: Any, val_x: Any, lr: Any, name: str) -> LossHistory:
    import numpy as np

    from lossdoc.history import Series, resolve_repeats

    if train is None and val is None:
        raise LossdocError("lossdoc.analyze", "nothing to analyse: give a log, or train= (and val=) arrays")
    series = []
    steps = None if x is None else np.asarray(x, dtype=float).ravel()
    for role, values, xs in (("train", train, steps), ("val", val, val_x), ("lr", lr, steps)):
        if values is None:
            continue
        y = np.asarray(values, dtype=float).ravel()
        if xs is None and role == "val":
            xs = steps if steps is not None and steps.size == y.size else None
        xv = np.arange(y.size, dtype=float) if xs is None else np.asarray(xs, dtype=float).ravel()
        if xv.size != y.size:
            raise LossdocError(f"{role}=", f"{y.size} values but {xv.size} steps")
        xv, y, _ = resolve_repeats(xv, y)
        series.append(Series(name=f"{role}_loss" if role != "lr" else "lr", role=role, x=xv, y=y))  # type: ignore[arg-type]
    return LossHistory(
        source="<arrays>", format="arrays", name=name, x_name="step" if x is not None else "index", series=series
    )
