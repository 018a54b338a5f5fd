"""The early-stopping setting to use next time, as a copy-paste snippet in the log's framework.

The search replays the framework's own early-stopping semantics (:mod:`lossdoc.advice.replay`) on
the monitored checks for a few ``min_delta`` values and every patience up to ``MAX_PATIENCE``. A
setting is *safe* when it would not have stopped before the best check (so no earlier noisy dip or
stall ends the run); the smallest safe patience plus a margin (:func:`margin`) is recommended,
keeping the margin only while the setting still stops on this log. Among the ``min_delta`` values
the one that stops soonest wins, ties going to the smaller ``min_delta``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lossdoc.advice import replay
from lossdoc.advice.frameworks import BY_FORMAT
from lossdoc.analysis.kernels import median

MAX_PATIENCE = 100
"""Longest patience searched, in checks."""

DELTA_FRACTIONS = (0.0, 0.5, 1.0)
"""``min_delta`` candidates as multiples of the check-to-check noise (median |Δ| of the later checks)."""

FRAMEWORKS = BY_FORMAT
"""Log format → the framework whose API the snippet uses (see :func:`lossdoc.advice.frameworks.detect`,
which also tells XGBoost, LightGBM and scikit-learn apart); anything else gets a neutral statement."""

MAX_PATIENCE_FRACTION = 0.25
"""A patience longer than this fraction of the run's checks is not early stopping: on a 61-epoch run
34 would wait more than half of the run (the last stretch is what early stopping exists to save)..."""
TRAIN_MAX_PATIENCE = 10
"""...and on a training loss (no validation logged) at most this many checks: a training loss keeps
creeping down by noise-sized steps, so a long patience on it only measures the noise."""

Stopper = Callable[[Any, int, float], "int | None"]


def framework_of(fmt: str) -> str:
    return FRAMEWORKS.get(fmt, "generic")


def stopper_for(framework: str) -> Stopper:
    """The early-stopping rule the snippet for ``framework`` configures, as ``(values, p, d) -> stop``.

    Keras: ``keras.callbacks.EarlyStopping``; Lightning: its ``EarlyStopping`` with ``check_finite``
    off (a NaN would stop every setting at once, so it says nothing about patience);
    HuggingFace: ``EarlyStoppingCallback``; scikit-learn: the MLP's ``n_iter_no_change``/``tol``;
    PyTorch, XGBoost (``early_stopping_rounds``), LightGBM (``lgb.early_stopping``) and generic: the
    snippet's plain loop or the library's callback, which is Lightning's rule (improvement iff
    ``value + min_delta < best``; stop after ``patience`` checks without one).
    """
    if framework == "keras":
        return lambda v, p, d: replay.keras_early_stopping(v, patience=p, min_delta=d).index
    if framework == "huggingface":
        return lambda v, p, d: replay.hf_early_stopping(v, early_stopping_patience=p, early_stopping_threshold=d).index
    if framework == "sklearn":
        # patience is n_iter_no_change itself (sklearn stops once its counter *exceeds* it)
        return lambda v, p, d: replay.sklearn_mlp_early_stopping(v, n_iter_no_change=p, tol=d).index
    return lambda v, p, d: replay.lightning_early_stopping(v, patience=p, min_delta=d, check_finite=False).index


def margin(patience: int) -> int:
    """Extra checks beyond the smallest safe patience: one, or a quarter of it for long stalls."""
    return max(1, math.ceil(patience / 4))


def delta_candidates(values: np.ndarray, best: int) -> list[float]:
    """``min_delta`` values to try, scale-free: 0 and fractions of the check-to-check noise near the best.

    The noise is the median |Δ| over the checks just before the best one (after it when the best
    comes early). A candidate is kept only if it is smaller than the best check's gain over every
    check before it, so the best check itself counts as an improvement: the counter restarts there and
    the weights kept (``restore_best_weights``, ``load_best_model_at_end``) are its own. When an earlier
    check dipped lower (the report's best point stands where the smoothed loss is lowest, which a noise
    dip before it can undercut), only 0 is tried, and the callback keeps that lower, earlier check.
    """
    v = values[np.isfinite(values)]
    b = int(np.flatnonzero(np.isfinite(values))[: best + 1].size) - 1  # best's index among finite values
    h = max(3, v.size // 6)
    window = v[max(0, b - h) : b + 1] if b >= 3 else v[b : b + h + 1]
    steps = np.abs(np.diff(window))
    noise = median(steps) if steps.size else 0.0
    gain = float(np.min(v[:b]) - v[b]) if b > 0 else math.inf
    out: list[float] = []
    for f in DELTA_FRACTIONS:
        d = round_sig(f * noise)
        if d not in out and (d == 0 or d < gain):
            out.append(d)
    return out


def patience_cap(checks: int, on_training_loss: bool) -> int:
    """The longest patience worth recommending for a run of ``checks`` checks (see
    :data:`MAX_PATIENCE_FRACTION`, :data:`TRAIN_MAX_PATIENCE`)."""
    cap = min(MAX_PATIENCE, max(3, math.ceil(checks * MAX_PATIENCE_FRACTION)))
    return min(cap, TRAIN_MAX_PATIENCE) if on_training_loss else cap


def search(
    values: np.ndarray, framework: str, max_patience: int = MAX_PATIENCE, best: int | None = None
) -> tuple[int, float, int | None] | None:
    """``(patience, min_delta, stop_index)`` for this log, or None when no patience is safe: it must not
    stop before the check ``best`` (the report's best point; default the lowest check)."""
    finite = np.isfinite(values)
    if int(finite.sum()) < 3:
        return None
    if best is None or not 0 <= best < values.size or not finite[best]:
        best = int(np.nanargmin(np.where(finite, values, np.nan)))
    stop = stopper_for(framework)
    top = max(1, min(max_patience, values.size))
    choices: list[tuple[float, float, int, int | None]] = []
    checks = values.astype(float).tolist()  # converted once, not once per replay
    for d in delta_candidates(values, best):
        safe = smallest_safe_patience(stop, checks, d, best, top)
        if safe is None:
            continue
        chosen, at = safe, stop(checks, safe, d)
        for p in range(min(safe + margin(safe), top), safe, -1):
            s = stop(checks, p, d)
            if s is not None or at is None:
                chosen, at = p, s
                break
        choices.append((math.inf if at is None else at, d, chosen, at))
    if not choices:
        return None
    _, d, p, at = min(choices, key=lambda c: (c[0], c[1]))
    return p, d, at


def _safe(stop_index: int | None, best: int) -> bool:
    return stop_index is None or stop_index >= best


def smallest_safe_patience(stop: Stopper, checks: Any, min_delta: float, best: int, top: int) -> int | None:
    """The smallest patience in ``1..top`` that does not stop before the best check, or None.

    Found by bisection, which gives what trying every patience in turn gives: in each replayed
    rule the counter of checks without improvement (and every stop that ignores patience) runs the
    same whatever the patience, and the run stops at the first check where the counter reaches it;
    so a larger patience never stops earlier, and once a patience is safe every larger one is.
    """
    if not _safe(stop(checks, top, min_delta), best):
        return None
    lo, hi = 1, top  # hi is safe; find the first safe patience in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if _safe(stop(checks, mid, min_delta), best):
            hi = mid
        else:
            lo = mid + 1
    return lo


def snippet(framework: str, monitor: str, patience: int, min_delta: float, context: dict[str, Any]) -> str:
    """Copy-paste code (or, for ``generic``, one sentence) configuring this early stopping."""
    d = fmt_num(min_delta)
    if framework == "keras":
        return (
            "from keras.callbacks import EarlyStopping\n"
            f'early_stop = EarlyStopping(monitor="{monitor}", mode="min", patience={patience}, min_delta={d}, '
            "restore_best_weights=True)\n"
            "model.fit(..., callbacks=[early_stop])"
        )
    if framework == "lightning":
        return (
            "from lightning.pytorch import Trainer\n"
            "from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint\n"
            f"# patience counts validation checks, not epochs\n"
            f'early_stop = EarlyStopping(monitor="{monitor}", mode="min", patience={patience}, min_delta={d})\n'
            f'best = ModelCheckpoint(monitor="{monitor}", mode="min")\n'
            "trainer = Trainer(..., callbacks=[early_stop, best])"
        )
    if framework == "huggingface":
        evaluated = monitor.startswith("eval_")
        metric = monitor if evaluated else "eval_loss"
        eval_every = context.get("eval_every")
        if context.get("x_name") == "step" and eval_every:
            every = int(eval_every)
            strategy = f'eval_strategy="steps", eval_steps={every}, save_strategy="steps", save_steps={every},'
        else:
            strategy = 'eval_strategy="epoch", save_strategy="epoch",'
        first = (
            ""
            if evaluated
            else "# This run logged no eval_loss: first give the Trainer an eval_dataset and an eval_strategy,\n"
            "# so that there is an eval_loss to keep the best model by and to stop on.\n"
        )
        return (
            f"{first}from transformers import EarlyStoppingCallback, Trainer, TrainingArguments\n"
            f"args = TrainingArguments(..., {strategy}\n"
            f'    load_best_model_at_end=True, metric_for_best_model="{metric}", greater_is_better=False)\n'
            f"trainer = Trainer(..., args=args,{'' if evaluated else ' eval_dataset=eval_dataset,'} "
            f"callbacks=[EarlyStoppingCallback(early_stopping_patience={patience}, early_stopping_threshold={d})])"
        )
    if framework == "xgboost" and min_delta:
        return (
            "import xgboost as xgb\n"
            f"stop = xgb.callback.EarlyStopping(rounds={patience}, min_delta={d}, save_best=True)\n"
            'booster = xgb.train(params, dtrain, num_boost_round=..., evals=[(dtrain, "train"), (dvalid, "eval")],\n'
            "                    callbacks=[stop])"
        )
    if framework == "xgboost":
        return (
            "import xgboost as xgb\n"
            f"# early stopping on the last eval set: stops after {patience} rounds without improvement, keeps "
            "best_iteration\n"
            'booster = xgb.train(params, dtrain, num_boost_round=..., evals=[(dtrain, "train"), (dvalid, "eval")],\n'
            f"                    early_stopping_rounds={patience})\n"
            f"# scikit-learn API: xgb.XGBClassifier(..., early_stopping_rounds={patience}).fit(X, y, "
            "eval_set=[(X_valid, y_valid)])"
        )
    if framework == "lightgbm":
        return (
            "import lightgbm as lgb\n"
            "booster = lgb.train(params, train_set, num_boost_round=..., valid_sets=[valid_set],\n"
            f"                    callbacks=[lgb.early_stopping(stopping_rounds={patience}, min_delta={d})])"
        )
    if framework == "sklearn":
        tol = d if min_delta else "1e-4"
        return (
            "from sklearn.neural_network import MLPClassifier  # or MLPRegressor\n"
            "# early_stopping=True holds out validation_fraction of the data and stops on its score\n"
            f"model = MLPClassifier(..., early_stopping=True, validation_fraction=0.1, n_iter_no_change={patience}, "
            f"tol={tol})"
        )
    if framework == "pytorch":
        return (
            f"best, bad = float('inf'), 0  # early stopping: patience {patience}, min_delta {d}\n"
            "for epoch in range(max_epochs):\n"
            "    train_one_epoch(model)\n"
            f"    {_ident(monitor)} = evaluate(model)\n"
            f"    if {_ident(monitor)}{f' + {d}' if min_delta else ''} < best:\n"
            f"        best, bad = {_ident(monitor)}, 0\n"
            '        torch.save(model.state_dict(), "best.pt")\n'
            "    else:\n"
            "        bad += 1\n"
            f"        if bad >= {patience}:\n"
            "            break"
        )
    unit = context.get("check_unit") or "checks"
    return (
        f"Stop when {monitor} has not improved by more than {d} for {patience} consecutive {unit}, "
        "and keep the weights from the best one."
    )


def _ident(name: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in name).strip("_") or "val_loss"
    return out if not out[0].isdigit() else f"v_{out}"


def round_sig(v: float, digits: int = 2) -> float:
    if v == 0 or not math.isfinite(v):
        return 0.0
    return float(f"{v:.{digits}g}")


def fmt_num(v: float) -> str:
    return repr(float(v)) if v else "0.0"
