"""lossdoc.Monitor: points in one at a time, findings out as soon as they are confident, once."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from curves import decay

import lossdoc
from lossdoc.monitor import Monitor

LIVE = Path(__file__).parent / "fixtures" / "live"
"""Per-step runs written by Lightning's CSVLogger (tests/fixtures/live/make_live.py)."""


def blow_up(n: int, onset: int, seed: int = 0) -> np.ndarray:
    _, y = decay(n, noise=0.03, seed=seed)
    y = y.copy()
    y[onset:] = y[onset] * np.exp(np.arange(n - onset) * 0.08)
    return y


def feed(m: Monitor, y: np.ndarray, stop_on: str | None = None) -> int | None:
    for i, v in enumerate(y):
        m.update(i, loss=float(v))
        if stop_on and m.should_stop(stop_on):
            return i
    return None


def test_divergence_is_reported_once_soon_after_it_starts_and_stops_the_run() -> None:
    m = Monitor()
    stopped = feed(m, blow_up(300, 200), stop_on="error")
    assert stopped is not None and 200 <= stopped <= 240
    new = [a for a in m.alerts if a.kind == "new" and a.finding.severity == "error"]
    assert [a.finding.rule for a in new] == ["divergence"]
    assert abs(new[0].finding.start - 200) <= 5
    assert new[0].detected_at == stopped and new[0].delay == stopped - new[0].finding.start


def test_a_long_run_is_watched_on_a_window_between_whole_run_analyses() -> None:
    m = Monitor()
    stopped = feed(m, blow_up(3000, 2500), stop_on="divergence")
    assert stopped is not None and 2500 <= stopped <= 2560


def test_healthy_run_raises_no_error_and_does_not_stop() -> None:
    m = Monitor()
    _, y = decay(400, noise=0.03)
    assert feed(m, y, stop_on="error") is None
    assert not [a for a in m.alerts if a.finding.severity == "error"]


def test_non_finite_value_is_an_alert_at_that_point() -> None:
    m = Monitor()
    _, y = decay(100, noise=0.02)
    y = y.copy()
    y[60] = np.nan
    assert feed(m, y, stop_on="non-finite") == 60


def test_overfitting_is_reported_with_both_series() -> None:
    m = Monitor()
    for epoch in range(40):
        m.update(epoch, loss=2.0 * 0.9**epoch, val_loss=1.0 + 0.002 * (epoch - 12) ** 2)
    assert "overfitting" in {f.rule for f in m.findings}
    d = m.diagnosis()
    assert d is not None and "overfitting" in {f.rule for f in d.findings}


def test_a_spike_that_looked_like_divergence_is_cleared_when_the_loss_comes_back() -> None:
    m = Monitor()
    _, y = decay(300, noise=0.02)
    y = y.copy()
    y[150:175] *= np.exp(np.concatenate([np.arange(13) * 0.3, np.arange(12, 0, -1) * 0.3]))
    feed(m, y)
    kinds = [(a.kind, a.finding.rule) for a in m.alerts if a.finding.rule == "divergence"]
    assert kinds[:1] == [("new", "divergence")] and ("cleared", "divergence") in kinds
    assert "divergence" not in {f.rule for f in m.findings}


def replay_live(run: str, rules: list[str] | None = None) -> tuple[Monitor, list]:
    """A Lightning metrics.csv fed row by row, as the callback or ``lossdoc watch`` would feed it."""
    m = Monitor(rules=rules)
    with open(LIVE / run / "metrics.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            m.update(float(row["step"]), **{k: float(row[k]) for k in ("train_loss", "val_loss") if row[k]})
    return m, [a for a in m.alerts if a.kind == "new" and a.finding.severity == "error"]


@pytest.mark.parametrize("run", ["healthy_cancer_adam", "healthy_cancer_sgd", "healthy_digits_sgd", "healthy_wine_sgd"])
def test_real_per_step_losses_at_a_noisy_floor_raise_no_error(run: str) -> None:
    # A nearly fitted model's minibatch loss spans decades: a few high batches in a row, or a wander of the
    # floor within the recent window, were alerted on as divergence (and stopped the run) at steps 67 and 294
    m, errors = replay_live(run)
    assert errors == []
    assert not m.should_stop("error")
    assert "divergence" not in {f.rule for f in lossdoc.analyze(LIVE / run / "metrics.csv")[0].findings}


@pytest.mark.parametrize(("run", "most"), [("blowup_digits_sgd_high_rate", 60), ("blowup_digits_adam_rate_jump", 40)])
def test_real_blow_ups_are_alerted_soon_after_the_onset_analyze_finds(run: str, most: int) -> None:
    _, errors = replay_live(run)
    [found] = [f for f in lossdoc.analyze(LIVE / run / "metrics.csv")[0].findings if f.rule == "divergence"]
    assert errors and errors[0].finding.rule == "divergence"
    assert found.start <= errors[0].detected_at <= found.start + most  # never before the blow-up began


def test_a_stall_the_loss_already_came_out_of_is_not_told_live() -> None:
    # on a per-step loss, "stalled from step 43 to step 78, then improved 40% further" came and went five
    # times in one run: nothing to act on while it trains (the final report still says it)
    m, _ = replay_live("healthy_cancer_sgd")
    assert [a for a in m.alerts if a.finding.rule == "plateau" and "then improved" in a.finding.message] == []
    assert [a for a in m.alerts if a.kind == "cleared" and a.finding.rule == "plateau"] == []
    # nor one that "blew up" after it, even when divergence is not watched (nothing confirmed that blow-up)
    m, _ = replay_live("blowup_digits_sgd_high_rate", rules=["plateau"])
    assert [a for a in m.alerts if "blew up" in a.finding.message] == []


def test_a_loss_the_logger_hid_as_zero_ends_the_run_non_finite_in_the_live_report() -> None:
    # HF Trainer's logging_nan_inf_filter logs 0.0 for a NaN step loss while grad_norm is NaN
    m = Monitor()
    for step in range(1, 41):
        loss, grad = (0.0, float("nan")) if step > 36 else (2.0 / step**0.5, 1.0)
        m.update(step, loss=loss, grad_norm=grad)
    d = m.diagnosis()
    assert d is not None and d.summary["final_non_finite"] == ["train"]
    assert d.summary["final_train"] == pytest.approx(2.0 / 36**0.5)


def test_a_blow_up_late_in_a_long_run_is_told_within_a_window_of_its_onset() -> None:
    # a tenfold rise from a floor a hundredth of the start: the recent window sees it long before the
    # next whole-run analysis (a sixteenth of the run later) would
    n, onset = 20_000, 15_000
    t = np.arange(n)
    y = (0.02 + 1.98 * np.exp(-t / (n * 0.05))) * np.exp(np.random.default_rng(0).normal(0, 0.05, n))
    y *= np.exp(np.log(10.0) * np.clip((t - onset) / 500, 0, 1))
    m = Monitor()
    stopped = feed(m, y, stop_on="divergence")
    assert stopped is not None and onset <= stopped <= onset + 200
