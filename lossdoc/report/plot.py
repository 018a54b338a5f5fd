"""Plots: a run's curves with the findings drawn where they happened (matplotlib, Agg, no pyplot).

Publication defaults: raw curves faint, smoothed curves (TensorBoard's debiased EMA) strong, train
and validation always in the same two colours (Okabe–Ito blue and vermillion, readable by
colour-blind readers and in greyscale), log y when the values span decades, the learning rate on a
secondary axis, and several loss pairs from one file (YOLO box/cls/dfl) as panels of one figure.
Findings are drawn on the curves: shaded plateaus, a labelled line at the best validation point, a
marker where a divergence starts, spike markers, ticks where values are NaN/Inf.

Long runs are drawn from a copy that keeps every bucket's min and max, so a million points plot as
fast as a few thousand with every extreme still visible. Analysis never sees the downsampled copy.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from lossdoc.analysis.context import fmt_loss, fmt_x
from lossdoc.analysis.smoothing import ema_debiased
from lossdoc.analysis.types import Diagnosis
from lossdoc.history import Series
from lossdoc.report import by_severity, verdict_text

TRAIN_COLOR = "#0072B2"
VAL_COLOR = "#D55E00"
LR_COLOR = "#6b6b6b"
SEVERITY_COLOR = {"error": "#b2182b", "warning": "#e69f00", "info": "#56b4e9"}
MAX_DRAWN = 4000
"""Points per drawn curve at most (2 per bucket: its min and its max)."""
AUTO_WINDOW_FRACTION = 0.01
"""Auto smoothing: an EMA whose time constant is this fraction of the curve's points..."""
AUTO_MIN_WEIGHT = 0.6
"""...and at least TensorBoard's default weight, for curves longer than FEW_POINTS."""
FEW_POINTS = 60
"""Curves this short (epoch logs) are drawn as they are, with a marker per point."""
PLOT_SUFFIXES = (".png", ".svg", ".pdf")
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "svg.hashsalt": "lossdoc",
}


def minmax_downsample(x: np.ndarray, y: np.ndarray, buckets: int = MAX_DRAWN // 2) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max (in x order), so spikes and dips survive downsampling.

    Non-finite values stay as they are in the bucket that holds them, so gaps still show.
    """
    n = y.size
    if n <= 2 * buckets:
        return x, y
    size = n // buckets
    full = size * buckets
    yy = y[:full].reshape(buckets, size)
    finite = np.isfinite(yy)
    lo = np.where(finite, yy, np.inf).argmin(axis=1)
    hi = np.where(finite, yy, -np.inf).argmax(axis=1)
    # a bucket holding a NaN keeps one of them, so the line breaks there as in the full data
    gap = (~finite).any(axis=1)
    hi = np.where(gap, (~finite).argmax(axis=1), hi)
    offsets = np.arange(buckets) * size
    idx = np.unique(np.concatenate([lo + offsets, hi + offsets, np.arange(full, n)]))
    return x[idx], y[idx]


def auto_smoothing(n: int) -> float:
    """An EMA weight whose time constant is about 1% of the points; none for short (epoch) logs."""
    if n <= FEW_POINTS:
        return 0.0
    return max(AUTO_MIN_WEIGHT, 1.0 - 1.0 / (n * AUTO_WINDOW_FRACTION))


def _span_decades(ys: list[np.ndarray]) -> bool:
    vals = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.array([])
    if vals.size == 0 or vals.min() <= 0:
        return False
    return bool(np.log10(vals.max()) - np.log10(vals.min()) >= 1.5)


def groups(diagnoses: list[Diagnosis]) -> list[list[int]]:
    """Diagnosis indices per figure: runs read from one source (several loss pairs) share one."""
    by_source: dict[str, list[int]] = {}
    for i, d in enumerate(diagnoses):
        by_source.setdefault(d.history.source, []).append(i)
    return list(by_source.values())


def figure_name(diags: list[Diagnosis]) -> str:
    """The run name, or for panels the name they share (``results`` of ``results [train/box_loss]``)."""
    if len(diags) == 1:
        return diags[0].history.name
    return diags[0].history.name.split(" [", 1)[0]


def _panel_title(d: Diagnosis, panels: int) -> str:
    """``box_loss`` for the panel of ``results [train/box_loss]``; the run name for a single plot."""
    name = d.history.name
    if panels > 1 and " [" in name:
        inner = name.split(" [", 1)[1].rstrip("]")
        return re.sub(r"^(train|training)[/_]", "", inner) or inner
    return name


def figure(diags: list[Diagnosis], smoothing: float | None = None) -> Any:
    """A matplotlib Figure (Agg canvas attached) of one run, or one panel per run for several."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(diags)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    size = (7.2, 4.2) if n == 1 else (3.9 * cols + 0.4, 3.2 * rows + 1.0)
    with rc_context(STYLE):
        fig = Figure(figsize=size, dpi=150, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, cols, squeeze=False)
        handles: dict[str, Any] = {}
        for k, d in enumerate(diags):
            ax = axes[k // cols][k % cols]
            panel = _panel(ax, d, smoothing, _panel_title(d, n), lr_label=k % cols == cols - 1, named=n == 1)
            for label, handle in panel.items():
                handles.setdefault(label, handle)
        for k in range(n, rows * cols):
            axes[k // cols][k % cols].set_visible(False)
        if n > 1:
            fig.suptitle(figure_name(diags), x=0.01, ha="left", fontsize=11, fontweight="bold")
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="outside lower center",
            ncols=min(len(handles), 4 if n == 1 else 5),
            frameon=False,
        )
    return fig


def _smooth(s: Series, smoothing: float | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The smoothed curve to draw, or None when the curve is drawn as it is.

    Long curves are smoothed from bucket means with the per-bucket weight ``w**size``: the same
    curve at drawing resolution, without an EMA over every one of a million points.
    """
    w = auto_smoothing(s.y.size) if smoothing is None else smoothing
    if w <= 0:
        return None
    x, y = s.x, s.y
    if y.size > MAX_DRAWN:
        size = y.size // (MAX_DRAWN // 2)
        full = size * (y.size // size)
        yy = y[:full].reshape(-1, size)
        finite = np.isfinite(yy)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(finite, yy, 0.0).sum(axis=1) / finite.sum(axis=1)
        x = x[:full].reshape(-1, size).mean(axis=1)
        y, w = means, w**size
    # gaps stay gaps: the EMA carries its level through NaN/Inf, the drawn line must not
    return x, np.where(np.isfinite(y), ema_debiased(y, w), np.nan)


def _panel(ax: Any, d: Diagnosis, smoothing: float | None, title: str, lr_label: bool, named: bool) -> dict[str, Any]:
    """Draw one run into ``ax``; returns legend handles by label (with series names when ``named``)."""
    h = d.history
    handles: dict[str, Any] = {}
    curves = [(s, c) for s, c in ((h.train, TRAIN_COLOR), (h.val, VAL_COLOR)) if s is not None and s.y.size]
    if _span_decades([s.y for s, _ in curves]):
        ax.set_yscale("log")
    for s, color in curves:
        sm = _smooth(s, smoothing)
        smoothed = sm is not None
        few = s.y.size <= FEW_POINTS
        if smoothed:
            xr, yr = minmax_downsample(s.x, s.y)
            ax.plot(xr, yr, color=color, alpha=0.28, linewidth=0.7, zorder=2)
        xs, ys = sm if sm is not None else minmax_downsample(s.x, s.y)
        (line,) = ax.plot(
            xs,
            ys,
            color=color,
            linewidth=1.8,
            zorder=3,
            marker="o" if few and not smoothed else None,
            markersize=2.5,
        )
        role = "validation" if s.role == "val" else s.role
        handles[f"{role} ({s.name})" if named else role] = line
        bad = ~np.isfinite(s.y)
        if bad.any():
            xb = np.unique(s.x[bad])[:2000]
            tick = ax.plot(
                xb,
                np.full(xb.size, 0.015),
                linestyle="none",
                marker="|",
                markersize=9,
                color=color,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                zorder=6,
            )[0]
            handles[f"{s.role} NaN/Inf ({int(bad.sum()):,})" if named else f"{s.role} NaN/Inf"] = tick
    handles.update(_mark_findings(ax, d))
    handles.update(_mark_best_val(ax, d))
    if ax.get_yscale() == "log":
        _clip_blow_up(ax, [s.y for s, _ in curves])
    if h.lr is not None and h.lr.y.size and np.isfinite(h.lr.y).any():
        ax2 = ax.twinx()
        xl, yl = minmax_downsample(h.lr.x, h.lr.y)
        (lr_line,) = ax2.plot(xl, yl, color=LR_COLOR, linewidth=1.0, linestyle=(0, (2, 2)), zorder=1)
        lr = yl[np.isfinite(yl)]
        if lr.size and lr.min() > 0 and lr.max() / lr.min() >= 30:
            ax2.set_yscale("log")
        elif lr.size and lr.max() > 0 and lr.max() - lr.min() <= 0.01 * lr.max():
            ax2.set_ylim(0, lr.max() * 1.25)  # a constant rate: show it against zero, not magnified noise
        ax2.set_ylabel("learning rate" if lr_label else "", color=LR_COLOR)
        ax2.tick_params(axis="y", colors=LR_COLOR)
        ax2.spines["right"].set_color(LR_COLOR)
        ax.set_zorder(ax2.get_zorder() + 1)  # loss curves above the lr line
        ax.patch.set_visible(False)
        handles[f"learning rate ({h.lr.name})" if named else "learning rate"] = lr_line
    lo, hi = h.x_range
    if max(abs(lo), abs(hi)) >= 1e4:
        from matplotlib.ticker import EngFormatter

        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1M instead of an offset label
    ax.set_xlabel(h.x_name)
    ax.set_ylabel("loss (log scale)" if ax.get_yscale() == "log" else "loss")
    ax.set_title(title, loc="left", fontweight="bold" if title == h.name else "normal")
    worst = by_severity(d.findings)[0] if d.findings else None
    ax.set_title(
        verdict_text(d),
        loc="right",
        color=SEVERITY_COLOR[worst.severity] if worst else "#1a9850",
        fontsize=8,
    )
    ax.grid(True, alpha=0.25, linewidth=0.6)
    ax.margins(x=0.01)
    return handles


MAX_DECADES_ABOVE = 6
"""A log axis shows at most this many decades above the run's median loss; a blow-up beyond that
is cut at the top edge (and labelled) so the rest of the run keeps its resolution."""


def _clip_blow_up(ax: Any, ys: list[np.ndarray]) -> None:
    vals = np.concatenate([y[np.isfinite(y) & (y > 0)] for y in ys]) if ys else np.array([])
    if vals.size == 0:
        return
    top = float(np.median(vals)) * 10.0**MAX_DECADES_ABOVE
    peak = float(vals.max())
    if peak <= top:
        return
    ax.set_ylim(top=top)
    ax.annotate(
        f"↑ off the scale: up to {fmt_loss(peak)}",
        xy=(0.99, 0.99),
        xycoords="axes fraction",
        ha="right",
        va="top",
        fontsize=7.5,
        color="#444444",
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        zorder=9,
    )


def _value_at(s: Series, x: float) -> float | None:
    """The raw value at ``x`` (the nearest logged point at or after it)."""
    if s.x.size == 0:
        return None
    k = int(np.clip(np.searchsorted(s.x, x), 0, s.x.size - 1))
    v = float(s.y[k])
    return v if math.isfinite(v) else None


def _series_named(d: Diagnosis, name: str | None) -> Series | None:
    h = d.history
    return next((s for s in h.series if s.name == name), None) or h.train or h.val


def _mark_findings(ax: Any, d: Diagnosis) -> dict[str, Any]:
    handles: dict[str, Any] = {}
    x_name = d.history.x_name
    for f in d.findings:
        color = SEVERITY_COLOR[f.severity]
        if f.start is None:
            continue
        if f.rule == "plateau" and f.end is not None:
            span = ax.axvspan(f.start, f.end, color=color, alpha=0.13, linewidth=0, zorder=0)
            handles.setdefault(f"plateau ({f.evidence.get('kind', 'flat')})", span)
        elif f.rule == "oscillation" and f.end is not None:
            span = ax.axvspan(f.start, f.end, facecolor="none", edgecolor=color, hatch="///", alpha=0.35, linewidth=0)
            handles.setdefault("oscillation", span)
        elif f.rule == "divergence":
            s = _series_named(d, f.series)
            ax.axvline(f.start, color=color, linewidth=1.0, linestyle="-", alpha=0.8, zorder=1)
            y = _value_at(s, f.start) if s is not None else None
            if y is not None:
                (m,) = ax.plot([f.start], [y], marker="v", markersize=8, color=color, linestyle="none", zorder=7)
            else:
                m = ax.axvline(f.start, color=color, linewidth=1.0)
            handles.setdefault(f"divergence from {x_name} {fmt_x(f.start)}", m)
        elif f.rule == "loss-spike":
            s = _series_named(d, f.series)
            xs = np.asarray(f.evidence.get("spike_x", []), dtype=float)
            if s is None or xs.size == 0:
                continue
            ys = np.array([_value_at(s, x) or np.nan for x in xs])
            (m,) = ax.plot(
                xs, ys, marker="^", markersize=6, color=color, markeredgecolor="black", markeredgewidth=0.4,
                linestyle="none", zorder=7,
            )  # fmt: skip
            handles.setdefault(f"loss spike ({len(xs)})", m)
        elif f.rule == "non-finite" and not any(k.startswith("first NaN/Inf") for k in handles):
            line = ax.axvline(f.start, color=color, linestyle=":", linewidth=1.3, zorder=1)
            handles[f"first NaN/Inf at {x_name} {fmt_x(f.start)}"] = line
        elif f.rule == "still-improving" and f.end is not None:
            span = ax.axvspan(f.start, f.end, color=color, alpha=0.08, linewidth=0, zorder=0)
            handles.setdefault("still improving at the end", span)
    return handles


def _mark_best_val(ax: Any, d: Diagnosis) -> dict[str, Any]:
    s = d.summary
    if s.get("best_val_x") is None or s.get("best_val") is None or not math.isfinite(s["best_val"]):
        return {}
    x, y = float(s["best_val_x"]), float(s["best_val"])
    line = ax.axvline(x, color=VAL_COLOR, linestyle="--", linewidth=1.0, alpha=0.9, zorder=1)
    ax.plot([x], [y], marker="o", markersize=5, markerfacecolor="white", markeredgecolor=VAL_COLOR, zorder=8)
    lo, hi = d.history.x_range
    right_half = hi > lo and (x - lo) / (hi - lo) > 0.6
    ax.annotate(
        f"best val {fmt_loss(y)}\n{d.history.x_name} {fmt_x(x)}",
        xy=(x, 0.97),
        xycoords=ax.get_xaxis_transform(),
        xytext=(-4 if right_half else 4, 0),
        textcoords="offset points",
        ha="right" if right_half else "left",
        va="top",
        fontsize=7.5,
        color=VAL_COLOR,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        zorder=9,
    )
    return {"best validation point": line}


def draw(diags: Diagnosis | list[Diagnosis], path: Path, smoothing: float | None = None) -> Path:
    """Write the figure for one run (or one panel per run) to ``path``; format from its suffix."""
    fig = figure(diags if isinstance(diags, list) else [diags], smoothing)
    return save_atomic(fig, path)


def render_bytes(diags: list[Diagnosis], smoothing: float | None = None, fmt: str = "png") -> bytes:
    """The figure as bytes (for embedding in an HTML report)."""
    import io

    buf = io.BytesIO()
    figure(diags, smoothing).savefig(buf, format=fmt, metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, Any]:
    """No timestamps or versions in the files: the same run gives the same bytes."""
    if fmt == "png":
        return {"Software": None}
    if fmt in ("svg", "pdf"):
        return {"Date": None, "Creator": None} if fmt == "svg" else {"CreationDate": None, "Creator": None}
    return {}


def save_atomic(fig: Any, path: Path) -> Path:
    """Write to a temp file beside ``path`` and rename it into place: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower() if path.suffix.lower() in PLOT_SUFFIXES else ".png"
    fd, tmp = tempfile.mkstemp(prefix=".lossdoc-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        fmt = suffix.lstrip(".")
        fig.savefig(tmp, format=fmt, metadata=_metadata(fmt))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a plot is as readable as any new file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def safe_name(name: str) -> str:
    """A file name from a run name: no separators, no '..', nothing hidden, never empty."""
    keep = "".join(c if c.isalnum() or c in "-_.[]" else "_" for c in name)
    while ".." in keep:
        keep = keep.replace("..", "_")
    keep = keep.strip("._") or "run"
    # A file name is at most 255 *bytes*: 120 characters of CJK or emoji would be refused by the file
    # system; leave room for a suffix, a de-duplicating "_2" and a prefix.
    while len(keep.encode("utf-8", "surrogateescape")) > 120:
        keep = keep[:-1]
    return keep


def plan_outputs(diagnoses: list[Diagnosis], target: Path) -> list[tuple[list[int], Path]]:
    """Where each figure goes: ``target`` itself for a single figure named like a plot file, else
    ``target/<run>.png`` (or ``<stem>_<run><suffix>`` beside a file target). Names come from run names
    made safe and de-duplicated, so nothing is written outside the target folder."""
    figs = groups(diagnoses)
    single_file = target.suffix.lower() in PLOT_SUFFIXES
    if single_file and len(figs) == 1:
        return [(figs[0], target)]
    folder = target.parent if single_file else target
    prefix = f"{target.stem}_" if single_file else ""
    suffix = target.suffix.lower() if single_file else ".png"
    used: set[str] = set()
    out = []
    for idx in figs:
        base = prefix + safe_name(figure_name([diagnoses[i] for i in idx]))
        name, k = base, 1
        while name.lower() in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name.lower())
        out.append((idx, folder / f"{name}{suffix}"))
    return out


def write_plots(report: Any, target: Path, smoothing: float | None, inputs: set[str]) -> None:
    """Draw every figure of ``report`` under ``target``; refuse to overwrite any input file.

    Problems become report errors (exit code 2), never exceptions: the other plots are still written.
    """
    from lossdoc.ingest import InputError

    protected = {Path(p).resolve() for p in inputs if p != "-"}
    protected |= {Path(d.history.source).resolve() for d in report.diagnoses if not d.history.source.startswith("<")}
    for idx, out in plan_outputs(report.diagnoses, target):
        if out.resolve() in protected:
            report.errors.append(InputError(str(out), "refusing to overwrite an input file with a plot"))
            report.exit_code = 2
            continue
        if out.is_dir():
            report.errors.append(InputError(str(out), "cannot write plot (a folder has that name)"))
            report.exit_code = 2
            continue
        try:
            draw([report.diagnoses[i] for i in idx], out, smoothing)
        except OSError as exc:
            report.errors.append(InputError(str(out), f"cannot write plot ({exc.strerror or exc})"))
            report.exit_code = 2
            continue
        except Exception as exc:  # matplotlib gives up on some extreme values: one plot lost, not the call
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            report.errors.append(InputError(str(out), f"cannot draw plot ({first})"))
            report.exit_code = 2
            continue
        for i in idx:
            report.plots[i] = str(out)
