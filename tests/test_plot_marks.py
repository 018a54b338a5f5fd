"""What a plot draws, read from the figure's artists and texts (never its pixels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from curves import decay, rule_marks, u_shape

from lossdoc import plot
from lossdoc.analysis import analyze
from lossdoc.analysis.types import Diagnosis, Finding
from lossdoc.history import LossHistory, Series

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def fig_of(d: Diagnosis):
    fig = plot.figure([d])
    fig.canvas.draw()
    return fig, fig.axes[0]


def legend_labels(fig) -> list[str]:
    return [t.get_text() for lg in fig.legends for t in lg.get_texts()]


def run(series: list[Series], x_name: str = "epoch", fmt: str = "csv") -> LossHistory:
    return LossHistory("r.csv", fmt, "r", x_name, series)


def drawn_points(ax) -> np.ndarray:
    """Every point of every curve drawn on the axes, in display coordinates."""
    pts = [ax.transData.transform(np.column_stack(line.get_data())) for line in ax.get_lines()]
    pts = [p[np.isfinite(p).all(axis=1)] for p in pts]
    return np.concatenate(pts)


def best_val_label(ax):
    return next((t for t in ax.texts if t.get_text().startswith("best val")), None)


@pytest.mark.parametrize("case", ["sample", "early", "late", "full", "train-on-top"])
def test_best_val_label_never_covers_a_curve_or_a_marker(case):
    if case == "sample":
        from lossdoc.ingest import read_one

        h = read_one(str(ROOT / "sample_logs" / "keras_overfitting.csv"))[0]
    else:
        best = {"early": 3, "late": 70, "full": 40, "train-on-top": 20}[case]
        x, tr = decay(90, rate=3)  # early on, the train curve crosses the top of the axes near the line
        _, va = u_shape(90, best=best, rise=1.5)
        if case == "train-on-top":  # a train curve along the top edge, right where the label used to go
            tr = np.linspace(2.05, 2.0, 90)
        if case == "full":
            tr = np.where(np.arange(90) % 2 == 0, 1.0, 0.2)  # data top and bottom everywhere
        h = run([Series("loss", "train", x, tr), Series("val_loss", "val", x, va)])
    d = analyze(h)
    fig, ax = fig_of(d)
    label = best_val_label(ax)
    if label is None:  # no room beside the line: the value is in the legend, outside the axes
        assert any(t.startswith("best val ") and " at epoch " in t for t in legend_labels(fig))
        assert case != "sample"
        return
    box = label.get_window_extent(fig.canvas.get_renderer())
    pts = drawn_points(ax)
    inside = (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
    assert not inside.any(), case


def test_the_overfitting_stretch_after_the_best_point_is_a_shaded_region():
    x, tr = decay(80, rate=4)
    _, va = u_shape(80, best=25, rise=0.6)
    d = analyze(run([Series("loss", "train", x, tr), Series("val_loss", "val", x, va)]))
    f = next(f for f in d.findings if f.rule == "overfitting")
    fig, ax = fig_of(d)
    assert "overfitting (after the best point)" in legend_labels(fig)
    spans = [p.get_x() for p in ax.patches if hasattr(p, "get_x")]  # axvspan: a Rectangle from start to end
    regions = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches if hasattr(p, "get_width")]
    assert spans and any(a == pytest.approx(f.start) and b >= f.start for a, b in regions)


def test_thousands_of_nan_are_a_band_not_a_bar_of_ticks():
    x, y = decay(6000, noise=0.03)
    y[3000:] = np.nan
    y[1000:1500:3] = np.nan
    d = analyze(run([Series("loss", "train", x, y)], x_name="step"))
    fig, ax = fig_of(d)
    ticks = [ln for ln in ax.get_lines() if ln.get_marker() == "|"]
    assert ticks == []
    bands = [c for c in ax.collections if "NaN/Inf" in "".join(legend_labels(fig))]
    assert bands, "a shaded band along the x axis"
    assert any(t.startswith("train NaN/Inf (3,167)") for t in legend_labels(fig))
    few_x, few = decay(300, noise=0.03)
    few[[50, 120]] = np.nan
    fig, ax = fig_of(analyze(run([Series("loss", "train", few_x, few)], x_name="step")))
    assert [ln for ln in ax.get_lines() if ln.get_marker() == "|"]  # a few stay ticks


def test_a_one_point_spike_is_left_out_of_the_smoothed_line():
    x, y = decay(5000, noise=0.05, seed=2)
    base = float(np.median(y[2400:2600]))
    y[2500] = base * 500
    d = analyze(run([Series("loss", "train", x, y)], x_name="step"))
    _, ax = fig_of(d)
    smooth = max(ax.get_lines(), key=lambda ln: ln.get_linewidth())
    sx, sy = (np.asarray(v, dtype=float) for v in smooth.get_data())
    near = (sx > 2400) & (sx < 3500)
    assert float(np.nanmax(sy[near])) < 1.5 * base


def _finding(rule: str, severity: str, start: float, end: float, **evidence) -> Finding:
    return Finding(
        rule,
        severity,
        "loss",
        start,
        end,
        f"{rule} here",
        "do something",
        evidence,
        marks=rule_marks(rule, start, evidence),
    )


@pytest.mark.parametrize(("plateau", "oscillation", "headline"), [
    ("info", "warning", "warning: oscillation"),
    ("warning", "info", "warning: plateau"),
])  # fmt: skip
def test_plateau_and_oscillation_never_shade_the_same_whole_plot(plateau, oscillation, headline):
    x, y = decay(300, noise=0.2)
    h = run([Series("loss", "train", x, y)], x_name="step")
    findings = [
        _finding("plateau", plateau, 0.0, 299.0, kind="converged"),
        _finding("oscillation", oscillation, 5.0, 299.0),
    ]
    d = Diagnosis(h, findings, analyze(h).summary)
    _, ax = fig_of(d)
    spans = [p for p in ax.patches if hasattr(p, "get_height")]
    full = [p for p in spans if p.get_height() == pytest.approx(1.0)]
    assert len(full) == 1
    strips = [p for p in spans if p.get_height() < 0.1]
    assert len(strips) == 1
    right = [t.get_text() for t in ax.texts] + [ax.get_title(loc="right")]
    assert headline in right


def test_log_axis_ticks_are_plain_decimals_where_they_fit():
    x = np.arange(2000.0)
    y = 10 * np.exp(-x / 200) + 0.005
    _, ax = fig_of(analyze(run([Series("loss", "train", x, y)], x_name="step")))
    assert ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and not any("10^" in t or "$" in t for t in labels)
    assert {"0.01", "0.1", "1", "10"} <= set(labels)


def test_keras_tensorboard_epochs_are_labelled_epoch():
    from lossdoc.ingest import discover, read_ref

    ref = discover(FIXTURES / "tensorboard" / "keras_layout_tensor_scalars")[0]
    d = analyze(read_ref(ref)[0])
    _, ax = fig_of(d)
    assert ax.get_xlabel() == "epoch"


def test_auto_smoothing_leaves_an_epoch_log_as_it_is():
    x, tr = decay(120, noise=0.1)
    d = analyze(run([Series("loss", "train", x, tr)], x_name="epoch"))
    assert plot.prepare(d).curves.curves[0].smooth is None
    d = analyze(run([Series("loss", "train", x, tr)], x_name="step"))
    assert plot.prepare(d).curves.curves[0].smooth is not None
