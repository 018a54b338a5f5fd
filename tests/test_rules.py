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


def test_one_bad_epoch_in_a_short_tail_does_not_hide_a_falling_loss():
    # 25 epochs falling 3% an epoch; epoch 22 is 12% worse than its neighbours (a Keras log's typical wobble)
    x = np.arange(25, dtype=float)
    y = 1.3 * np.exp(-0.03 * x) * np.exp(np.random.default_rng(2).normal(0.0, 0.004, 25))
    y[22] *= 1.12
    assert "still-improving" in rules_of(history((x, y)))


def test_downswing_of_an_oscillation_is_not_still_improving():
    # quick fall, then a slow wave: the last 20% falls 6%, but the 40% before the end did not fall at all
    x = np.arange(60, dtype=float)
    wave = 1.0 + 0.06 * np.cos(2 * np.pi * (x - 47) / 48)
    y = np.where(x < 10, 1.5 - 0.05 * x, wave) * np.exp(np.random.default_rng(4).normal(0.0, 0.004, 60))
    assert "still-improving" not in rules_of(history((x, y)))


@pytest.mark.parametrize("n", [100, 1000])
def test_a_learning_rate_step_late_in_the_run_that_has_settled_is_not_still_improving(n):
    # steps at 40% and 82% of the run, each settling within 2% of the run: the last tenth is flat again
    x = np.arange(n, dtype=float)
    t = x / (n - 1)
    level = np.where(t < 0.4, 1.0, np.where(t < 0.82, 0.6, 0.35))
    before = np.where(t < 0.4, 1.0, np.where(t < 0.82, 1.0, 0.6))
    since = t - np.where(t < 0.4, 0.0, np.where(t < 0.82, 0.4, 0.82))
    y = (level + (before - level) * np.exp(-since / 0.02)) * (1 + 0.5 * np.exp(-t / 0.05))
    y = y * np.exp(np.random.default_rng(3).normal(0.0, 0.005, n))
    assert "still-improving" not in rules_of(history((x, y)))


def test_validation_too_noisy_to_read_leaves_the_training_loss_to_decide():
    train = decay(30, rate=1.0, floor=0.0, noise=0.01)
    xv, yv = decay(30, start=2.2, floor=1.6, rate=3.0)
    yv = yv * np.exp(np.random.default_rng(5).normal(0.0, 0.15, 30))
    f = rules_of(history(train, (xv, yv)))["still-improving"]
    assert "too noisy" in f.message


def test_validation_that_stopped_falling_vetoes_still_improving():
    train = decay(100, rate=1.0, floor=0.0, noise=0.01)
    val = decay(100, start=2.2, floor=1.0, rate=15.0, noise=0.005, seed=6)
    assert "still-improving" not in rules_of(history(train, val))


@pytest.mark.parametrize("scale", SCALES)
def test_a_small_unmistakable_fall_counts_when_it_shows_on_the_curves_own_scale(scale):
    # 100 epochs from 0.7: a quick start, then a smooth slope of about 2% per fifth of the run to the end
    x = np.arange(100, dtype=float)
    y = (0.6 + 0.1 * np.exp(-x / 12) - 0.0006 * x) * np.exp(np.random.default_rng(7).normal(0.0, 0.002, 100))
    f = rules_of(history((x, y * scale)))["still-improving"]
    assert 1.0 < f.evidence["tail_drop_pct"] < 3.0


def test_the_same_small_fall_after_ten_decades_of_progress_is_not_still_improving():
    # the loss fell from 1e12 to 100, then 2% per fifth of the run: flat on any plot of the run
    x = np.arange(500, dtype=float)
    y = np.where(x < 150, 1e12 * 10 ** (-10 * x / 150), 100 * np.exp(-0.0002 * (x - 150)))
    y = y * np.exp(np.random.default_rng(8).normal(0.0, 0.002, 500))
    assert "still-improving" not in rules_of(history((x, y)))


def test_an_overfitting_run_is_never_still_improving():
    h = history(decay(100, rate=1.0, floor=0.0, noise=0.01), u_shape(100, best=30, rise=0.5, noise=0.01))
    found = rules_of(h)
    assert "overfitting" in found
    assert "still-improving" not in found


def test_validation_decides_when_it_has_a_trend():
    # noisy per-step training loss that hardly falls in its tail; seven evaluations still falling clearly
    xt, yt = decay(700, start=2.0, floor=0.4, rate=1.0, noise=0.25, seed=4)
    xv = np.arange(100.0, 701.0, 100.0)
    yv = 1.5 * np.exp(-xv / 900)
    f = rules_of(history((xt, yt), (xv, yv), x_name="step"))["still-improving"]
    assert f.message.startswith("the validation loss was still falling")
    assert f.series == "loss" and f.evidence["judged"] == "val_loss"


def test_falling_validation_with_a_flat_training_loss_is_not_still_improving():
    xt, yt = decay(100, start=1.0, floor=1.0, noise=0.002, seed=2)
    xv, yv = decay(100, start=2.0, floor=0.2, rate=1.0, noise=0.002, seed=3)
    assert "still-improving" not in rules_of(history((xt, yt), (xv, yv)))


def test_noisy_minibatch_curve_has_no_spike_or_divergence():
    x, y = decay(20_000, noise=0.15, seed=11)
    found = rules_of(history((x, y), x_name="step"))
    assert "loss-spike" not in found and "divergence" not in found


# --- families of the detection benchmark, one specification each -------------------------------


def test_overfitting_early_late_and_mild_report_the_best_point():
    for best, rise in ((10, 0.8), (75, 0.15), (50, 0.07)):
        h = history(decay(100, rate=4), u_shape(100, best=best, rise=rise, noise=0.005))
        f = rules_of(h)["overfitting"]
        assert abs(f.start - best) <= 5, (best, f.start)


def test_too_mild_a_rise_is_not_overfitting():
    h = history(decay(100, rate=4), u_shape(100, best=90, rise=0.01))
    assert "overfitting" not in rules_of(h)


def test_validation_worse_from_the_first_evaluation_while_training_learns_is_overfitting():
    # a fine-tune: the first evaluation is the best, every later one is worse, the training loss falls
    x = np.arange(30.0)
    val = 1.0 + 0.01 * x
    f = rules_of(history(decay(30), (x, val)))["overfitting"]
    assert f.start == 0 and f.evidence["from_first_evaluation"] is True
    assert "first evaluation" in f.message and "keep that checkpoint" in f.advice


def test_validation_worse_from_the_start_while_training_does_not_learn_is_not_overfitting():
    x = np.arange(30.0)
    train = decay(30, start=1.0, floor=1.0, noise=0.005)
    assert "overfitting" not in rules_of(history(train, (x, 1.0 + 0.01 * x)))


@pytest.mark.parametrize("evals", [4, 5, 6])
def test_a_fine_tune_with_a_few_evaluations_is_judged_and_says_how_sure(evals):
    xv = np.arange(1.0, evals + 1) * 100
    yv = 0.5 * (1 + 0.08 * np.arange(evals)) * np.exp(np.random.default_rng(evals).normal(0, 0.01, evals))
    xt = np.arange(10.0, xv[-1] + 1, 10.0)
    yt = 0.9 * np.exp(-xt / xv[-1])
    f = rules_of(history((xt, yt), (xv, yv), x_name="step"))["overfitting"]
    assert f.start == 100 and f.confidence == "medium"


def test_sparse_validation_rows_still_find_the_best_step():
    x, tr = decay(5000, noise=0.05, rate=4)
    xv = x[::50]
    _, va = u_shape(5000, best=2000, rise=0.5)
    f = rules_of(history((x, tr), (xv, va[::50]), x_name="step"))["overfitting"]
    assert abs(f.start - 2000) <= 250


def test_sudden_jump_that_stays_is_divergence_at_the_jump():
    x, y = decay(200, noise=0.02)
    y[140:] *= 5
    f = rules_of(history((x, y)))["divergence"]
    assert 135 <= f.start <= 142


def test_slow_divergence_starts_where_the_climb_leaves_the_minimum():
    x = np.arange(300.0)
    y = np.where(x < 100, 2.0 * np.exp(-x / 25) + 0.1, 0.1 * np.exp((x - 100) / 60))
    f = rules_of(history((x, y)))["divergence"]
    assert 90 <= f.start <= 130


@pytest.mark.parametrize("scale", SCALES)
def test_blow_up_after_a_slow_creep_starts_at_the_steep_climb(scale):
    # a learning-rate range test: learns until step 400, creeps up 30% over 400 steps, then climbs 10x
    x = np.arange(1200.0)
    learn = 3.0 * np.exp(-x / 80) + 1.0
    creep = 1.0 * np.exp(0.3 * np.clip(x - 400, 0, 400) / 400)
    steep = np.exp(np.log(8.0) * np.clip(x - 800, 0, 150) / 150)
    y = np.where(x < 400, learn, creep * steep) * np.exp(np.random.default_rng(9).normal(0.0, 0.05, x.size))
    f = rules_of(history((x, y * scale), x_name="step"))["divergence"]
    assert 780 <= f.start <= 830
    assert 400 <= f.evidence["creep_from_x"] <= 650 and "slow creep" in f.message


def test_spike_that_does_not_recover_is_not_a_spike():
    x, y = decay(300, noise=0.01)
    y[150:] *= 6
    found = rules_of(history((x, y)))
    assert "loss-spike" not in found and "divergence" in found


def test_mid_run_stall_then_recovery_is_a_stalled_plateau():
    x = np.arange(400.0)
    y = np.piecewise(
        x,
        [x < 100, (x >= 100) & (x < 250), x >= 250],
        [
            lambda t: 2.0 * np.exp(-t / 40),
            lambda t: 2.0 * np.exp(-2.5) + 0 * t,
            lambda t: 0.164 * np.exp(-(t - 250) / 60),
        ],
    )
    f = rules_of(history((x, y)))["plateau"]
    assert f.evidence["kind"] == "stalled" and 90 <= f.start <= 130


def test_step_schedule_with_short_flats_is_no_plateau_but_a_long_flat_is():
    x = np.arange(1000.0)
    short = 2.0 * np.exp(-x / 60) * np.where(x < 400, 1, 0.5) * np.where(x < 800, 1, 0.5) + 0.05 * np.exp(-x / 300)
    assert "plateau" not in rules_of(history((x, short)))
    long = 2.0 * np.exp(-np.minimum(x, 150) / 30) * np.where(x < 600, 1, 0.3)
    f = rules_of(history((x, long)))["plateau"]
    assert f.evidence["kind"] == "stalled" and 100 <= f.start <= 250


@pytest.mark.parametrize("n", [10, 100, 1000, 100_000])
@pytest.mark.parametrize("scale", SCALES)
def test_healthy_noisy_curves_have_no_spike_or_divergence_at_any_scale_and_length(n, scale):
    x, y = decay(n, noise=0.2, seed=n, scale=scale)
    found = rules_of(history((x, y), x_name="step"))
    assert "loss-spike" not in found and "divergence" not in found and "non-finite" not in found


def test_a_million_noisy_minibatch_points_stay_healthy():
    x, y = decay(1_000_000, noise=0.3, seed=7)
    bad = [
        f for f in analyze(history((x, y), x_name="step")).findings if f.severity == "error" or f.rule == "loss-spike"
    ]
    assert bad == []


def test_nan_hidden_as_zero_by_the_logger_is_non_finite():
    from lossdoc.history import LossHistory, Series

    x = np.arange(40.0)
    loss = np.where(x < 30, 3.0 - x / 20, 0.0)
    grad = np.where(x < 30, 1.0, np.nan)
    h = LossHistory(
        "s",
        "hf_trainer_state",
        "s",
        "step",
        [Series("loss", "train", x, loss), Series("grad_norm", "grad_norm", x, grad)],
    )
    f = rules_of(h)["non-finite"]
    assert f.series == "loss" and f.start == 30 and "0.0" in f.message


def test_jumps_inside_a_blow_up_are_not_spikes():
    x, y = decay(300, noise=0.02)
    y[200:] = y[199] * np.exp(np.linspace(0, 6, 100)) * np.where(np.arange(100) % 7 == 0, 5, 1)
    found = rules_of(history((x, y)))
    assert "divergence" in found and "loss-spike" not in found


def test_huge_early_spikes_before_a_fall_of_decades_are_found():
    # a physics-informed net: 20,000 steps falling four decades, jumps of 30-300x, one in its first 1%
    rng = np.random.default_rng(0)
    x = np.arange(20_000, dtype=float)
    y = 10 ** (2 - 4 * (x / x.size) ** 0.5) * np.exp(rng.normal(0, 0.05, x.size))
    for at, by in [(100, 50), (1500, 30), (9000, 300), (15000, 20)]:
        y[at : at + 3] *= by
    f = rules_of(history((x, y), x_name="step"))["loss-spike"]
    assert 100 <= f.evidence["spike_x"][0] <= 102
    assert f.evidence["count"] == 4 and "divergence" not in rules_of(history((x, y), x_name="step"))


def test_a_loss_that_climbs_back_to_its_start_and_stays_is_divergence():
    x = np.arange(100.0)
    y = np.where(x < 40, 2.3 * np.exp(-x / 10) + 0.2, 0.2 + 2.3 * np.exp(-4) + 2.1 * (1 - np.exp(-(x - 40) / 5)))
    y = y * np.exp(np.random.default_rng(1).normal(0, 0.03, 100))
    f = rules_of(history((x, y)))["divergence"]
    assert 38 <= f.start <= 44


def test_a_run_that_is_nan_from_its_first_step_is_an_error():
    x = np.arange(50.0)
    f = rules_of(history((x, np.full(50, np.nan))))["non-finite"]
    assert f.severity == "error" and f.start == 0


@pytest.mark.parametrize("noise", [0.05, 0.08, 0.15, 0.25])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_noisy_per_step_loss_still_falling_slowly_is_not_a_plateau(seed, noise):
    # 700 logged steps, the trend falling about 7% per quarter of the run to the end: no window of it is flat
    x = np.arange(700.0)
    y = 0.3 * np.exp(-0.3 * x / 700) * np.exp(np.random.default_rng(seed).normal(0, noise, 700))
    assert "plateau" not in rules_of(history((x, y), x_name="step"))


def test_a_slow_fall_printed_with_four_decimals_is_not_a_plateau():
    x = np.arange(400.0)
    y = np.round(0.08 * np.exp(-0.25 * x / 400) * np.exp(np.random.default_rng(3).normal(0, 0.01, 400)), 4)
    assert "plateau" not in rules_of(history((x, y), x_name="step"))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_noisy_floor_is_a_converged_plateau(seed):
    # a fast fall, then most of the run on a flat floor with 10% noise per point; the flat fit may end a
    # little before the run does, but nothing improves after it: converged, to the end
    x = np.arange(1000.0)
    y = (0.5 + 2.0 * np.exp(-x / 60)) * np.exp(np.random.default_rng(seed).normal(0, 0.1, 1000))
    f = rules_of(history((x, y), x_name="step"))["plateau"]
    assert f.evidence["kind"] == "converged" and f.start <= 500 and f.end == 999


def test_a_transient_non_finite_validation_value_is_a_warning_not_an_error():
    train = decay(50, noise=0.01)
    xv, yv = decay(50, start=2.2, floor=0.3, seed=4)
    yv[3] = np.inf  # one evaluation early in the run, finite again after it
    f = rules_of(history(train, (xv, yv)))["non-finite"]
    assert f.severity == "warning" and f.evidence["transient"] is True
    yv[30:] = np.nan  # validation that stays NaN to the end is an error
    assert rules_of(history(train, (xv, yv)))["non-finite"].severity == "error"


def test_a_plateau_judged_by_its_noise_band_is_at_most_of_medium_confidence():
    # a per-batch loss on a floor spanning a decade: flat to the eye, not shown flat at 2%
    x = np.arange(600.0)
    y = (0.3 + 2.0 * np.exp(-x / 30)) * np.exp(np.random.default_rng(2).normal(0, 0.6, 600))
    f = rules_of(history((x, y), x_name="step"))["plateau"]
    assert f.confidence == "medium"


def test_a_few_points_make_no_plateau():
    # a 5-point run whose last two points are level: two points are no stretch
    x = np.arange(5.0)
    y = np.array([2.0, 1.4, 1.0, 0.80, 0.80])
    assert "plateau" not in rules_of(history((x, y)))
