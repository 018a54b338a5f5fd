"""Sweeps: hyperparameters read from where frameworks leave them, and the summary of many runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.compare.params import from_name, run_params

runner = CliRunner()


def log(folder: Path, diverge: bool, floor: float = 0.2, still: bool = False, n: int = 40) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    x = np.arange(n)
    rate = 0.5 if still else 12.0
    y = floor + 2.0 * np.exp(-rate * x / n)
    if diverge:
        y = np.where(x > n // 2, y * np.exp((x - n // 2) * 0.4), y)
    rows = "".join(f"{i},{t:.6g},{t * 1.1:.6g}\n" for i, t in zip(x, y, strict=True))
    (folder / "log.csv").write_text("epoch,loss,val_loss\n" + rows)


def test_params_from_folder_names_and_framework_files(tmp_path: Path) -> None:
    assert from_name("lr=3e-4_bs=64") == {"lr": 3e-4, "batch_size": 64.0}
    assert from_name("run_optimizer=adam") == {"optimizer": "adam"}
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "training_args.json").write_text(json.dumps({"learning_rate": 5e-5, "per_device_train_batch_size": 8}))
    (hf / "trainer_state.json").write_text(json.dumps({"train_batch_size": 16, "log_history": []}))
    assert run_params(str(hf / "trainer_state.json")) == {"lr": 5e-5, "batch_size": 8.0}
    pl = tmp_path / "lightning" / "version_0"
    pl.mkdir(parents=True)
    (pl / "hparams.yaml").write_text("lr: 0.01\nhidden: 64\nname: mlp # a comment\n")
    assert run_params(str(pl / "metrics.csv")) == {"lr": 0.01, "hidden": 64.0, "name": "mlp"}
    wandb = tmp_path / "wb"
    wandb.mkdir()
    (wandb / "config.yaml").write_text("wandb_version: 1\nlearning_rate:\n  desc: null\n  value: 0.002\n")
    assert run_params(str(wandb / "history.csv"))["lr"] == 0.002
    ml = tmp_path / "mlrun"
    (ml / "params").mkdir(parents=True)
    (ml / "meta.yaml").write_text("run_id: x\n")
    (ml / "params" / "lr").write_text("0.1")
    assert run_params(str(ml))["lr"] == 0.1


def sweep(tmp_path: Path) -> Path:
    root = tmp_path / "sweep"
    for lr in (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03):
        for bs in (32, 64):
            floor = 0.2 + 0.1 * (bs == 64) + lr
            log(root / f"lr={lr:g}_bs={bs}", diverge=lr >= 0.003, floor=floor, still=lr == 0.0001)
    return root


def test_the_summary_names_the_hyperparameter_behind_the_divergences(tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyze", str(sweep(tmp_path)), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)["sweep"]
    assert s["group_by"] == ["batch_size", "lr"] and s["runs"] == 12
    assert s["behind"]["divergence"]["param"] == "lr"
    assert s["behind"]["divergence"]["text"] == "divergence in 6 of 6 runs with lr ≥ 0.003, in 0 of 6 below"
    assert s["best_run"]["params"] == {"batch_size": 32.0, "lr": 0.0003}
    assert s["leaderboard"][0]["run"] == s["best_run"]["run"]
    assert set(s["still_improving"]) == {"lr=0.0001_bs=32", "lr=0.0001_bs=64"}


def test_group_by_picks_the_keys_and_none_turns_it_off(tmp_path: Path) -> None:
    root = sweep(tmp_path)
    doc = json.loads(runner.invoke(app, ["analyze", str(root), "-f", "json", "--group-by", "batch_size"]).stdout)
    assert doc["sweep"]["group_by"] == ["batch_size"]
    doc = json.loads(runner.invoke(app, ["analyze", str(root), "-f", "json", "--group-by", "none"]).stdout)
    assert "sweep" not in doc


def test_every_view_of_the_sweep(tmp_path: Path) -> None:
    root = sweep(tmp_path)
    md = runner.invoke(app, ["analyze", str(root), "-f", "markdown"]).stdout
    assert "### Sweep: 12 runs by `batch_size`, `lr`" in md
    assert "- divergence: divergence in 6 of 6 runs with lr ≥ 0.003, in 0 of 6 below" in md
    table = runner.invoke(app, ["analyze", str(root), "-q"], env={"COLUMNS": "200"}).stdout
    assert "sweep: 12 runs by batch_size, lr" in table and "divergence in 6 of 6 runs with lr ≥ 0.003" in table
    plots = tmp_path / "plots"
    plots.mkdir()
    runner.invoke(app, ["analyze", str(root), "-q", "--plot", str(plots), "--jobs", "1"])
    assert (plots / "sweep.png").stat().st_size > 1000


def test_runs_without_params_are_no_sweep(tmp_path: Path) -> None:
    log(tmp_path / "a", diverge=False)
    log(tmp_path / "b", diverge=True)
    assert "sweep" not in json.loads(runner.invoke(app, ["analyze", str(tmp_path), "-f", "json"]).stdout)


def test_a_keras_sweep_names_the_learning_rate_behind_the_blow_ups() -> None:
    """tests/fixtures/sweep: Keras CSVLogger runs of one model over learning rates and batch sizes
    (make_sweep.py beside them); the high rates blow up to NaN."""
    root = Path(__file__).parent / "fixtures" / "sweep"
    res = runner.invoke(app, ["analyze", str(root), "--format", "json", "--jobs", "1"])
    assert res.exit_code == 1
    s = json.loads(res.stdout)["sweep"]
    assert s["group_by"] == ["batch_size", "lr"] and s["runs"] == 14
    assert s["behind"]["non-finite"] == {
        "param": "lr",
        "text": "non-finite in 7 of 8 runs with lr ≥ 0.3, in 0 of 6 below",
    }
    assert s["best_run"]["params"]["lr"] < 0.3


def test_findings_are_counted_per_hyperparameter_value(tmp_path: Path) -> None:
    doc = json.loads(runner.invoke(app, ["analyze", str(sweep(tmp_path)), "-f", "json"]).stdout)
    lr = {e["value"]: e for e in doc["sweep"]["by_value"]["lr"]}
    assert sorted(lr) == [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03]
    assert lr[0.01]["runs"] == 2 and lr[0.01]["findings"]["divergence"] == 2
    assert "divergence" not in lr[0.001]["findings"]
    md = runner.invoke(app, ["analyze", str(sweep(tmp_path / "again")), "-f", "markdown"]).stdout
    assert "| `lr` | runs | best loss | findings (runs) |" in md and "divergence 2/2" in md
