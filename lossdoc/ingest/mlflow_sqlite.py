"""An MLflow SQLite tracking store (``mlflow.db``, or ``sqlite:///path/mlflow.db``): every active run.

Entry points: :func:`is_mlflow_sqlite` (``sqlite:///`` URIs and files starting with SQLite's magic
bytes) and :func:`read_mlflow_sqlite`. Read with the standard library's ``sqlite3``, read-only
(``mode=ro``), so mlflow need not be installed. Each active run is a run named
``experiment/run_name``, its metrics are its series (x = MLflow's step) and its params are kept on it.
MLflow stores a NaN as 0 with ``is_nan`` set and ±Inf as ±the largest float: both are read back as
the non-finite values they were.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.base import NotALog

FORMAT = "mlflow_sqlite"
SQLITE_MAGIC = b"SQLite format 3\x00"
URI_PREFIX = "sqlite:///"
FLOAT_MAX = sys.float_info.max


def _path(spec: str) -> str:
    return spec[len(URI_PREFIX) - 1 :] if spec.startswith(URI_PREFIX + "/") else spec.removeprefix(URI_PREFIX)


def is_mlflow_sqlite(spec: str) -> bool:
    """Whether ``spec`` names a SQLite database: a ``sqlite:///`` URI, or a file with SQLite's header."""
    if spec.startswith(URI_PREFIX):
        return True
    if spec == "-":
        return False
    try:
        if not stat.S_ISREG(os.stat(spec).st_mode):
            return False  # opening a named pipe with no writer would block forever
        with open(spec, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def read_mlflow_sqlite(spec: str, overrides: dict[str, str | None], name: str | None = None) -> list[LossHistory]:
    """One run per active MLflow run in the database (see the module docstring)."""
    # start-up time: only for an MLflow store
    import sqlite3
    from urllib.parse import quote

    from lossdoc.ingest.histories import histories_from_points

    path = Path(_path(spec))
    source = str(spec)
    if not path.is_file():
        raise LossdocError(source, "no such file" if not path.exists() else "not a file")
    try:
        con = sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LossdocError(source, f"cannot open the SQLite database ({exc})") from None
    try:
        wanted = overrides.get("experiment")
        try:
            runs = con.execute(
                "SELECT r.run_uuid, r.name, e.name FROM runs r JOIN experiments e ON r.experiment_id = e.experiment_id"
                " WHERE r.lifecycle_stage = 'active' AND e.lifecycle_stage = 'active' AND (? IS NULL OR e.name = ?)"
                " ORDER BY e.experiment_id, r.start_time, r.run_uuid",
                (wanted, wanted),
            ).fetchall()
            experiments = [n for (n,) in con.execute("SELECT name FROM experiments ORDER BY experiment_id")]
        except sqlite3.DatabaseError as exc:
            raise LossdocError(source, f"a SQLite database, but not an MLflow tracking store ({exc})") from None
        if wanted is not None and wanted not in experiments:
            shown = ", ".join(experiments[:30])
            raise LossdocError(source, f"no experiment named '{wanted}'; experiments are: {shown}")
        out: list[LossHistory] = []
        for run_id, run_name, experiment in runs:
            rows = con.execute(
                "SELECT key, step, value, is_nan FROM metrics WHERE run_uuid = ? ORDER BY key, timestamp, step",
                (run_id,),
            ).fetchall()
            if not rows:
                continue
            params = dict(con.execute("SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key", (run_id,)))
            label = f"{experiment}/{run_name or run_id}"
            try:
                histories = histories_from_points(
                    _points(rows), source=source, fmt=FORMAT, name=label, overrides=overrides, x_name="step"
                )
            except NotALog:
                continue  # a run that logged no loss (only accuracy): the others are still read
            for h in histories:
                h.params = params
            out += histories
    finally:
        con.close()
    if not out:
        raise NotALog(source, f"no MLflow run in this database logged a loss ({len(runs)} active run(s))")
    return out


def _points(rows: list[tuple[str, int, float, int]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    points: dict[str, tuple[list[float], list[float]]] = {}
    for key, step, value, is_nan in rows:
        xs, ys = points.setdefault(key, ([], []))
        xs.append(float(step))
        ys.append(float("nan") if is_nan else float(value))
    out = {}
    for key, (xs, ys) in points.items():
        y = np.asarray(ys, dtype=np.float64)
        y[np.abs(y) >= FLOAT_MAX] *= np.inf  # MLflow's ±Inf
        out[key] = (np.asarray(xs, dtype=np.float64), y)
    return out
