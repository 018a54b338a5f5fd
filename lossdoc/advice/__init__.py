"""Advice that pays for itself: the best stopping point, what the user's own callbacks would have
done on this log, the early-stopping setting to use next time, and what the logged learning rate
and gradient norm say.

:func:`advise` turns a :class:`~lossdoc.analysis.types.Diagnosis` into an
:class:`~lossdoc.advice.model.Advice` (plain Python values, None for NaN) that the JSON report writes as
the run's ``advice`` (one key per field) and :func:`lossdoc.advice.render.next_run_lines` turns into
the "next run" section of every report: ``framework``, ``x_name``, ``monitor``, ``checks``, ``bucket``,
``best`` (a :class:`~lossdoc.advice.model.BestPoint` or None), ``replay`` (one dict per callback:
``{"callback", "params", "stop_x", "reason"}`` or ``{..., "lr_cut_x": [...]}``), ``recommendation``
(a :class:`~lossdoc.advice.model.Recommendation` or None), ``notes``, ``causes`` (``[{"rule", "x",
"cause", "leading_signal", "lead_steps", "confidence", "message", "fix", ...}]``) and ``recovery``
(``{"folder", "checkpoints", "events", "best", "deletable", "note"}`` or None).

``causes`` (see :mod:`lossdoc.advice.causes`) says why each spike, divergence and non-finite loss
happened; the findings' evidence gains the same ``cause``, ``leading_signal`` and ``lead_steps``.
``recovery`` (see :mod:`lossdoc.advice.recovery`) is the way back when the log sits in an output folder
with checkpoints: where to resume from, the batches to skip, the rate to use, the best checkpoint on
disk and those that could be deleted; None when no checkpoint is on disk beside the log.

The callbacks are replayed on the validation loss when one is logged, else on the training loss
(``monitor`` says which), one check per logged point — bucket means when the series is longer than
:data:`lossdoc.advice.replay.MAX_CHECKS` (``bucket`` is then the points per check).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lossdoc.advice.model import Advice, Recommendation
from lossdoc.analysis.kernels import median
from lossdoc.analysis.types import Diagnosis
from lossdoc.history import LossHistory
from lossdoc.plain import plain
from lossdoc.words import count


def advise(diagnosis: Diagnosis, framework: str | None = None) -> Advice:
    """The run's advice; ``framework`` (one of :data:`lossdoc.advice.frameworks.NAMES`) overrides the
    guess from the log. The diagnosis's findings are given advice that fits the framework and agrees
    with itself (see :func:`lossdoc.advice.consistent.adapt_findings`)."""
    from lossdoc.advice import causes as cause_notes
    from lossdoc.advice import lr as lr_notes
    from lossdoc.advice import recommend, recovery, replay
    from lossdoc.advice.best import best_point
    from lossdoc.advice.consistent import adapt_findings
    from lossdoc.advice.frameworks import detect

    h = diagnosis.history
    framework = framework or detect(h)
    diagnosis.findings = adapt_findings(diagnosis.findings, framework, h.x_name)
    causes = cause_notes.attribute(h, diagnosis.findings, framework)
    diagnosis.findings = cause_notes.with_causes(diagnosis.findings, causes)
    explained = {c["cause"] for c in causes}
    notes: list[str] = []
    monitored = h.val if h.val is not None and np.isfinite(h.val.y).sum() >= 2 else h.train
    best = best_point(h, diagnosis.summary.get("best_val_x"))
    out = Advice(
        framework=framework,
        x_name=h.x_name,
        monitor=monitored.name if monitored is not None else None,
        best=best,
        notes=notes,
        causes=plain(cause_notes.public(causes), None),
        recovery=plain(recovery.plan(h, causes, best), None),
    )
    if diagnosis.summary.get("too_short"):
        monitored = None  # a few points replay no callback and recommend no patience
    if monitored is not None and monitored.y.size:
        xs, ys, k = replay.checks_of(monitored.x, monitored.y)
        out.checks, out.bucket = int(ys.size), k
        if monitored is h.train and h.val is None:
            notes.append(
                f"No validation loss logged: the callbacks were replayed on the training loss ({monitored.name})."
            )
        if k > 1:
            notes.append(
                f"{monitored.name} has {monitored.y.size:,} points: replayed on means of {k:,} points per check."
            )
        out.replay = plain(replays(xs, ys, framework, initial_lr(h)), None)
        on_training_loss = monitored is h.train and h.val is None
        cap = recommend.patience_cap(int(ys.size), on_training_loss)
        # it must not stop before the best point the report quotes (see best_point)
        at_best = None if best is None or monitored is not h.val else min(int(np.searchsorted(xs, best.x)), xs.size - 1)
        found = recommend.search(ys, framework, cap, at_best)
        if found is None and int(np.isfinite(ys).sum()) >= 3:
            notes.append(_no_patience_note(framework, monitored.name, cap, _check_unit(h, k, xs), on_training_loss))
        if found is not None:
            patience, min_delta, stop = found
            context = {"x_name": h.x_name, "eval_every": _spacing(xs), "check_unit": _check_unit(h, k, xs)}
            out.recommendation = Recommendation(
                framework=framework,
                patience=int(patience),
                min_delta=float(min_delta),
                stop_x=None if stop is None else float(xs[stop]),
                snippet=recommend.snippet(framework, monitored.name, patience, min_delta, context),
            )
    span = h.x_range
    if h.lr is not None:
        if "learning_rate" not in explained:  # else the cause already says it, event by event
            notes.extend(lr_notes.warmup_notes(h.lr, diagnosis.findings, span, h.x_name))
        notes.extend(lr_notes.cut_notes(h.lr, h.train, h.x_name))
        notes.extend(lr_notes.constant_lr_notes(h.lr, diagnosis.findings, h.x_name))
    grad = h.get("grad_norm")
    if grad is not None and "gradient" not in explained:
        hint = lr_notes.CLIP_HINTS.get(framework, lr_notes.CLIP_HINTS["generic"])
        notes.extend(lr_notes.grad_norm_notes(grad, diagnosis.findings, span, h.x_name, hint))
    return out


def _no_patience_note(framework: str, monitor: str, cap: int, unit: str, on_training_loss: bool) -> str:
    if on_training_loss and framework == "huggingface":
        why = "validate during training (give the Trainer an eval_dataset and an eval_strategy) and stop on eval_loss"
    elif on_training_loss:
        why = "validate during training and stop on the validation loss"
    else:
        why = "evaluate on more data (a less noisy validation loss) or stop on a smoothed one"
    return (
        f"No early-stopping patience up to {cap:,} {unit} waits for the best value of {monitor}: "
        f"it is too noisy for early stopping to help; {why}."
    )


def replays(xs: np.ndarray, ys: np.ndarray, framework: str, lr0: float | None) -> list[dict[str, Any]]:
    """Every built-in callback with its documented defaults, the log's own framework first; a
    gradient-boosting log gets none (XGBoost and LightGBM have no early stopping by default and no
    learning-rate schedule to replay), a scikit-learn one its estimator's own rule."""
    from lossdoc.advice import replay
    from lossdoc.advice.frameworks import GRADIENT_BOOSTING

    if framework in GRADIENT_BOOSTING:
        return []
    if framework == "sklearn":
        stop = replay.sklearn_mlp_early_stopping(ys)
        return [
            {
                "callback": "sklearn.neural_network.MLPClassifier",
                "params": {"n_iter_no_change": 10, "tol": 1e-4},
                "stop_x": None if stop.index is None else float(xs[stop.index]),
                "reason": stop.reason,
            }
        ]

    def at(i: int | None) -> float | None:
        return None if i is None else float(xs[i])

    ks = replay.keras_early_stopping(ys)
    ls = replay.lightning_early_stopping(ys)
    hs = replay.hf_early_stopping(ys)
    keras_cuts = replay.keras_reduce_lr_on_plateau(ys, initial_lr=lr0 if lr0 else 1.0)
    torch_lr0 = lr0 if lr0 else 1e-3  # the logged first rate, else Adam's default (matters only via eps)
    torch_cuts = replay.torch_reduce_lr_on_plateau(ys, initial_lr=torch_lr0)
    rows = [
        (
            "keras",
            {
                "callback": "keras.EarlyStopping",
                "params": {"patience": 0, "min_delta": 0.0},
                "stop_x": at(ks.index),
                "reason": ks.reason,
            },
        ),
        (
            "keras",
            {
                "callback": "keras.ReduceLROnPlateau",
                "params": {"factor": 0.1, "patience": 10, "min_delta": 1e-4, "cooldown": 0},
                "stop_x": None,
                "lr_cut_x": [float(xs[i]) for i in keras_cuts],
            },
        ),
        (
            "pytorch",
            {
                "callback": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                "params": {
                    "factor": 0.1,
                    "patience": 10,
                    "threshold": 1e-4,
                    "threshold_mode": "rel",
                    "cooldown": 0,
                    "eps": 1e-8,
                    "initial_lr": torch_lr0,
                },
                "stop_x": None,
                "lr_cut_x": [float(xs[i]) for i in torch_cuts],
            },
        ),
        (
            "lightning",
            {
                "callback": "lightning.EarlyStopping",
                "params": {"patience": 3, "min_delta": 0.0, "check_finite": True},
                "stop_x": at(ls.index),
                "reason": ls.reason,
            },
        ),
        (
            "huggingface",
            {
                "callback": "transformers.EarlyStoppingCallback",
                "params": {"early_stopping_patience": 1, "early_stopping_threshold": 0.0},
                "stop_x": at(hs.index),
                "reason": hs.reason,
            },
        ),
    ]
    mine = framework if framework != "generic" else None
    rows.sort(key=lambda r: r[0] != mine)
    return [r for _, r in rows]


def initial_lr(h: LossHistory) -> float | None:
    if h.lr is None:
        return None
    y = h.lr.y[np.isfinite(h.lr.y) & (h.lr.y > 0)]
    return float(y[0]) if y.size else None


def _spacing(xs: np.ndarray) -> float | None:
    if xs.size < 2:
        return None
    d = np.diff(xs)
    d = d[d > 0]
    return median(d) if d.size else None


def _check_unit(h: LossHistory, k: int, xs: np.ndarray) -> str:
    """How the generic statement names the checks, plural: ``epochs``, ``checks (every 500 steps)``."""
    if k > 1:
        return f"checks (means of {k:,} logged points)"
    every = _spacing(xs)
    if h.x_name in ("epoch", "step", "iteration") and every == 1:
        return f"{h.x_name}s"
    if every and h.x_name:
        return f"checks (every {count(every, h.x_name)})"
    return "checks"
