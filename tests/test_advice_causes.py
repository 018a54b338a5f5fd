"""Cause attribution: the signal that led each spike, divergence and non-finite loss."""

from __future__ import annotations

import json

import numpy as np

from lossdoc.advice import advise
from lossdoc.advice.model import Advice
from lossdoc.analysis import analyze
from lossdoc.history import LossHistory, Series
from lossdoc.report.json import dumps

N = 300
SPIKE = 200


def _run(loss, grad=None, lr=None, extra=(), fmt="hf_trainer_state"):
    x = np.arange(1, N + 1, dtype=float)
    series = [Series("loss", "train", x, np.asarray(loss, dtype=float))]
    if grad is not None:
        series.append(Series("grad_norm", "grad_norm", x, np.asarray(grad, dtype=float)))
    if lr is not None:
        series.append(Series("learning_rate", "lr", x, np.asarray(lr, dtype=float)))
    series.extend(extra)
    return LossHistory(source="r", format=fmt, name="r", x_name="step", series=series)


def _noisy(level, noise=0.03, seed=0):
    return level * np.exp(np.random.default_rng(seed).normal(0.0, noise, N))


def _causes(h):
    d = analyze(h)
    advice = advise(d)
    json.loads(dumps(advice))  # JSON-safe
    return d, advice.causes


def _loss_with_spike(at=SPIKE, height=6.0):
    y = _noisy(np.linspace(2.0, 1.0, N))
    y[at - 1] *= height  # x = at
    return y


FLAT_LR = np.full(N, 1e-4)


def test_a_spike_led_by_the_gradient_norm_says_clip():
    grad = _noisy(np.full(N, 1.0), seed=1)
    grad[SPIKE - 2] *= 20  # the norm blew up one logged step before the loss moved
    d, causes = _causes(_run(_loss_with_spike(), grad, FLAT_LR))
    (c,) = causes
    assert (c["cause"], c["leading_signal"], c["lead_steps"], c["confidence"]) == ("gradient", "grad_norm", 1.0, "high")
    assert "max_grad_norm" in c["fix"] and "eps" in c["fix"]
    spike = next(f for f in d.findings if f.rule == "loss-spike")
    assert spike.evidence["cause"] == "gradient" and spike.evidence["lead_steps"] == 1.0


def test_a_gradient_norm_that_moves_in_the_same_step_is_only_medium_confidence():
    grad = _noisy(np.full(N, 1.0), seed=1)
    grad[SPIKE - 1] *= 20
    _, (c,) = _causes(_run(_loss_with_spike(), grad, FLAT_LR))
    assert (c["cause"], c["lead_steps"], c["confidence"]) == ("gradient", 0.0, "medium")
    assert "same logged step" in c["message"]


def test_a_loss_spike_with_a_flat_gradient_norm_is_a_bad_batch():
    grad = _noisy(np.full(N, 1.0), seed=1)
    _, (c,) = _causes(_run(_loss_with_spike(), grad, FLAT_LR))
    assert (c["cause"], c["leading_signal"], c["confidence"]) == ("data", "loss", "high")
    assert c["fix"].startswith("Skip the batch of step 200 on resume")


def test_a_divergence_right_after_warm_up_is_the_learning_rate():
    lr = np.minimum(np.arange(1, N + 1) / 100, 1.0) * 1e-3
    y = _noisy(np.concatenate([np.linspace(2.0, 1.0, 105), np.geomspace(1.0, 1e4, N - 105)]))
    grad = _noisy(np.concatenate([np.ones(105), np.geomspace(1.0, 1e3, N - 105)]), seed=2)
    _, causes = _causes(_run(y, grad, lr))
    c = causes[0]
    assert c["rule"] == "divergence" and c["cause"] == "learning_rate" and c["confidence"] == "high"
    assert "warm-up ended" in c["message"] and "lengthen warm-up" in c["fix"]


def test_the_learning_rate_against_a_flat_gradient_norm_is_said_and_low():
    lr = np.minimum(np.arange(1, N + 1) / 190, 1.0) * 1e-3  # peak at step 190, the spike at 200
    grad = _noisy(np.full(N, 1.0), seed=1)
    _, (c,) = _causes(_run(_loss_with_spike(), grad, lr))
    assert c["cause"] == "learning_rate" and c["confidence"] == "low"
    assert c["disagree"] and "bad batch" in c["disagree"]


def test_a_loss_scale_collapse_before_nan_is_fp16():
    y = _noisy(np.linspace(2.0, 1.0, N))
    y[SPIKE - 1 :] = np.nan
    scale = np.full(N, 65536.0)
    scale[SPIKE - 3 :] = 1.0
    extra = [Series("loss_scale", "other", np.arange(1, N + 1, dtype=float), scale)]
    _, (c,) = _causes(_run(y, _noisy(np.full(N, 1.0)), FLAT_LR, extra))
    assert (c["rule"], c["cause"], c["leading_signal"]) == ("non-finite", "loss_scale", "loss_scale")
    assert "bf16" in c["fix"]


def test_without_grad_norm_or_rate_the_cause_is_unknown_and_says_what_to_log():
    _, (c,) = _causes(_run(_loss_with_spike()))
    assert c["cause"] == "unknown" and c["leading_signal"] is None and c["confidence"] == "low"
    assert c["missing"] == ["grad_norm", "learning_rate"]
    assert "grad_norm" in c["fix"] and "logging_steps" in c["fix"]


def test_a_run_without_events_has_no_causes():
    _, causes = _causes(_run(_noisy(np.linspace(2.0, 1.0, N)), _noisy(np.ones(N)), FLAT_LR))
    assert causes == []


def test_the_causes_are_rendered_once_per_cause():
    from lossdoc.advice.render import next_run_lines

    grad = _noisy(np.full(N, 1.0), seed=1)
    y = _loss_with_spike()
    y[99] *= 6
    _, causes = _causes(_run(y, grad, FLAT_LR))
    assert [c["cause"] for c in causes] == ["data", "data"]
    lines = next_run_lines(Advice(x_name="step", causes=causes))
    (line,) = lines
    assert "The same at steps 200. → Skip the batch of step 100" in line


def test_a_logged_loss_scale_column_is_read_and_never_taken_for_a_loss(tmp_path):
    from lossdoc.ingest import read_one

    rows = ["step,loss,grad_norm,loss_scale"]
    for i in range(1, N + 1):
        loss = "nan" if i >= SPIKE else f"{2.0 - i / N:.4f}"
        rows.append(f"{i},{loss},1.0,{65536.0 if i < SPIKE - 3 else 1.0}")
    log = tmp_path / "fp16.csv"
    log.write_text("\n".join(rows) + "\n")
    (h,) = read_one(str(log))
    assert [(s.role, s.name) for s in h.series] == [
        ("train", "loss"),
        ("grad_norm", "grad_norm"),
        ("other", "loss_scale"),
    ]
    _, (c,) = _causes(h)
    assert (c["rule"], c["cause"], c["leading_signal"]) == ("non-finite", "loss_scale", "loss_scale")


def test_a_gradient_norm_that_only_follows_the_loss_is_no_lead():
    grad = _noisy(np.full(N, 1.0), seed=1)
    grad[SPIKE] *= 20  # one logged step after the loss spiked
    _, (c,) = _causes(_run(_loss_with_spike(), grad, FLAT_LR))
    assert (c["cause"], c["leading_signal"], c["confidence"]) == ("unknown", None, "low")
    assert "followed the loss" in c["message"]


def test_a_spike_right_after_the_schedule_steps_the_rate_up_is_the_learning_rate():
    lr = np.where(np.arange(1, N + 1) < 195, 1e-4, 1e-3)  # a restart of the schedule at step 195
    grad = _noisy(np.full(N, 1.0), seed=1)
    grad[SPIKE - 1] *= 20
    _, (c,) = _causes(_run(_loss_with_spike(), grad, lr))
    assert (c["cause"], c["leading_signal"], c["lead_steps"]) == ("learning_rate", "learning_rate", 5.0)
    assert "stepped the rate up 10x at step 195" in c["message"] and "gradient norm rose with it" in c["message"]
    assert c["confidence"] == "high"
