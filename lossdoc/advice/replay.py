"""Replay the frameworks' own early-stopping and reduce-on-plateau callbacks on a logged series.

One small pure function per callback. Each takes the monitored values in logged order (one value
per check: per epoch for a Keras epoch log, per validation run for Lightning, per evaluation for a
HuggingFace Trainer) and the callback's parameters with the framework's own defaults, and returns
the index of the check where it would have stopped (:class:`Stop`) or every index where it would
have cut the learning rate. Callbacks are sequential state machines, so each is a plain loop over
checks; :func:`checks_of` buckets a very long series first so the loop stays short.

Only ``mode="min"`` is replayed (the monitored quantity is a loss). The semantics were read from
each framework's source and documentation; every docstring names what it follows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_CHECKS = 2000
"""A series with more points than this is replayed on bucket means (see :func:`checks_of`)."""


@dataclass(frozen=True)
class Stop:
    """Where a callback stops: the index of the check (None if it never does) and why."""

    index: int | None
    reason: str | None = None


def checks_of(x: np.ndarray, y: np.ndarray, max_checks: int = MAX_CHECKS) -> tuple[np.ndarray, np.ndarray, int]:
    """The checks a callback would see: the series itself, or bucket means of a long one.

    A per-step training loss of a million points is not what a callback monitors; an epoch-end
    callback sees the epoch's mean. With more than ``max_checks`` points, consecutive buckets of
    ``k`` points become one check each (x = the bucket's last x, y = its mean; a bucket holding a
    non-finite value is non-finite, so ``check_finite``-style rules still fire). Returns
    ``(x, y, k)``; ``k`` is 1 when nothing was bucketed.
    """
    n = int(y.size)
    if n <= max_checks:
        return x.astype(float), y.astype(float), 1
    k = math.ceil(n / max_checks)
    m = n // k * k
    xs = x[k - 1 : m : k].astype(float)
    ys = y[:m].astype(float).reshape(-1, k).mean(axis=1)
    if m < n:  # the last, partial bucket
        xs = np.append(xs, float(x[-1]))
        ys = np.append(ys, float(np.mean(y[m:])))
    return xs, ys, k


def keras_early_stopping(
    values: Sequence[float] | np.ndarray,
    patience: int = 0,
    min_delta: float = 0.0,
    baseline: float | None = None,
    start_from_epoch: int = 0,
) -> Stop:
    """``keras.callbacks.EarlyStopping`` (Keras 3, ``keras/src/callbacks/early_stopping.py``; keras.io).

    Defaults as documented: monitor ``val_loss``, ``min_delta=0``, ``patience=0``, ``baseline=None``,
    ``start_from_epoch=0``. At the end of epoch ``e`` (the check index here, 0-based as Keras counts):
    epochs ``e < start_from_epoch`` are skipped entirely; otherwise ``wait += 1``; the value is an
    improvement iff ``current + |min_delta| < best`` (Keras negates ``min_delta`` in min mode and tests
    ``current - min_delta < best``; ``best`` starts at +inf). On improvement ``best = current`` and
    ``wait`` resets to 0 only if the value also improves on ``baseline`` (when one is given). Without
    improvement, training stops when ``wait >= patience and epoch > 0``. A NaN is never an
    improvement, so it only adds to ``wait``.
    """
    delta = abs(float(min_delta))
    best = math.inf
    wait = 0
    for epoch, current in enumerate(_floats(values)):
        if epoch < start_from_epoch:
            continue
        wait += 1
        if current + delta < best:
            best = current
            if baseline is None or current + delta < baseline:
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return Stop(epoch, "no improvement")
    return Stop(None)


def keras_reduce_lr_on_plateau(
    values: Sequence[float] | np.ndarray,
    factor: float = 0.1,
    patience: int = 10,
    min_delta: float = 1e-4,
    cooldown: int = 0,
    min_lr: float = 0.0,
    initial_lr: float = 1.0,
) -> list[int]:
    """``keras.callbacks.ReduceLROnPlateau`` (Keras 3, ``keras/src/callbacks/reduce_lr_on_plateau.py``).

    Defaults as documented: ``factor=0.1, patience=10, min_delta=1e-4, cooldown=0, min_lr=0``.
    ``best`` starts at +inf; a value improves iff ``current < best - min_delta``. At each epoch end:
    if in cooldown (``cooldown_counter > 0``) the counter decrements and ``wait`` resets; then an
    improvement sets ``best`` and resets ``wait``; otherwise, when not in cooldown, ``wait += 1`` and
    once ``wait >= patience`` the rate is cut (only if ``lr > min_lr``: ``lr = max(lr * factor,
    min_lr)``, then ``cooldown_counter = cooldown`` and ``wait = 0``). ``initial_lr`` matters only
    against ``min_lr``. Returns the check indices where the rate is cut.
    """
    best = math.inf
    wait = 0
    cooldown_counter = 0
    lr = float(initial_lr)
    cuts: list[int] = []
    for epoch, current in enumerate(_floats(values)):
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if current < best - min_delta:
            best = current
            wait = 0
        elif cooldown_counter <= 0:
            wait += 1
            if wait >= patience and lr > float(np.float32(min_lr)):
                lr = max(lr * factor, min_lr)
                cuts.append(epoch)
                cooldown_counter = cooldown
                wait = 0
    return cuts


def torch_reduce_lr_on_plateau(
    values: Sequence[float] | np.ndarray,
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float = 0.0,
    eps: float = 1e-8,
    initial_lr: float = 1e-3,
) -> list[int]:
    """``torch.optim.lr_scheduler.ReduceLROnPlateau`` (``torch/optim/lr_scheduler.py``; PyTorch docs).

    Defaults as documented: ``mode="min", factor=0.1, patience=10, threshold=1e-4,
    threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8``. ``best`` starts at +inf. Per
    ``step(metric)``: the value is better iff ``a < best * (1 - threshold)`` (rel) or
    ``a < best - threshold`` (abs); better resets ``num_bad_epochs`` and sets ``best``, otherwise
    ``num_bad_epochs += 1``. Then, if in cooldown, ``cooldown_counter -= 1`` and ``num_bad_epochs = 0``.
    Then, if ``num_bad_epochs > patience`` (strictly more, unlike Keras), the rate becomes
    ``max(lr * factor, min_lr)`` — applied only if it changes by more than ``eps`` — and
    ``cooldown_counter = cooldown``, ``num_bad_epochs = 0`` either way. ``initial_lr`` (the optimiser's
    rate; 1e-3 is Adam's default) matters only through ``min_lr`` and ``eps``. Returns the check
    indices where the rate actually changes.
    """
    if threshold_mode not in ("rel", "abs"):
        raise ValueError(f"threshold_mode must be 'rel' or 'abs', not {threshold_mode!r}")
    best = math.inf
    bad = 0
    cooldown_counter = 0
    lr = float(initial_lr)
    cuts: list[int] = []
    for i, current in enumerate(_floats(values)):
        better = current < best * (1.0 - threshold) if threshold_mode == "rel" else current < best - threshold
        if better:
            best = current
            bad = 0
        else:
            bad += 1
        if cooldown_counter > 0:
            cooldown_counter -= 1
            bad = 0
        if bad > patience:
            new_lr = max(lr * factor, min_lr)
            if lr - new_lr > eps:
                lr = new_lr
                cuts.append(i)
            cooldown_counter = cooldown
            bad = 0
    return cuts


def lightning_early_stopping(
    values: Sequence[float] | np.ndarray,
    patience: int = 3,
    min_delta: float = 0.0,
    check_finite: bool = True,
    stopping_threshold: float | None = None,
    divergence_threshold: float | None = None,
) -> Stop:
    """``lightning.pytorch.callbacks.EarlyStopping`` (``src/lightning/pytorch/callbacks/early_stopping.py``).

    Defaults as documented: ``min_delta=0.0, patience=3, mode="min", check_finite=True``, no
    thresholds. ``patience`` counts validation checks, not epochs. ``best_score`` starts at +inf. At
    each check, in this order: a non-finite value stops at once (when ``check_finite``); a value
    below ``stopping_threshold`` stops at once; a value above ``divergence_threshold`` stops at once;
    a value with ``current + min_delta < best_score`` (Lightning negates ``min_delta`` in min mode and
    tests ``current - min_delta < best``, so a change of exactly ``min_delta`` is no improvement) is
    an improvement and resets ``wait_count``; otherwise ``wait_count += 1`` and training stops once
    ``wait_count >= patience``.
    """
    best = math.inf
    wait = 0
    for i, current in enumerate(_floats(values)):
        if check_finite and not math.isfinite(current):
            return Stop(i, "not finite")
        if stopping_threshold is not None and current < stopping_threshold:
            return Stop(i, "stopping_threshold reached")
        if divergence_threshold is not None and -current < -divergence_threshold:
            return Stop(i, "divergence_threshold reached")
        if current + min_delta < best:
            best = current
            wait = 0
        else:
            wait += 1
            if wait >= patience:
                return Stop(i, "no improvement")
    return Stop(None)


def hf_early_stopping(
    values: Sequence[float] | np.ndarray,
    early_stopping_patience: int = 1,
    early_stopping_threshold: float = 0.0,
) -> Stop:
    """``transformers.EarlyStoppingCallback`` (``src/transformers/trainer_callback.py`` and the
    Trainer's ``_determine_best_metric``), monitoring ``eval_loss`` with ``greater_is_better=False``.

    Defaults as documented: ``early_stopping_patience=1, early_stopping_threshold=0.0``. At each
    evaluation the callback runs first: if ``state.best_metric`` is None (first evaluation) or the
    value is both below it and ``abs(value - best_metric) > threshold``, the counter resets to 0;
    otherwise it increments, and training stops once ``counter >= patience``. Only after that does
    the Trainer update ``state.best_metric`` — to any strictly lower value, with no threshold (it
    starts at +inf), so a small improvement still moves the reference the next evaluation is judged
    against. (In transformers before 4.47 the best metric was updated when a checkpoint was saved;
    with ``load_best_model_at_end`` every evaluation is also a save.)
    """
    best: float | None = None
    counter = 0
    for i, value in enumerate(_floats(values)):
        if best is None or (value < best and abs(value - best) > early_stopping_threshold):
            counter = 0
        else:
            counter += 1
        if counter >= early_stopping_patience:
            return Stop(i, "no improvement")
        if best is None:
            best = math.inf
        if value < best:
            best = value
    return Stop(None)


def sklearn_mlp_early_stopping(
    values: Sequence[float] | np.ndarray, n_iter_no_change: int = 10, tol: float = 1e-4
) -> Stop:
    """scikit-learn's ``MLPClassifier``/``MLPRegressor`` stopping rule on ``loss_curve_``
    (``sklearn/neural_network/_multilayer_perceptron.py``, ``_update_no_improvement_count``), which is
    on by default. Defaults as documented: ``n_iter_no_change=10, tol=1e-4``. After each epoch the
    counter grows when ``loss > best_loss - tol`` and resets otherwise; ``best_loss`` then moves to
    any lower loss (no tolerance). Training stops once the counter exceeds ``n_iter_no_change``
    (strictly more). A NaN compares false, so it resets the counter and never becomes the best.
    """
    best = math.inf
    count = 0
    for i, loss in enumerate(_floats(values)):
        if loss > best - tol:
            count += 1
        else:
            count = 0
        if loss < best:
            best = loss
        if count > n_iter_no_change:
            return Stop(i, "no improvement")
    return Stop(None)


def _floats(values: Sequence[float] | np.ndarray) -> list[float]:
    return np.asarray(values, dtype=float).ravel().tolist()  # Python floats, converted in C
