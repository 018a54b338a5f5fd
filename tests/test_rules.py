"""Each rule on curves built to show (or not show) exactly its problem, at several loss scales."""

from __future__ import annotations

import numpy as np
import pytest
from curves import decay, history, u_shape

from lossdoc.analysis import analyze


def rules_of(h):
    return {f.rule: f for f in analyze(h).findings}


SCALES = [1e-4, 1.0, 1e4]


@pytest.mark.parametrize("scale", SCALES)
def test_healthy_converging_run_has_no_warning_or_error(scale):
    h = history(decay(200, noise=0.02, scale=scale), decay(200, start=2.1, floor=0.25, noise=0.02, seed=3, scale=scale))
    bad = [f for f in analyze(h).findings if f.severity != "info"]
    assert bad == []


@pytest.mark.parametrize("scale", SCALES)
def test_overfitting_starts_at_best_validation_point(scale):
    h = history(decay(100, rate=4, scale=scale), u_shape(100, best=40, rise=0.5, noise=0.01, scale=scale))
    f = rules_of(h)["overfitting"]
    assert abs(f.start - 40) <= 5
    assert f.evidence["val_rise_pct"] > 30


def test_no_overfitting_when_validation_keeps_falling():
    h = history(decay(100), decay(100, start=2.2, floor=0.3, seed=5))
    assert "overfitting" not in rules_of(h)


@pytest.mark.parametrize("scale", SCALES)
def test_nan_is_an_error_at_its_first_x(scale):
    x, y = decay(50, scale=scale)
    y[30:] = np.nan
    f = rules_of(history((x, y)))["non-finite"]
    assert f.severity == "error" and f.start == 30
    assert f.evidence["stays_non_finite"] is True


def test_inf_is_non_finite():
    x, y = decay(50)
    y[10] = np.inf
    assert rules_of(history((x, y)))["non-finite"].evidence["inf_count"] == 1


@pytest.mark.parametrize("scale", SCALES)
def test_blow_up_that_stays_is_divergence(scale):
    x, y = decay(200, noise=0.02, scale=scale)
    y[120:] = y[119] * np.exp(np.linspace(0, 4, 80))
    f = rules_of(history((x, y)))["divergence"]
    assert 110 <= f.start <= 130


@pytest.mark.parametrize("scale", SCALES)
def test_recovered_spike_is_a_spike_not_divergence(scale):
    x, y = decay(300, noise=0.02, scale=scale)
    y[150] *= 8
    y[151] *= 4
    found = rules_of(history((x, y)))
    assert "loss-spike" in found and "divergence" not in found
    assert found["loss-spike"].start == 150


@pytest.mark.parametrize("scale", SCALES)
def test_flat_from_the_start_is_a_never_learned_plateau(scale):
    x = np.arange(100.0)
    y = 0.6931 * scale * np.exp(np.random.default_rng(0).normal(0, 0.0005, 100))
    f = rules_of(history((x, y)))["plateau"]
    assert f.evidence["kind"] == "never-learned" and f.start <= 5


def test_converged_run_has_an_info_plateau_at_the_convergence_point():
    x, y = decay(200, rate=20, noise=0.003)
    f = rules_of(history((x, y)))["plateau"]
    assert f.evidence["kind"] == "converged" and f.severity == "info"
    assert f.start < 100


def test_still_falling_at_the_end_is_still_improving():
    x, y = decay(100, rate=1.0, floor=0.0, noise=0.01)
    assert "still-improving" in rules_of(history((x, y)))


def test_converged_run_is_not_still_improving():
    x, y = decay(100, rate=20, noise=0.01)
    assert "still-improving" not in rules_of(history((x, y)))


def test_noisy_minibatch_curve_has_no_spike_or_divergence():
    x, y = decay(20_000, noise=0.15, seed=11)
    found = rules_of(history((x, y), x_name="step"))
    assert "loss-spike" not in found and "divergence" not in found
