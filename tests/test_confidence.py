"""Every finding says how sure it is; too-short runs are never healthy; --fail-on gates on confidence.

Fine-tune-shaped runs come from real framework loggers (tests/fixtures/finetune, written by
make_finetune.py beside them from small CPU runs): HF Trainer, Keras 3 and Lightning.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from curves import decay, history, u_shape
from typer.testing import CliRunner

from lossdoc.analysis import analyze
from lossdoc.analysis.types import CONFIDENCES
from lossdoc.cli import app

runner = CliRunner()
FINETUNE = Path(__file__).parent / "fixtures" / "finetune"


def analyse_json(*args: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["analyze", "--format", "json", *args])
    return res.exit_code, json.loads(res.stdout)


def findings(run: dict) -> dict[str, dict]:
    return {f["rule"]: f for f in run["findings"]}


@pytest.mark.parametrize(
    "fixture, best_first",
    [
        ("hf_overfit_first_eval", True),  # HF Trainer: eval_loss lowest at the first of 5 evaluations
        ("keras_overfit_first_epoch", True),  # Keras CSVLogger: val_loss lowest at epoch 0
        ("hf_overfit_few_evals", False),  # HF Trainer: 6 evaluations, lowest at the third
        ("lightning_val_drift_noisy", False),  # Lightning: noisy val drifting ~10% up over most of the run
    ],
)
def test_real_fine_tunes_that_overfit_are_found(fixture, best_first):
    code, doc = analyse_json(str(FINETUNE / fixture), "--fail-on", "overfitting")
    (run,) = doc["runs"]
    f = findings(run)["overfitting"]
    assert f["evidence"]["from_first_evaluation"] is best_first
    assert f["start"] == run["summary"]["best_val_x"] == run["advice"]["best"]["x"]
    assert f["confidence"] in ("medium", "high") and run["fails"] is True and code == 1
    assert "still-improving" not in findings(run)  # an overfitting run is never still improving
    if best_first:
        assert "first evaluation" in f["message"] and "keep that checkpoint" in f["advice"]


def test_a_real_fine_tune_whose_evaluations_keep_falling_is_not_overfitting():
    code, doc = analyse_json(str(FINETUNE / "hf_healthy_few_evals"), "--fail-on", "overfitting")
    (run,) = doc["runs"]
    assert "overfitting" not in findings(run) and run["fails"] is False and code == 0


def test_every_finding_carries_a_confidence():
    for d in (
        analyze(history(decay(100, rate=4), u_shape(100, best=30, rise=0.5))),
        analyze(history(decay(6))),
    ):
        assert all(f.confidence in CONFIDENCES for f in d.findings)
        assert all(f.as_dict()["confidence"] == f.confidence for f in d.findings)


def test_few_evaluations_lower_the_confidence():
    many = analyze(history(decay(100, rate=4), u_shape(100, best=30, rise=0.5)))
    xv = np.array([100.0, 200, 300, 400, 500])
    yv = np.array([0.5, 0.54, 0.57, 0.6, 0.66])
    few = analyze(history((np.arange(10.0, 501, 10), np.linspace(1, 0.2, 50)), (xv, yv)))
    assert [f.confidence for f in many.findings if f.rule == "overfitting"] == ["high"]
    assert [f.confidence for f in few.findings if f.rule == "overfitting"] == ["medium"]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_a_run_too_short_to_judge_says_so_and_is_never_healthy(tmp_path, n):
    f = tmp_path / "short.csv"
    f.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{1 - 0.1 * i},{1.1 - 0.1 * i}\n" for i in range(n)))
    _, doc = analyse_json(str(f))
    (run,) = doc["runs"]
    assert run["verdict"] == "too-short" and run["summary"]["too_short"] is True and run["fails"] is False
    assert run["advice"]["replay"] == [] and run["advice"]["recommendation"] is None
    res = runner.invoke(app, ["analyze", str(f)], env={"COLUMNS": "120"})
    assert f"too short to judge: {n} point" in res.stdout and "no problems found" not in res.stdout
    md = runner.invoke(app, ["analyze", str(f), "--format", "markdown"]).stdout
    assert "Too short to judge" in md and "No problems found" not in md


def test_json_verdict_and_fails_follow_the_findings_and_the_policy(tmp_path):
    x, tr = decay(60, rate=4)
    _, va = u_shape(60, best=20, rise=0.6)
    f = tmp_path / "o.csv"
    f.write_text("epoch,loss,val_loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(x, tr, va, strict=True)))
    code, doc = analyse_json(str(f))  # default --fail-on error: a warning does not fail
    assert doc["runs"][0]["verdict"] == "warning" and doc["runs"][0]["fails"] is False and code == 0
    code, doc = analyse_json(str(f), "--fail-on", "overfitting")
    assert doc["runs"][0]["fails"] is True and code == 1


def test_min_confidence_decides_which_findings_fail(tmp_path):
    # 5 evaluations: an overfitting finding of medium confidence
    rows = [(100 * i, 1.0 - 0.15 * i, v) for i, v in enumerate([0.5, 0.54, 0.57, 0.6, 0.66], start=1)]
    f = tmp_path / "ft.csv"
    f.write_text("step,loss,eval_loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    code, doc = analyse_json(str(f), "--fail-on", "overfitting")
    assert findings(doc["runs"][0])["overfitting"]["confidence"] == "medium" and code == 1
    code, _ = analyse_json(str(f), "--fail-on", "overfitting", "--min-confidence", "high")
    assert code == 0
    bad = runner.invoke(app, ["analyze", str(f), "--min-confidence", "sure"])
    assert bad.exit_code == 2 and "--min-confidence" in bad.stderr


def test_min_confidence_in_the_config_file(tmp_path):
    rows = [(100 * i, 1.0 - 0.15 * i, v) for i, v in enumerate([0.5, 0.54, 0.57, 0.6, 0.66], start=1)]
    f = tmp_path / "ft.csv"
    f.write_text("step,loss,eval_loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    cfg = tmp_path / "lossdoc.toml"
    cfg.write_text('fail-on = "overfitting"\nmin-confidence = "high"\n')
    res = runner.invoke(app, ["analyze", str(f), "--config", str(cfg)])
    assert res.exit_code == 0
    cfg.write_text('min-confidence = "certain"\n')
    res = runner.invoke(app, ["analyze", str(f), "--config", str(cfg)])
    assert res.exit_code == 2
