"""The Python API: lossdoc.analyze on what a notebook holds, and what a Diagnosis offers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lossdoc

EPOCHS = 40
TRAIN = [2.0 * 0.9**e for e in range(EPOCHS)]
VAL = [1.0 + 0.002 * (e - 12) ** 2 for e in range(EPOCHS)]


def rules(diagnoses: list[lossdoc.Diagnosis]) -> set[str]:
    return {f.rule for d in diagnoses for f in d.findings}


def test_import_lossdoc_is_cheap() -> None:
    code = "import sys, lossdoc; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split())
    assert not {m for m in loaded if m.split(".")[0] in ("numpy", "pandas", "matplotlib", "torch", "keras")}
    assert set(lossdoc.__all__) >= {"analyze", "Monitor", "Diagnosis", "Finding"}


def test_a_keras_history_dict_is_diagnosed() -> None:
    [d] = lossdoc.analyze({"loss": TRAIN, "val_loss": VAL})
    assert "overfitting" in rules([d])
    assert d.verdict == "warning"


def test_a_dataframe_and_a_list_of_hf_log_dicts_give_the_same_finding() -> None:
    df = pd.DataFrame({"epoch": range(EPOCHS), "loss": TRAIN, "val_loss": VAL})
    logs = [{"step": e * 10, "epoch": e, "loss": t} for e, t in enumerate(TRAIN)]
    logs += [{"step": e * 10, "epoch": e, "eval_loss": v} for e, v in enumerate(VAL)]
    logs.append({"step": 390, "train_runtime": 1.0, "train_loss": 0.5})
    [from_df] = lossdoc.analyze(df)
    [from_hf] = lossdoc.analyze(logs)
    assert "overfitting" in rules([from_df]) and "overfitting" in rules([from_hf])
    assert from_hf.history.format == "hf_trainer_state"


def test_numpy_arrays_with_steps() -> None:
    steps = np.arange(0, 400, 10)
    [d] = lossdoc.analyze(train=np.array(TRAIN), val=np.array(VAL), x=steps)
    overfit = next(f for f in d.findings if f.rule == "overfitting")
    assert 100 <= overfit.start <= 130


def test_paths_and_column_names(tmp_path: Path) -> None:
    log = tmp_path / "run.csv"
    log.write_text("epoch,a,b\n" + "".join(f"{e},{t},{v}\n" for e, (t, v) in enumerate(zip(TRAIN, VAL, strict=True))))
    [d] = lossdoc.analyze(str(log), train="a", val="b")
    assert "overfitting" in rules([d])
    assert len(lossdoc.analyze([log, log], train="a")) == 2
    with pytest.raises(lossdoc.LossdocError, match="not found"):
        lossdoc.analyze(tmp_path / "missing.csv")


def test_options_select_rules_and_thresholds() -> None:
    assert rules(lossdoc.analyze({"loss": TRAIN, "val_loss": VAL}, select=["divergence"])) == set()
    assert "overfitting" not in rules(lossdoc.analyze({"loss": TRAIN, "val_loss": VAL}, ignore=["overfitting"]))
    with pytest.raises(lossdoc.LossdocError, match="no parameter"):
        lossdoc.analyze({"loss": TRAIN}, params={"overfitting": {"nope": 1}})


def test_a_diagnosis_is_the_json_contracts_run_object_and_plots_itself(tmp_path: Path) -> None:
    [d] = lossdoc.analyze({"loss": TRAIN, "val_loss": VAL})
    run = json.loads(d.to_json())
    assert run == json.loads(json.dumps(run))
    assert {"source", "format", "name", "x", "series", "summary", "findings", "verdict"} <= set(run)
    assert run["findings"][0]["rule"] == d.findings[0].rule
    assert d.to_dict()["verdict"] == d.verdict
    assert d.plot(tmp_path / "c.png").stat().st_size > 1000
    html = d._repr_html_()
    assert "overfitting" in html and "data:image/png;base64," in html


def test_nothing_to_analyse_is_an_error() -> None:
    with pytest.raises(lossdoc.LossdocError):
        lossdoc.analyze()
    with pytest.raises(lossdoc.LossdocError):
        lossdoc.analyze(42)
