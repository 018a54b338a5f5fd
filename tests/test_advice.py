"""advise(): the best point, the recommendation in the log's framework, LR/grad-norm notes, JSON safety."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from curves import rule_marks

from lossdoc.advice import advise
from lossdoc.advice.best import best_point
from lossdoc.advice.recommend import patience_cap, search
from lossdoc.advice.render import next_run_lines
from lossdoc.analysis import analyze
from lossdoc.analysis.types import Diagnosis, Finding
from lossdoc.history import LossHistory, Series

# A validation curve with a two-check stall (indices 3, 4) before its best (index 10), then a rise.
STALL_THEN_BEST = [1.0, 0.8, 0.7, 0.72, 0.71, 0.6, 0.55, 0.5, 0.48, 0.47, 0.46, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8]


def run(val, fmt="csv", x=None, x_name="epoch", train=None, extra=()):
    x = np.arange(len(val), dtype=float) if x is None else np.asarray(x, dtype=float)
    train_y = np.linspace(1.0, 0.1, x.size) if train is None else np.asarray(train, dtype=float)
    series = [
        Series("loss", "train", x, train_y),
        Series("val_loss" if fmt != "hf_trainer_state" else "eval_loss", "val", x, np.asarray(val, dtype=float)),
    ]
    series.extend(extra)
    return LossHistory(source="r", format=fmt, name="r", x_name=x_name, series=series)


def test_best_point_saving_and_rise():
    # epochs 1..30, lowest 0.31 at epoch 12, last 0.45: 18 of 30 epochs after it = 60%, +45.16%
    val = np.concatenate([np.linspace(1.0, 0.32, 11), [0.31], np.linspace(0.32, 0.45, 18)])
    assert asdict(best_point(run(val, x=np.arange(1, 31)))) == {
        "x": 12.0,
        "value": pytest.approx(0.31),
        "saved_fraction": 0.6,
        "final_value": pytest.approx(0.45),
        "rise_pct": pytest.approx(45.16, abs=0.01),
        "after": 18.0,
    }


def test_advice_quotes_the_best_point_the_analysis_chose():
    # the smoothed minimum decides where the model was best; the point quoted is the lowest evaluation
    # logged in that smoothed minimum's window (the dip to 0.31 at epoch 12), and every part agrees
    val = np.concatenate([np.linspace(1.0, 0.32, 11), [0.31], np.linspace(0.32, 0.45, 18)])
    d = analyze(run(val, x=np.arange(1, 31)))
    a = advise(d)
    f = next(f for f in d.findings if f.rule == "overfitting")
    assert a.best.x == d.summary["best_val_x"] == f.start == f.evidence["best_x"]
    assert a.best.value == d.summary["best_val"] == f.evidence["best_val_logged"]
    assert f"{a.best.saved_fraction:.0%}" in f.message


# A fine-tune's validation loss (a real Keras CSVLogger log's shape): lowest around epochs 0-8, one
# evaluation at epoch 8 far below its neighbours, a spike at epoch 9, then a noisy rise while training
# keeps falling. The running median's minimum sits on the spike (its median of three is epoch 10's value).
SPIKE_AT_THE_SMOOTHED_MINIMUM = [
    0.0136, 0.0130, 0.0137, 0.0146, 0.0144, 0.0250, 0.0163, 0.0147, 0.0089, 0.0484, 0.0118, 0.0200, 0.0206,
    0.0166, 0.0231, 0.0190, 0.0254, 0.0204, 0.0222, 0.0240, 0.0207, 0.0357, 0.0180, 0.0259, 0.0237, 0.0339,
    0.0281, 0.0332, 0.0245, 0.0270, 0.0310, 0.0280,
]  # fmt: skip


def test_the_best_point_is_a_logged_low_never_a_spike_beside_the_smoothed_minimum():
    val = np.array(SPIKE_AT_THE_SMOOTHED_MINIMUM)
    d = analyze(run(val, train=np.geomspace(0.009, 0.0012, val.size)))
    f = next(f for f in d.findings if f.rule == "overfitting")
    a = advise(d)
    assert d.summary["best_val_x"] == f.start == a.best.x == 8  # not the spike at epoch 9 (0.0484)
    assert d.summary["best_val"] == a.best.value == f.evidence["best_val_logged"] == 0.0089
    assert "lowest at epoch 8 (smoothed 0.0118, logged 0.0089)" in f.message
    assert a.best.rise_pct > 0 and "raised it to 0.028 (+215%)" in next_run_lines(a)[0]


def test_the_best_point_is_never_above_the_smoothed_level_it_stands_for():
    # the quoted evaluation is the lowest of those the smoothed minimum is the median of, so it is never
    # worse than that level (the old choice, the evaluation nearest the minimum's x, was a spike at times)
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(8, 400))
        t = np.arange(n, dtype=float)
        val = (1 / (1 + t / n * rng.uniform(2, 20)) + rng.uniform(0, 0.5) * (t / n) ** 2) * np.exp(
            rng.normal(0, rng.uniform(0.005, 0.2), n)
        )
        s = analyze(run(val)).summary
        assert s["best_val"] <= s["best_val_smoothed"] * (1 + 1e-12)
        assert s["best_val"] == val[int(s["best_val_x"])]
    # evaluated every step: the smoothed minimum is one of bucket medians, and the point one of its buckets'
    t = np.arange(9000.0)
    val = (0.5 + ((t - 6000) / 6000) ** 2) * np.exp(rng.normal(0, 0.05, t.size))
    s = analyze(run(val)).summary
    assert s["best_val"] <= s["best_val_smoothed"] and s["best_val"] == val[int(s["best_val_x"])]
    assert abs(s["best_val_x"] - 6000) < 600


def test_a_best_point_beside_the_first_evaluation_is_not_called_the_first():
    # lowest smoothed at the start (a fine-tune overfitting from its first epochs), lowest logged at epoch 1
    val = [0.50, 0.45, 0.52, 0.55, 0.58, 0.60, 0.63, 0.65, 0.68, 0.70, 0.72, 0.75]
    d = analyze(run(val, train=np.geomspace(1.0, 0.2, len(val))))
    f = next(f for f in d.findings if f.rule == "overfitting")
    assert f.evidence["from_first_evaluation"] and f.start == 1
    assert "lowest at epoch 1, among its first evaluations" in f.message
    assert "best at epoch 1, among its first evaluations: keep that checkpoint" in f.advice
    d = analyze(run([0.45, 0.50, *val[2:]], train=np.geomspace(1.0, 0.2, len(val))))
    f = next(f for f in d.findings if f.rule == "overfitting")
    assert f.start == 0 and "lowest at its first evaluation, epoch 0" in f.message


def test_best_at_the_end_saves_nothing_and_no_val_means_no_best():
    a = advise(analyze(run(np.linspace(1.0, 0.2, 20))))
    assert a.best.saved_fraction == 0.0 and a.best.rise_pct == 0.0
    h = LossHistory("r", "csv", "r", "step", [Series("loss", "train", np.arange(50.0), np.linspace(2, 1, 50))])
    a = advise(analyze(h))
    assert a.best is None
    assert a.monitor == "loss" and any("No validation loss" in n for n in a.notes)


@pytest.mark.parametrize("framework", ["keras", "lightning", "huggingface", "pytorch"])
def test_search_skips_the_early_stall_and_stops_soon_after_the_best(framework):
    # Each framework's rule counts indices 3 and 4 as two checks without improvement, so patience
    # 1 stops at 3 and 2 at 4 (before the best at 10); 3 is the smallest safe patience, plus a margin
    # of 1 = 4, which stops 4 checks after the best: index 14. min_delta 0.005 gives the same stop
    # (0.01 is not tried: it exceeds the best check's gain of 0.47 - 0.46), so the tie goes to 0.
    assert search(np.array(STALL_THEN_BEST), framework) == (4, 0.0, 14)


def test_the_recommended_patience_never_stops_before_the_best_point_the_report_quotes():
    # an early evaluation dips below everything after it (noise), while the smoothed loss goes on falling
    # to epoch 40: a patience that is safe for the dip at epoch 6 would stop long before the best point
    rng = np.random.default_rng(3)
    val = np.linspace(1.0, 0.6, 50) * np.exp(rng.normal(0, 0.01, 50))
    val[6] = 0.55
    val[40:] = val[40] + np.linspace(0, 0.05, 10)
    a = advise(analyze(run(val)))
    assert a.best.x >= 35
    cap = patience_cap(val.size, False)
    assert search(val, "generic", cap, best=int(a.best.x)) is None  # no patience up to the cap is safe
    assert a.recommendation is None and any("No early-stopping patience" in n for n in a.notes)
    found = search(val, "generic", cap)  # against the lowest check (the dip) one was, and it stopped early
    assert found is not None and found[2] is not None and found[2] < a.best.x


def test_keras_log_gets_a_keras_callback():
    rec = advise(analyze(run(STALL_THEN_BEST, fmt="keras_csv"))).recommendation
    assert rec.framework == "keras" and rec.patience == 4 and rec.stop_x == 14.0
    assert "from keras.callbacks import EarlyStopping" in rec.snippet
    assert 'EarlyStopping(monitor="val_loss", mode="min", patience=4, min_delta=0.0' in rec.snippet
    assert "restore_best_weights=True" in rec.snippet


def test_lightning_log_gets_a_lightning_callback():
    rec = advise(analyze(run(STALL_THEN_BEST, fmt="lightning_csv", x_name="step"))).recommendation
    assert rec.framework == "lightning"
    assert "from lightning.pytorch.callbacks import EarlyStopping" in rec.snippet
    assert 'EarlyStopping(monitor="val_loss", mode="min", patience=4' in rec.snippet


def test_hf_log_gets_training_arguments_and_the_callback():
    x = np.arange(1, len(STALL_THEN_BEST) + 1) * 500.0
    rec = advise(analyze(run(STALL_THEN_BEST, fmt="hf_trainer_state", x=x, x_name="step"))).recommendation
    assert rec.framework == "huggingface" and rec.stop_x == 7500.0
    s = rec.snippet
    assert "TrainingArguments(" in s and "load_best_model_at_end=True" in s
    assert 'metric_for_best_model="eval_loss"' in s and "greater_is_better=False" in s
    assert 'eval_strategy="steps", eval_steps=500' in s
    assert "EarlyStoppingCallback(early_stopping_patience=4, early_stopping_threshold=0.0)" in s


def test_plain_csv_gets_a_framework_neutral_statement():
    rec = advise(analyze(run(STALL_THEN_BEST))).recommendation
    assert rec.framework == "generic"
    assert rec.snippet.startswith("Stop when val_loss has not improved by more than 0.0 for 4 consecutive epochs")
    assert "import" not in rec.snippet


def test_replay_lists_every_callback_with_the_logs_framework_first():
    a = advise(analyze(run(STALL_THEN_BEST, fmt="lightning_csv")))
    names = [r["callback"] for r in a.replay]
    assert names[0] == "lightning.EarlyStopping"
    assert set(names) == {
        "keras.EarlyStopping",
        "keras.ReduceLROnPlateau",
        "torch.optim.lr_scheduler.ReduceLROnPlateau",
        "lightning.EarlyStopping",
        "transformers.EarlyStoppingCallback",
    }
    by = {r["callback"]: r for r in a.replay}
    # defaults: Keras patience 0 stops at the first non-improvement (3); Lightning patience 3 at 13;
    # HF patience 1 at 3; neither plateau scheduler (patience 10) sees 10 bad checks in a row (only 7).
    assert by["keras.EarlyStopping"]["stop_x"] == 3.0
    assert by["lightning.EarlyStopping"]["stop_x"] == 13.0
    assert by["transformers.EarlyStoppingCallback"]["stop_x"] == 3.0
    assert by["keras.ReduceLROnPlateau"]["lr_cut_x"] == []


def test_advice_is_json_safe_with_nan_in_the_log():
    val = [1.0, 0.8, float("nan"), 0.7, float("inf"), 0.9]
    a = advise(analyze(run(val, fmt="lightning_csv")))
    json.dumps(asdict(a), allow_nan=False)
    lightning = next(r for r in a.replay if r["callback"] == "lightning.EarlyStopping")
    assert lightning["stop_x"] == 2.0 and lightning["reason"] == "not finite"


# --- learning rate and gradient norm


def said_by(advice: dict) -> list[str]:
    """The notes, and each cause's message with its fix: what the report says about the run."""
    return advice.notes + [f"{c['message']} {c['fix']}" for c in advice.causes]


def diag(history: LossHistory, findings: list[Finding]) -> Diagnosis:
    return Diagnosis(history=history, findings=findings, summary={})


def finding(rule: str, start: float, end: float | None = None, **evidence) -> Finding:
    return Finding(rule, "warning", "loss", start, end, "", "", evidence, marks=rule_marks(rule, start, evidence))


def test_divergence_right_after_warmup_ends():
    n = 1000
    x = np.arange(n, dtype=float)
    lr = np.minimum(x / 100.0, 1.0) * 1e-3  # linear warm-up to 1e-3 at step 100
    h = run(np.linspace(1, 0.5, n), x=x, x_name="step", extra=[Series("lr", "lr", x, lr)])
    said = said_by(advise(diag(h, [finding("divergence", 130.0)])))
    assert any("after warm-up ended (step 100" in s and "lengthen warm-up" in s for s in said)
    # a divergence long after the peak is not blamed on warm-up
    said = said_by(advise(diag(h, [finding("divergence", 700.0)])))
    assert not any("warm-up" in s for s in said)


def test_plateau_that_ends_when_the_rate_is_cut():
    n = 400
    x = np.arange(n, dtype=float)
    lr = np.where(x < 300, 0.1, 0.01)
    loss = np.where(x < 300, 0.5, 0.5 * np.exp(-(x - 300) / 30.0)) * (1 + 0.001 * np.sin(x))
    h = LossHistory("r", "csv", "r", "step", [Series("loss", "train", x, loss), Series("lr", "lr", x, lr)])
    notes = advise(diag(h, [])).notes
    assert any("flat before the rate was cut at step 300" in s and "cut sooner" in s for s in notes)
    # the same cut on a loss that was still falling before it is not late
    falling = 0.5 * np.exp(-x / 100.0)
    h = LossHistory("r", "csv", "r", "step", [Series("loss", "train", x, falling), Series("lr", "lr", x, lr)])
    assert not any("cut sooner" in s for s in advise(diag(h, [])).notes)


def test_plateau_with_a_constant_rate_asks_for_a_schedule():
    n = 200
    x = np.arange(n, dtype=float)
    h = run(np.linspace(1, 0.5, n), x=x, x_name="step", extra=[Series("lr", "lr", x, np.full(n, 3e-4))])
    notes = advise(diag(h, [finding("plateau", 80.0, 199.0)])).notes
    assert any("constant at 0.0003 through the plateau from step 80" in s and "schedule" in s for s in notes)
    decaying = Series("lr", "lr", x, np.geomspace(1e-3, 1e-5, n))
    h = run(np.linspace(1, 0.5, n), x=x, x_name="step", extra=[decaying])
    assert not any("constant" in s for s in advise(diag(h, [finding("plateau", 80.0, 199.0)])).notes)
    # a run that never learned is not told to decay its rate while its plateau says to raise it
    h = run(np.linspace(1, 0.5, n), x=x, x_name="step", extra=[Series("lr", "lr", x, np.full(n, 3e-4))])
    never = finding("plateau", 0.0, 199.0, kind="never-learned")
    assert not any("schedule" in s for s in advise(diag(h, [never])).notes)


def test_grad_norm_spike_before_the_loss_spike_suggests_clipping_in_the_frameworks_terms():
    n = 500
    x = np.arange(n, dtype=float)
    g = 1.0 + 0.05 * np.random.default_rng(0).standard_normal(n)
    g[298] = 40.0  # the gradient norm jumps two steps before the loss spike at 300
    grad = Series("grad_norm", "grad_norm", x, g)
    h = run(np.linspace(1, 0.5, n), fmt="hf_trainer_state", x=x, x_name="step", extra=[grad])
    said = said_by(advise(diag(h, [finding("loss-spike", 300.0, spike_x=[300.0])])))
    assert any("spike at step 300" in s and "at step 298, 2 steps before the loss moved" in s for s in said)
    assert any("TrainingArguments(max_grad_norm=" in s for s in said)
    # a gradient spike only after the loss spike is not a cause
    g2 = g.copy()
    g2[298], g2[320] = 1.0, 40.0
    h = run(np.linspace(1, 0.5, n), x=x, x_name="step", extra=[Series("grad_norm", "grad_norm", x, g2)])
    said = said_by(advise(diag(h, [finding("loss-spike", 300.0)])))
    assert not any("Gradient norm" in s or "gradient norm '" in s for s in said)


def test_best_at_the_last_validation_check_saves_nothing_even_if_training_went_on():
    h = LossHistory(
        "r",
        "csv",
        "r",
        "epoch",
        [
            Series("loss", "train", np.arange(5.0), np.ones(5)),
            Series("val_loss", "val", np.array([0.0, 1.0]), np.array([1.0, 0.5])),
        ],
    )
    best = advise(analyze(h)).best
    assert best.x == 1.0 and best.saved_fraction == 0.0 and best.after == 0.0


def test_a_best_point_followed_by_non_finite_checks_is_not_the_end_of_the_run():
    # HF Trainer with logging_nan_inf_filter: eval_loss NaN after step 100, training went on to step 200
    x = np.arange(10.0, 201, 10)
    val = np.where(x <= 100, 3.0 - x / 100, np.nan)
    a = advise(analyze(run(val, x=x, x_name="step", fmt="hf_trainer_state")))
    assert a.best.x == 100 and a.best.saved_fraction == 0.5 and a.best.final_value is None


def test_a_best_point_quoted_at_the_first_evaluation_is_judged_as_one():
    # the running median is lowest at epoch 1 (its window holds epochs 0-3), the point quoted is epoch 0:
    # it is called the first evaluation, and the first evaluation's rule holds (training must have learned)
    val = np.concatenate([[0.4, 0.6, 0.58, 0.45, 0.7], np.linspace(0.65, 1.2, 55)])
    d = analyze(run(val, train=np.geomspace(1.0, 0.05, 60)))
    f = next(f for f in d.findings if f.rule == "overfitting")
    assert f.start == 0 and f.evidence["from_first_evaluation"]
    assert "lowest at its first evaluation, epoch 0" in f.message
    flat = analyze(run(val, train=0.5 + 0.0003 * np.sin(np.arange(60))))
    assert "overfitting" not in {f.rule for f in flat.findings}  # training never learned: not overfitting
