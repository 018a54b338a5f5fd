"""Golden curves: a compact reference of a run, kept in the repository, and the check of a new run
against it.

A golden file holds, per loss series (training, validation), the smoothed curve at most
``GOLDEN_POINTS`` x values with its noise band (lower and upper loss), the best point, the final value
and a digest of the exact logged values, plus the run's findings and a ``schema_version``.
``check`` smooths the new run the same way (:mod:`lossdoc.compare.align`) and fails when its
smoothed curve leaves the band for ``PERSIST_POINTS`` points in a row:

* ``auto`` (the default) — the band is the wider of the golden run's own noise band and the new
  run's (like Megatron-LM's approximate lane: a rerun with another seed passes);
* a percentage, ``5%`` — the band is ± that ratio around the golden curve (llm.c's "fail if the loss
  moves more than 5%");
* ``exact`` — the logged values must be bit-identical (the digest), where training is deterministic.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossdoc import __version__
from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.types import Diagnosis
from lossdoc.compare.align import MIN_BAND, PERSIST_POINTS, Alignment, Curve, curve
from lossdoc.errors import LossdocError

SCHEMA = "lossdoc.golden"
SCHEMA_VERSION = 1
GOLDEN_POINTS = 300
"""A golden curve keeps at most this many points: enough to place a departure within a third of a
percent of the run, small enough to review in a diff."""
ROLES = ("train", "val")


def digest(x: np.ndarray, y: np.ndarray) -> str:
    """SHA-256 of the logged x and y as float64: equal only for bit-identical logs."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x, dtype="<f8").tobytes())
    h.update(np.ascontiguousarray(y, dtype="<f8").tobytes())
    return h.hexdigest()


def _thin(n: int, most: int = GOLDEN_POINTS) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))


def _series_doc(c: Curve, raw_x: np.ndarray, raw_y: np.ndarray, name: str) -> dict[str, Any]:
    keep = _thin(c.trend_x.size)
    t = c.trend[keep]
    best_x, best = c.best
    return {
        "name": name,
        "log_space": c.log_space,
        "scale": c.scale,
        "band": c.band,
        "x": c.trend_x[keep].tolist(),
        "smoothed": np.asarray(c.to_loss(t)).tolist(),
        "lower": np.asarray(c.to_loss(t - c.band)).tolist(),
        "upper": np.asarray(c.to_loss(t + c.band)).tolist(),
        "best": {"x": best_x, "value": best},
        "final": c.final,
        "points": int(raw_y.size),
        "sha256": digest(raw_x, raw_y),
    }


def golden_document(d: Diagnosis) -> dict[str, Any]:
    h = d.history
    series: dict[str, Any] = {}
    for role in ROLES:
        s = h.get(role)  # type: ignore[arg-type]
        c = curve(s)
        if s is not None and c is not None:
            series[role] = _series_doc(c, s.x, s.y, s.name)
    if not series:
        raise LossdocError(h.source, "no finite loss values to keep as a golden curve")
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "lossdoc", "version": __version__},
        "source": h.source,
        "name": h.name,
        "x": h.x_name,
        "series": series,
        "findings": [f.as_dict() for f in d.findings],
    }


def read_golden(text: str, source: str) -> dict[str, Any]:
    import json

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise LossdocError(source, f"not a golden file (malformed JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("series"), dict):
        raise LossdocError(source, "not a lossdoc golden file (write one with: lossdoc golden save RUN FILE)")
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise LossdocError(source, f"golden schema_version {doc.get('schema_version')} is not {SCHEMA_VERSION}")
    return doc


@dataclass
class SeriesCheck:
    role: str
    passed: bool
    message: str
    departure_x: float | None = None
    direction: str | None = None


@dataclass
class GoldenCheck:
    tolerance: str
    series: list[SeriesCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.series)


def parse_tolerance(text: str | None) -> float | None:
    """``auto`` (None) or a percentage as a fraction."""
    t = (text or "auto").strip().lower()
    if t == "auto":
        return None
    try:
        value = float(t[:-1]) if t.endswith("%") else float(t)
    except ValueError:
        raise LossdocError("--tolerance", f"'{text}' is not auto or a percentage such as 5%") from None
    if not (0 < value < float("inf")):
        raise LossdocError("--tolerance", f"'{text}' is not a percentage above 0")
    return value / 100


def check(d: Diagnosis, golden: dict[str, Any], tolerance: float | None = None, exact: bool = False) -> GoldenCheck:
    """The run ``d`` against ``golden``: per series, inside the band or where it left it."""
    out = GoldenCheck("exact" if exact else "auto" if tolerance is None else f"{tolerance * 100:g}%")
    x_name = golden.get("x") or d.history.x_name
    for role, g in golden["series"].items():
        if role not in ROLES:
            continue
        s = d.history.get(role)  # type: ignore[arg-type]
        words = "validation" if role == "val" else "training"
        if s is None:
            out.series.append(SeriesCheck(role, False, f"the run has no {words} loss; the golden run has"))
            continue
        if exact:
            same = digest(s.x, s.y) == g["sha256"]
            msg = (
                "bit-identical to the golden run"
                if same
                else (f"{words} loss differs from the golden run's values ({s.y.size} points, golden {g['points']})")
            )
            out.series.append(SeriesCheck(role, same, msg))
            continue
        out.series.append(_band_check(role, words, s, g, tolerance, x_name, out.notes))
    return out


def _band_check(
    role: str, words: str, s: Any, g: dict[str, Any], tolerance: float | None, x_name: str, notes: list[str]
) -> SeriesCheck:
    log_space = bool(g["log_space"])
    c = curve(s, log_space=log_space, scale=None if log_space else float(g["scale"]))
    if c is None or c.log_space != log_space:
        return SeriesCheck(role, False, f"{words} loss has no finite values, or values of another sign")
    gx = np.asarray(g["x"], dtype=float)
    gz = np.log(np.asarray(g["smoothed"], dtype=float)) if log_space else np.asarray(g["smoothed"]) / c.scale
    if tolerance is None:
        band = max(float(g["band"]), c.band, MIN_BAND)
    else:
        band = float(np.log1p(tolerance)) if log_space else tolerance * abs(float(gz.mean()) or 1.0)
    lo, hi = max(gx[0], c.trend_x[0]), min(gx[-1], c.trend_x[-1])
    if hi < gx[-1]:
        notes.append(f"{words} loss ends at {x_name} {fmt_x(hi)}; the golden run goes on to {fmt_x(gx[-1])}")
    grid = gx[(gx >= lo) & (gx <= hi)]
    a = Alignment(
        grid,
        np.interp(grid, gx, gz),
        np.interp(grid, c.trend_x, c.trend),
        band,
        (float(gx[0]), float(gx[-1])),
        (float(c.trend_x[0]), float(c.trend_x[-1])),
        False,
        log_space,
        c.scale,
    )
    dep = a.departure(PERSIST_POINTS)
    width = f"±{(np.expm1(band)) * 100:.1f}%" if log_space else f"±{fmt_loss(band * c.scale)}"
    if dep is None:
        return SeriesCheck(role, True, f"{words} loss stays within the golden band ({width})")
    msg = f"{words} loss leaves the golden band ({width}) {dep.direction} it at {x_name} {fmt_x(dep.x)} ({dep.text()})"
    return SeriesCheck(role, False, msg, dep.x, dep.direction)
