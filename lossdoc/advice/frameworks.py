"""Which framework wrote a run, so that advice and snippets use its own API and its own remedies.

The log format says most of it (a Keras CSVLogger file is Keras); a few formats are shared by more
than one library and are told apart by their series names: XGBoost's ``evals_result`` and LightGBM's
``record_evaluation`` are the same JSON shape, and scikit-learn's ``loss_curve_`` is a plain list.
``--framework NAME`` (or ``framework`` in ``[tool.lossdoc]``) overrides the guess.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from lossdoc.history import LossHistory
from lossdoc.ingest.readers import FORMATS

NAMES = ("keras", "lightning", "pytorch", "huggingface", "xgboost", "lightgbm", "sklearn", "generic")
"""What ``--framework`` accepts; ``generic`` gives framework-neutral advice."""

GRADIENT_BOOSTING = frozenset({"xgboost", "lightgbm"})
"""Trees, not networks: no dropout, mixup or weights to restore; early stopping counts boosting rounds."""

BY_FORMAT = {name: f.framework for name, f in FORMATS.items() if f.framework is not None}
"""Log format → framework, for formats only one framework writes (see :data:`lossdoc.ingest.readers.FORMATS`)."""

SKLEARN_SERIES = frozenset({"loss_curve_", "validation_scores_", "best_loss_", "best_validation_score_"})
"""scikit-learn estimator attributes (MLPClassifier/MLPRegressor, SGD): a log holding one is sklearn's."""

LIGHTGBM_DATASET = re.compile(r"(training|valid_\d+)$")
"""LightGBM's default names for the data sets of ``lgb.train``: ``training``, ``valid_0``, ``valid_1``..."""
LIGHTGBM_METRICS = frozenset(
    {"binary_logloss", "multi_logloss", "multi_error", "binary_error", "l1", "l2", "l2_root", "huber", "quantile"}
)
"""Metric names only LightGBM uses (XGBoost says logloss, mlogloss, rmse, mae, error...)."""


def detect(h: LossHistory) -> str:
    """The framework that wrote ``h``: one of :data:`NAMES`."""
    names = [s.name for s in h.series]
    if any(n.rsplit(".", 1)[-1] in SKLEARN_SERIES for n in names) or _is_sklearn_list(h):
        return "sklearn"
    if h.format == "xgboost_json":
        for n in names:
            dataset, _, metric = n.rpartition(".")
            if LIGHTGBM_DATASET.fullmatch(dataset) or metric in LIGHTGBM_METRICS:
                return "lightgbm"
        return "xgboost"
    return BY_FORMAT.get(h.format, "generic")


def _is_sklearn_list(h: LossHistory) -> bool:
    """A bare JSON list saved from ``loss_curve_`` (``loss_curve.json``)."""
    return h.format == "json_list" and "loss_curve" in PurePath(h.source).name.lower()


def overfitting_advice(framework: str, at: str | None = None) -> str | None:
    """What to do about overfitting in ``framework``'s own terms, or None for the general advice;
    ``at`` is where the best point was (``iteration 41``), named instead of "the best round".

    For the overfitting rule's finding (``lossdoc/analysis/rules/overfitting.py``): a boosted model
    is not helped by dropout, mixup or ``restore_best_weights``, which it does not have.
    """
    if framework == "xgboost":
        return (
            f"Stop at {at or 'the best round'}: early_stopping_rounds with an eval set keeps best_iteration (predict "
            "with iteration_range=(0, best_iteration + 1)). Then reduce overfitting: a lower eta/learning_rate "
            "with more rounds, a smaller max_depth, a larger min_child_weight, subsample and colsample_bytree "
            "below 1, or more L2 (lambda)."
        )
    if framework == "lightgbm":
        return (
            f"Stop at {at or 'the best round'}: callbacks=[lgb.early_stopping(...)] with a validation set keeps "
            "best_iteration. Then reduce overfitting: a lower learning_rate with more rounds, fewer "
            "num_leaves (or a max_depth), a larger min_child_samples/min_child_weight, bagging_fraction "
            "and feature_fraction below 1, or more lambda_l2."
        )
    if framework == "sklearn":
        return (
            f"Stop at {at or 'the best epoch'}: early_stopping=True holds out validation_fraction of the data and "
            "stops after n_iter_no_change epochs without improvement. Then reduce overfitting: a larger "
            "alpha (L2), fewer or smaller hidden layers, or more data."
        )
    return None
