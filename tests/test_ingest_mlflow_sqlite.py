"""MLflow's SQLite tracking store, read with sqlite3 alone (fixture written by mlflow: tests/fixtures/mlflow_store)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.errors import LossdocError
from lossdoc.ingest import NotALog, read_one

DB = Path(__file__).parent / "fixtures" / "mlflow_store" / "mlflow.db"
TRAIN = 2.0 * np.exp(-np.arange(30) / 8) + 0.1


def test_every_active_run_is_a_run_named_experiment_slash_run_name_with_its_params():
    runs = read_one(str(DB))
    assert [(r.name, r.format, r.x_name) for r in runs] == [
        ("digits/healthy", "mlflow_sqlite", "step"),
        ("digits/overfit", "mlflow_sqlite", "step"),
        ("blowup/diverged", "mlflow_sqlite", "step"),
    ]
    healthy, overfit, diverged = runs
    assert healthy.params == {"batch_size": "32", "lr": "0.01", "overfit": "False"}
    assert diverged.params == {"lr": "1.0"}
    for run in (healthy, overfit):
        assert [(s.name, s.role) for s in run.series] == [("train_loss", "train"), ("val_loss", "val"), ("lr", "lr")]
        np.testing.assert_array_equal(run.train.x, np.arange(30))
        np.testing.assert_allclose(run.train.y, TRAIN)
        np.testing.assert_array_equal(run.val.x, [4, 9, 14, 19, 24, 29])
        assert run.notes == []
    # MLflow stores NaN as 0 with is_nan set and +Inf as the largest float
    np.testing.assert_array_equal(diverged.train.y[-3:], [1.1, np.nan, np.inf])


def test_a_sqlite_uri_names_the_same_store(tmp_path):
    copy = tmp_path / "store.db"
    shutil.copy(DB, copy)
    assert [r.name for r in read_one(f"sqlite:///{copy}")] == ["digits/healthy", "digits/overfit", "blowup/diverged"]


def test_the_store_is_opened_read_only(tmp_path):
    copy = tmp_path / "mlflow.db"
    shutil.copy(DB, copy)
    copy.chmod(0o444)
    before = copy.read_bytes()
    read_one(str(copy))
    assert copy.read_bytes() == before
    assert not (tmp_path / "mlflow.db-journal").exists()


def test_json_carries_the_params():
    result = CliRunner().invoke(app, ["analyze", str(DB), "--format", "json", "--fail-on", "never"])
    doc = json.loads(result.stdout)
    assert doc["schema_version"] == 1
    assert [(r["name"], r.get("params")) for r in doc["runs"]] == [
        ("digits/healthy", {"batch_size": "32", "lr": "0.01", "overfit": "False"}),
        ("digits/overfit", {"batch_size": "32", "lr": "0.01", "overfit": "True"}),
        ("blowup/diverged", {"lr": "1.0"}),
    ]


def test_experiment_picks_one_experiment_and_a_wrong_name_lists_them():
    assert [r.name for r in read_one(str(DB), {"experiment": "blowup"})] == ["blowup/diverged"]
    with pytest.raises(LossdocError, match="no experiment named 'nope'; experiments are: Default, digits, blowup"):
        read_one(str(DB), {"experiment": "nope"})
    result = CliRunner().invoke(app, ["analyze", str(DB), "--experiment", "digits", "--format", "json"])
    assert [r["name"] for r in json.loads(result.stdout)["runs"]] == ["digits/healthy", "digits/overfit"]


def test_a_sqlite_file_that_is_not_an_mlflow_store(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    with pytest.raises(LossdocError, match="not an MLflow tracking store"):
        read_one(str(other))


def test_a_store_with_no_loss_metric_says_so(tmp_path):
    copy = tmp_path / "mlflow.db"
    shutil.copy(DB, copy)
    with sqlite3.connect(copy) as con:
        con.execute("DELETE FROM metrics WHERE key != 'lr'")
    con.close()
    with pytest.raises(NotALog, match="no MLflow run in this database logged a loss"):
        read_one(str(copy))
