"""Plots: the run's curves with the findings drawn where they happened (matplotlib, Agg, no pyplot).

Raw curves are faint, smoothed curves (TensorBoard's debiased EMA) strong; log y when the values
span decades; long runs are drawn from a min/max-per-bucket copy so a million points plot as fast
as a few thousand, with every extreme still visible. Analysis never sees the downsampled copy.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from lossdoc.analysis.smoothing import ema_debiased
from lossdoc.analysis.types import Diagnosis

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"
LR_COLOR = "#7f7f7f"
MAX_DRAWN = 4000
SEVERITY_COLOR = {"error": "#b2182b", "warning": "#e08214", "info": "#4393c3"}


def minmax_downsample(x: np.ndarray, y: np.ndarray, buckets: int = MAX_DRAWN // 2) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max (in x order), so spikes and dips survive downsampling."""
    n = y.size
    if n <= 2 * buckets:
        return x, y
    size = n // buckets
    full = size * buckets
    yy = np.where(np.isfinite(y[:full]), y[:full], np.nan).reshape(buckets, size)
    all_nan = np.isnan(yy).all(axis=1)
    filled = np.where(np.isnan(yy), np.nanmedian(yy[~all_nan]) if (~all_nan).any() else 0.0, yy)
    lo = filled.argmin(axis=1) + np.arange(buckets) * size
    hi = filled.argmax(axis=1) + np.arange(buckets) * size
    idx = np.sort(np.concatenate([lo, hi, np.arange(full, n)]))
    return x[idx], y[idx]


def _span_decades(ys: list[np.ndarray]) -> bool:
    vals = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.array([])
    if vals.size == 0 or vals.min() <= 0:
        return False
    return bool(np.log10(vals.max() / vals.min()) >= 1.5)


def draw(d: Diagnosis, path: Path, smoothing: float = 0.6) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    h = d.history
    fig = Figure(figsize=(9, 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    curves = [(s, c) for s, c in ((h.train, TRAIN_COLOR), (h.val, VAL_COLOR)) if s is not None and s.y.size]
    for s, color in curves:
        sm = ema_debiased(s.y, smoothing if s.role == "train" else min(smoothing, 0.3))
        xr, yr = minmax_downsample(s.x, s.y)
        xs, ys = minmax_downsample(s.x, sm)
        ax.plot(xr, yr, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(xs, ys, color=color, linewidth=1.8, label=f"{s.role}: {s.name}")
        bad = ~np.isfinite(s.y)
        if bad.any():
            finite = s.y[np.isfinite(s.y)]
            top = float(finite.max()) if finite.size else 1.0
            ax.scatter(
                s.x[bad][:500],
                np.full(min(int(bad.sum()), 500), top),
                marker="x",
                color=color,
                s=25,
                zorder=5,
                label=f"{s.role} NaN/Inf",
            )
    if _span_decades([s.y for s, _ in curves]):
        ax.set_yscale("log")
    _mark_findings(ax, d)
    if h.lr is not None and h.lr.y.size and np.isfinite(h.lr.y).any():
        ax2 = ax.twinx()
        xl, yl = minmax_downsample(h.lr.x, h.lr.y)
        ax2.plot(xl, yl, color=LR_COLOR, linewidth=1.0, linestyle=":", label=f"lr: {h.lr.name}")
        ax2.set_ylabel("learning rate", color=LR_COLOR)
        ax2.tick_params(axis="y", colors=LR_COLOR)
    ax.set_xlabel(h.x_name)
    ax.set_ylabel("loss")
    ax.set_title(h.name, loc="left", fontsize=11)
    ax.grid(True, alpha=0.25)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.85)
    return save_atomic(fig, path)


def _mark_findings(ax: object, d: Diagnosis) -> None:
    for f in d.findings:
        color = SEVERITY_COLOR[f.severity]
        if f.start is None:
            continue
        if f.rule == "plateau" and f.end is not None:
            ax.axvspan(f.start, f.end, color=color, alpha=0.10, label=f"plateau ({f.evidence.get('kind')})")
        elif f.rule == "overfitting":
            ax.axvline(
                f.start,
                color=VAL_COLOR,
                linestyle="--",
                linewidth=1.2,
                label=f"best val at {d.history.x_name} {f.start:g}",
            )
        elif f.rule == "divergence":
            ax.axvline(f.start, color=color, linewidth=1.5, label=f"divergence from {f.start:g}")
        elif f.rule == "loss-spike":
            xs = f.evidence.get("spike_x", [])
            for i, x in enumerate(xs):
                ax.axvline(x, color=color, alpha=0.5, linewidth=0.8, label="loss spike" if i == 0 else None)
        elif f.rule == "non-finite":
            ax.axvline(f.start, color=color, linestyle=":", linewidth=1.5, label=f"first NaN/Inf at {f.start:g}")
        elif f.rule == "still-improving" and f.end is not None:
            ax.axvspan(f.start, f.end, color=color, alpha=0.06, label="still improving")


def save_atomic(fig: object, path: Path) -> Path:
    """Write to a temp file beside ``path`` and rename it into place: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower() or ".png"
    fd, tmp = tempfile.mkstemp(prefix=".lossdoc-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format=suffix.lstrip("."))  # type: ignore[attr-defined]
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def safe_name(name: str) -> str:
    """A file name from a run name: no separators, no '..', nothing hidden, never empty."""
    keep = "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in name)
    keep = keep.replace("..", "_").strip("._") or "run"
    return keep[:120]
