"""MLflow's file store: ``mlruns/<experiment>/<run>/metrics/<key>``.

Each metric is its own file of lines ``<unix ms> <value> [<step>]`` (keys holding ``/`` become
sub-folders). A run folder is read as one run over all its metric files, roles inferred from the
keys; a metric file named on its own is a run of that one series. MLflow appends: a resumed run's
repeated steps are resolved later-write-wins like every other format. Very old files have no step
field (MLflow reads it as 0): such a metric is put on its logging order instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lossdoc.errors import LossdocError
from lossdoc.history import LossHistory
from lossdoc.ingest.base import LogRef, NotALog
from lossdoc.ingest.histories import histories_from_points
from lossdoc.ingest.source import RawInput, decode

FORMAT = "mlflow"
RUN_NAME_TAG = Path("tags") / "mlflow.runName"


def parse_metric(text: str, source: str, key: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Steps and values of one metric file, and whether the steps had to be replaced by the line order."""
    rows = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not rows:
        raise LossdocError(source, f"MLflow metric '{key}' is empty")
    widths = {len(r) for r in rows}
    if not widths <= {2, 3}:
        bad = next(i for i, r in enumerate(rows) if len(r) not in (2, 3))
        raise LossdocError(source, f"MLflow metric '{key}' line {bad + 1} is not 'timestamp value [step]'")
    try:
        values = np.array([float(r[1]) for r in rows], dtype=np.float64)
        steps = np.array([float(r[2]) if len(r) == 3 else 0.0 for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise LossdocError(source, f"MLflow metric '{key}' holds a value that is not a number ({exc})") from None
    if steps.size > 1 and np.all(steps == steps[0]):
        return np.arange(steps.size, dtype=np.float64), values, True
    return steps, values, False


def _read_text(path: Path, source: str) -> str:
    from lossdoc.ingest.source import read_limited

    try:
        return decode(source, read_limited(path, source))
    except OSError as exc:
        raise LossdocError(source, f"cannot read {path.name} ({exc.strerror or exc})") from None


def read_mlflow_run(ref: LogRef, overrides: dict[str, str | None]) -> list[LossHistory]:
    folder = Path(ref.path)
    source = ref.source or ref.path
    metrics_dir = folder / "metrics"
    files = sorted(p for p in metrics_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise NotALog(source, "MLflow run has no metric files")
    points: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    notes: list[str] = []
    for f in files:
        key = f.relative_to(metrics_dir).as_posix()
        steps, values, by_order = parse_metric(_read_text(f, source), source, key)
        points[key] = (steps, values)
        if by_order:
            notes.append(f"MLflow metric '{key}' has no steps: x is the order it was logged in")
    name = ref.name or _run_name(folder) or folder.name
    return histories_from_points(points, source=source, fmt=FORMAT, name=name, overrides=overrides, notes=notes)


def _run_name(folder: Path) -> str | None:
    tag = folder / RUN_NAME_TAG
    try:
        text = tag.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text or None


def read_mlflow_metric_file(raw: RawInput, overrides: dict[str, str | None]) -> list[LossHistory]:
    """One metric file named on the command line: a run of that series, keyed as MLflow keys it."""
    key = "value"
    name = raw.run_name or "stdin"
    if raw.path is not None:
        parts = raw.path.resolve().parts
        if "metrics" in parts:
            i = len(parts) - 1 - parts[::-1].index("metrics")
            key = "/".join(parts[i + 1 :]) or raw.path.name
            run_folder = Path(*parts[:i])
            name = raw.run_name or _run_name(run_folder) or run_folder.name
        else:
            key = raw.path.name
            name = raw.run_name or raw.path.parent.name or raw.path.name
    steps, values, by_order = parse_metric(raw.text(), raw.source, key)
    notes = [f"MLflow metric '{key}' has no steps: x is the order it was logged in"] if by_order else []
    ov = overrides if overrides.get("train") else {**overrides, "train": key}
    return histories_from_points(
        {key: (steps, values)}, source=raw.source, fmt=FORMAT, name=name, overrides=ov, notes=notes
    )
