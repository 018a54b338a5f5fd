"""Real runs broken in one known way (tests/fixtures/causes, written by the HF Trainer and Lightning on
CPU): lossdoc names the cause each run was given."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lossdoc.advice import advise
from lossdoc.analysis import analyze
from lossdoc.ingest import read_one

HERE = Path(__file__).parent / "fixtures" / "causes"
EXPECTED = json.loads((HERE / "expected.json").read_text())


def _advice(name: str) -> tuple[list, dict]:
    (history,) = read_one(str(HERE / name / EXPECTED[name]["log"]))
    diagnosis = analyze(history)
    advice = advise(diagnosis)  # gives the findings their causes
    return diagnosis.findings, advice


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_cause_each_run_was_given_is_named(name):
    want = EXPECTED[name]
    findings, advice = _advice(name)
    event = next(c for c in advice.causes if c["rule"] == want["rule"])
    assert (event["x"], event["cause"]) == (want["x"], want["cause"])
    finding = next(f for f in findings if f.rule == want["rule"])
    assert finding.evidence["cause"] == want["cause"]


def test_the_scaled_batch_is_led_by_the_gradient_norm_in_the_same_step():
    _, advice = _advice("hf_grad_spike")
    (c,) = advice.causes
    assert (c["leading_signal"], c["lead_steps"], c["confidence"]) == ("grad_norm", 0.0, "medium")
    assert c["signals"]["grad_norm"]["ratio"] > 100


def test_the_warm_up_divergence_names_the_peak_and_the_cut():
    _, advice = _advice("hf_warmup_divergence")
    c = advice.causes[0]
    assert c["leading_signal"] == "learning_rate" and c["confidence"] == "high"
    assert "after warm-up ended (step 61, rate 0.4)" in c["message"]


def test_the_mislabelled_example_leaves_the_gradient_norm_flat():
    for name in ("hf_bad_batch", "lightning_bad_batch"):
        _, advice = _advice(name)
        (c,) = advice.causes
        assert c["signals"]["grad_norm"]["ratio"] < 2
        assert c["batch_steps"] == [c["x"], c["x"]]
