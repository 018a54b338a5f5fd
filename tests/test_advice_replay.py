"""Each framework callback replayed on tiny explicit sequences.

Every expected index is derived by hand, check by check, from the documented rule quoted in the
replay function's docstring (Keras 3, PyTorch, Lightning and transformers sources). Indices are
0-based checks (Keras passes the 0-based epoch).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossdoc.advice import replay

NAN = math.nan


# --- keras.callbacks.EarlyStopping: wait += 1; improvement iff current + |min_delta| < best
# (resets wait); else stop when wait >= patience and epoch > 0.

SEQ = [1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.76, 0.77]


def test_keras_early_stopping_patience_2():
    # e0 1.0<inf improve; e1 0.8 improve; e2 wait=1 no stop; e3 wait=2 >= 2 -> stop at 3
    assert replay.keras_early_stopping(SEQ, patience=2) == replay.Stop(3, "no improvement")


def test_keras_early_stopping_patience_3_survives_the_dip():
    # e2 wait 1, e3 wait 2, e4 0.7 improves (wait 0), e5..e7 wait 1, 2, 3 -> stop at 7
    assert replay.keras_early_stopping(SEQ, patience=3).index == 7


def test_keras_early_stopping_default_patience_0_stops_at_first_non_improvement():
    # e0, e1 improve; e2 wait 1 >= 0 and epoch > 0 -> stop at 2
    assert replay.keras_early_stopping(SEQ).index == 2


def test_keras_early_stopping_min_delta_is_absolute():
    # min_delta 0.1: e1 0.95+0.1 < 1.0? no (wait 1); e2 0.93+0.1 < 1.0? no (wait 2) -> stop at 2
    assert replay.keras_early_stopping([1.0, 0.95, 0.93, 0.5], patience=2, min_delta=0.1).index == 2
    assert replay.keras_early_stopping([1.0, 0.95, 0.93, 0.5], patience=2, min_delta=-0.1).index == 2  # abs()
    assert replay.keras_early_stopping([1.0, 0.95, 0.93, 0.5], patience=2).index is None


def test_keras_early_stopping_baseline_keeps_wait_running():
    # baseline 0.5: e0, e1 improve on best but not on the baseline, so wait is not reset (1, 2);
    # e2 0.95 no improvement, wait 3 >= 3 -> stop at 2. Without a baseline wait is 1 at e2.
    seq = [1.0, 0.9, 0.95, 0.8]
    assert replay.keras_early_stopping(seq, patience=3, baseline=0.5).index == 2
    assert replay.keras_early_stopping(seq, patience=3).index is None


def test_keras_early_stopping_start_from_epoch_skips_warmup_epochs():
    # rising values; start_from_epoch=2 skips e0, e1; e2 improves on inf; e3 wait 1 >= 1 -> stop at 3
    assert replay.keras_early_stopping([1, 2, 3, 4, 5], patience=1, start_from_epoch=2).index == 3
    assert replay.keras_early_stopping([1, 2, 3, 4, 5], patience=1).index == 1


def test_keras_early_stopping_nan_only_adds_to_wait():
    # NaN + 0 < best is False: e1 wait 1, e2 wait 2 >= 2 -> stop at 2
    assert replay.keras_early_stopping([1.0, NAN, NAN], patience=2).index == 2


# --- keras.callbacks.ReduceLROnPlateau: cooldown decrements first (and zeroes wait); improvement
# iff current < best - min_delta; else if not in cooldown wait += 1, cut when wait >= patience.


def test_keras_rlrop_cuts_every_patience_epochs_on_a_flat_curve():
    # e0 improves (1 < inf); e1 wait 1; e2 wait 2 -> cut; e3 1; e4 2 -> cut; e5 1; e6 2 -> cut
    assert replay.keras_reduce_lr_on_plateau([1.0] * 8, patience=2) == [2, 4, 6]


def test_keras_rlrop_cooldown_is_decremented_before_the_check():
    # cooldown 2: cut at e2 (counter 2); e3 counter 1, in cooldown; e4 counter 0, wait 1;
    # e5 wait 2 -> cut (counter 2); e6 counter 1; e7 counter 0, wait 1 -> cuts [2, 5]
    assert replay.keras_reduce_lr_on_plateau([1.0] * 8, patience=2, cooldown=2) == [2, 5]
    # cooldown 1 is used up at the very next epoch's start, so it changes nothing
    assert replay.keras_reduce_lr_on_plateau([1.0] * 8, patience=2, cooldown=1) == [2, 4, 6]


def test_keras_rlrop_stops_cutting_at_min_lr():
    # lr 1.0 -> e1 0.1 -> e2 max(0.01, 0.05) = 0.05 -> e3: 0.05 > float32(0.05)? no: no more cuts
    assert replay.keras_reduce_lr_on_plateau([1.0] * 6, patience=1, min_lr=0.05, initial_lr=1.0) == [1, 2]


# --- torch ReduceLROnPlateau: better iff a < best*(1-threshold) (rel) / a < best-threshold (abs);
# cooldown zeroes num_bad_epochs after counting; cut when num_bad_epochs > patience.


def test_torch_rlrop_needs_more_than_patience_bad_epochs():
    # e0 better; e1..e3 bad 1, 2, 3 > 2 -> cut at 3; e4..e6 bad 1, 2, 3 -> cut at 6
    assert replay.torch_reduce_lr_on_plateau([1.0] * 8, patience=2) == [3, 6]


def test_torch_rlrop_rel_and_abs_threshold_modes():
    seq = [100.0, 99.5, 99.0, 98.5]
    # rel 0.01: e1 99.5 < 99.0? no (bad 1); e2 99.0 < 99.0? no (bad 2 > 1) -> cut at 2; e3 98.5 < 99 better
    assert replay.torch_reduce_lr_on_plateau(seq, patience=1, threshold=0.01, threshold_mode="rel") == [2]
    # abs 0.01: every step beats best - 0.01 -> no cut
    assert replay.torch_reduce_lr_on_plateau(seq, patience=1, threshold=0.01, threshold_mode="abs") == []
    with pytest.raises(ValueError):
        replay.torch_reduce_lr_on_plateau(seq, threshold_mode="relative")


def test_torch_rlrop_cooldown():
    # patience 0, cooldown 2: e1 bad 1 > 0 -> cut (cooldown 2); e2, e3 in cooldown (bad zeroed);
    # e4 bad 1 -> cut; e5, e6 cooldown; e7 -> cut
    assert replay.torch_reduce_lr_on_plateau([1.0] * 8, patience=0, cooldown=2) == [1, 4, 7]


def test_torch_rlrop_skips_updates_smaller_than_eps():
    # lr 1e-7 -> e1 1e-8 (change 9e-8 > eps); e2 would change by 9e-9 < 1e-8: ignored
    assert replay.torch_reduce_lr_on_plateau([1.0] * 4, patience=0, initial_lr=1e-7) == [1]


# --- lightning EarlyStopping: non-finite, stopping_threshold, divergence_threshold stop at once;
# improvement iff current + min_delta < best; else wait_count += 1, stop when >= patience.


def test_lightning_patience_counts_checks():
    # e0, e1 improve; e2, e3, e4 wait 1, 2, 3 >= 3 -> stop at 4 (default patience 3)
    assert replay.lightning_early_stopping([1.0, 0.9, 0.95, 0.96, 0.97]) == replay.Stop(4, "no improvement")


def test_lightning_change_equal_to_min_delta_is_no_improvement():
    # e1 0.5 + 0.1 < 1.0 improves; e2 0.4 + 0.1 = 0.5 < 0.5? no -> wait 1 >= 1 -> stop at 2
    assert replay.lightning_early_stopping([1.0, 0.5, 0.4], patience=1, min_delta=0.1).index == 2
    assert replay.lightning_early_stopping([1.0, 0.5, 0.4], patience=1, min_delta=0.09).index is None


def test_lightning_check_finite_stops_on_nan_and_inf_at_once():
    assert replay.lightning_early_stopping([1.0, 0.9, NAN, 0.5], patience=3) == replay.Stop(2, "not finite")
    assert replay.lightning_early_stopping([1.0, math.inf]).index == 1
    # without check_finite a NaN is just no improvement: e2 wait 1, e3 0.5 improves
    assert replay.lightning_early_stopping([1.0, 0.9, NAN, 0.5], check_finite=False).index is None


def test_lightning_thresholds():
    # divergence 2.0: e2 2.0 is not worse than 2.0; e3 2.5 is -> stop at 3
    stop = replay.lightning_early_stopping([1.0, 1.5, 2.0, 2.5, 0.1], patience=10, divergence_threshold=2.0)
    assert stop == replay.Stop(3, "divergence_threshold reached")
    # stopping 0.5: e2 0.5 < 0.5? no; e3 0.4 < 0.5 -> stop at 3
    stop = replay.lightning_early_stopping([1.0, 0.6, 0.5, 0.4], stopping_threshold=0.5)
    assert stop == replay.Stop(3, "stopping_threshold reached")


# --- transformers EarlyStoppingCallback: counter resets iff best_metric is None or (value < best
# and |value - best| > threshold); stop when counter >= patience; then the Trainer sets best_metric
# to any strictly lower value.


def test_hf_default_patience_1():
    # e0 best None -> 0; e1 0.9 < 1.0 -> 0; e2 0.95 -> counter 1 >= 1 -> stop at 2
    assert replay.hf_early_stopping([1.0, 0.9, 0.95, 0.8, 0.85, 0.86]) == replay.Stop(2, "no improvement")


def test_hf_patience_2():
    # e2 counter 1; e3 0.8 resets; e4 counter 1; e5 counter 2 -> stop at 5
    assert replay.hf_early_stopping([1.0, 0.9, 0.95, 0.8, 0.85, 0.86], early_stopping_patience=2).index == 5


def test_hf_threshold_compares_against_the_trainers_best_metric():
    # threshold 0.04: e1 0.95 (gain 0.05) resets, best 0.95; e2 0.92 (gain 0.03) counter 1 but the
    # Trainer still moves best to 0.92; e3 0.90 vs 0.92 (gain 0.02) counter 2 -> stop at 3.
    # (Measured against 0.95 instead, e3's gain 0.05 would have reset the counter.)
    seq = [1.0, 0.95, 0.92, 0.90]
    assert replay.hf_early_stopping(seq, early_stopping_patience=2, early_stopping_threshold=0.04).index == 3
    assert replay.hf_early_stopping(seq, early_stopping_patience=2).index is None


# --- what the callbacks see on long series


def test_checks_of_buckets_long_series_into_means():
    x = np.arange(10.0)
    xs, ys, k = replay.checks_of(x, x.copy(), max_checks=4)
    # k = ceil(10 / 4) = 3: buckets [0,1,2] [3,4,5] [6,7,8] and the partial [9]
    assert k == 3
    assert xs.tolist() == [2.0, 5.0, 8.0, 9.0]
    assert ys.tolist() == [1.0, 4.0, 7.0, 9.0]


def test_checks_of_keeps_short_series_and_propagates_nan():
    y = np.array([1.0, NAN, 3.0, 4.0])
    _, ys, k = replay.checks_of(np.arange(4.0), y, max_checks=10)
    assert k == 1 and ys.size == 4
    _, ys, _ = replay.checks_of(np.arange(4.0), y, max_checks=2)
    assert math.isnan(ys[0]) and ys[1] == 3.5


def test_a_million_point_training_series_is_replayed_on_at_most_max_checks():
    n = 1_000_000
    y = 1.0 + np.exp(-np.arange(n) / 2e5)
    xs, ys, k = replay.checks_of(np.arange(float(n)), y)
    assert k == 500 and ys.size == replay.MAX_CHECKS
    assert xs[0] == 499.0 and ys[0] == pytest.approx(float(np.mean(y[:500])))
