"""Advice in the run's own framework: gradient boosting, scikit-learn, a train-only HF run,
patience that fits the run, one direction for the learning rate, and --framework."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from curves import decay, rule_marks, u_shape
from typer.testing import CliRunner

from lossdoc.advice import advise
from lossdoc.advice.frameworks import detect, overfitting_advice
from lossdoc.analysis import analyze
from lossdoc.analysis.types import Diagnosis, Finding
from lossdoc.cli import app
from lossdoc.history import LossHistory, Series
from lossdoc.report import Report, markdown

FORMATS = Path(__file__).parent / "fixtures" / "formats"
runner = CliRunner()
NEURAL_ONLY = ("dropout", "mixup", "restore_best_weights", "label smoothing", "Adam")


def boosted(train: str, val: str) -> LossHistory:
    x, tr = decay(120, rate=4)
    _, va = u_shape(120, best=40, rise=0.5)
    return LossHistory(
        "evals_result.json",
        "xgboost_json",
        "gbm",
        "iteration",
        [Series(train, "train", x, tr), Series(val, "val", x, va)],
    )


def report_text(d: Diagnosis) -> str:
    return markdown.render(Report(diagnoses=[d], errors=[], exit_code=0))


@pytest.mark.parametrize(
    ("train", "val", "framework", "expected"),
    [
        ("train.logloss", "eval.logloss", "xgboost", "early_stopping_rounds="),
        ("validation_0.rmse", "validation_1.rmse", "xgboost", "early_stopping_rounds="),
        ("training.binary_logloss", "valid_1.binary_logloss", "lightgbm", "callbacks=[lgb.early_stopping("),
    ],
)
def test_gradient_boosting_gets_its_own_early_stopping_and_no_neural_network_advice(train, val, framework, expected):
    d = analyze(boosted(train, val))
    d.advice = advise(d)
    assert detect(d.history) == framework
    assert d.advice.recommendation.framework == framework
    assert expected in d.advice.recommendation.snippet
    text = report_text(d)
    assert any(f.rule == "overfitting" for f in d.findings)
    for word in NEURAL_ONLY:
        assert word not in text, word
    assert "min_child_weight" in text and ("max_depth" in text or "num_leaves" in text)
    assert "subsample" in text or "bagging_fraction" in text
    assert "eta" in text or "learning_rate" in text


def test_real_xgboost_and_lightgbm_logs_are_told_apart():
    from lossdoc.ingest import read_one

    assert detect(read_one(str(FORMATS / "xgboost" / "evals_result.json"))[0]) == "xgboost"
    assert detect(read_one(str(FORMATS / "xgboost" / "sklearn_evals_result.json"))[0]) == "xgboost"
    assert detect(read_one(str(FORMATS / "lightgbm" / "record_evaluation.json"))[0]) == "lightgbm"
    assert detect(read_one(str(FORMATS / "lightgbm" / "record_evaluation_l2.json"))[0]) == "lightgbm"


def test_overfitting_advice_hook_names_the_frameworks_own_knobs():
    assert "early_stopping_rounds" in overfitting_advice("xgboost", "iteration 40")
    assert overfitting_advice("xgboost", "iteration 40").startswith("Stop at iteration 40")
    assert "lgb.early_stopping" in overfitting_advice("lightgbm")
    assert overfitting_advice("keras") is None


@pytest.mark.parametrize("name", ["loss_curve.json", "mlp_history.json"])
def test_sklearn_loss_curve_is_sklearn_and_gets_its_estimators_early_stopping(name):
    from lossdoc.ingest import read_one

    h = read_one(str(FORMATS / "sklearn" / name))[0]
    assert detect(h) == "sklearn"
    d = analyze(h)
    rec = advise(d).recommendation
    assert rec.framework == "sklearn"
    for knob in ("early_stopping=True", "n_iter_no_change=", "validation_fraction="):
        assert knob in rec.snippet
    assert "keras" not in rec.snippet


def test_sklearn_replay_follows_n_iter_no_change():
    from lossdoc.advice.replay import sklearn_mlp_early_stopping

    flat = [1.0, 0.5] + [0.5] * 12
    assert sklearn_mlp_early_stopping(flat).index == 12  # 11 epochs without improvement: more than 10
    assert sklearn_mlp_early_stopping(flat, n_iter_no_change=2).index == 4


def test_a_train_only_trainer_state_is_told_to_add_evaluation_first():
    x = np.arange(1, 201) * 10.0
    _, y = decay(200)
    h = LossHistory("trainer_state.json", "hf_trainer_state", "hf", "step", [Series("loss", "train", x, y)])
    snippet = advise(analyze(h)).recommendation.snippet
    assert "eval_dataset" in snippet and "eval_strategy" in snippet
    assert snippet.index("eval_dataset") < snippet.index('metric_for_best_model="eval_loss"')
    _, noisy = decay(200, noise=0.05)
    a = advise(analyze(LossHistory("t.json", "hf_trainer_state", "hf", "step", [Series("loss", "train", x, noisy)])))
    if a.recommendation is None:
        assert any("eval_dataset" in n for n in a.notes)
    else:
        assert a.recommendation.snippet.index("eval_dataset") < a.recommendation.snippet.index("metric_")


def test_patience_fits_the_runs_length():
    # 61 epochs whose best comes after a long noisy stall: a patience of 34 would wait half the run
    rng = np.random.default_rng(3)
    val = np.concatenate([np.linspace(1.0, 0.5, 10), 0.5 + rng.normal(0, 0.01, 40), [0.45], np.linspace(0.46, 0.6, 10)])
    x = np.arange(1.0, 62.0)
    h = LossHistory(
        "r.csv",
        "keras_csv",
        "r",
        "epoch",
        [Series("loss", "train", x, np.linspace(1, 0.1, 61)), Series("val_loss", "val", x, val)],
    )
    a = advise(analyze(h))
    assert a.recommendation is None or a.recommendation.patience <= 16
    if a.recommendation is None:
        assert any("too noisy for early stopping" in n for n in a.notes)


def test_patience_on_a_training_loss_stays_short():
    x, y = decay(3000, noise=0.15, seed=4)
    h = LossHistory("r.jsonl", "jsonl", "r", "step", [Series("loss", "train", x, y)])
    a = advise(analyze(h))
    rec = a.recommendation
    assert rec is None or rec.patience <= 10
    assert rec is not None or any("validate during training" in n for n in a.notes)


def test_one_report_never_raises_and_lowers_the_learning_rate():
    x = np.arange(200.0)
    y = 2.3 * np.exp(np.where(x % 2 == 0, 0.3, -0.3))
    h = LossHistory("r.csv", "csv", "r", "step", [Series("loss", "train", x, y)])
    findings = [
        Finding(
            "plateau",
            "warning",
            "loss",
            0.0,
            199.0,
            "the training loss never learned",
            "raise the learning rate (or lower it if it is far too high)",
            {"kind": "never-learned"},
            marks=rule_marks("plateau", 0.0, {"kind": "never-learned"}),
        ),
        Finding(
            "oscillation",
            "warning",
            "loss",
            0.0,
            199.0,
            "swings",
            "Lower the learning rate (by 3-10x)",
            marks=rule_marks("oscillation", 0.0, {}),
        ),
    ]
    d = Diagnosis(h, findings, analyze(h).summary)
    d.advice = advise(d)
    text = report_text(d).lower()
    assert "lower the learning rate" in text or "lower it (by 3-10x)" in text
    assert "raise the learning rate" not in text


def test_framework_option_overrides_the_guess(tmp_path):
    f = tmp_path / "log.csv"
    x, tr = decay(40)
    f.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{a},{a * 1.1}\n" for i, a in zip(x, tr, strict=True)))
    doc = json.loads(runner.invoke(app, ["analyze", str(f), "-f", "json", "--framework", "lightgbm"]).stdout)
    assert doc["runs"][0]["advice"]["recommendation"]["framework"] == "lightgbm"
    assert doc["runs"][0]["advice"]["framework"] == "lightgbm"  # a run-level key, with or without a recommendation
    res = runner.invoke(app, ["analyze", str(f), "--framework", "jax"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "lossdoc: --framework: 'jax' is not a framework; frameworks are: keras, lightning, pytorch, huggingface, "
        "xgboost, lightgbm, sklearn, generic"
    ]
    (tmp_path / "lossdoc.toml").write_text('framework = "xgboost"\n')
    res = runner.invoke(app, ["analyze", str(f), "-f", "json", "--config", str(tmp_path / "lossdoc.toml")])
    assert json.loads(res.stdout)["runs"][0]["advice"]["recommendation"]["framework"] == "xgboost"
