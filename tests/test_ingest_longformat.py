"""Long-format metric exports (one row per metric, step, value): pivoted to series, one run per run id."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lossdoc.ingest import read_one

MLFLOW = Path(__file__).parent / "fixtures" / "mlflow_store"


def test_mlflow_metric_history_export_one_run_per_run_id():
    runs = read_one(str(MLFLOW / "metrics_long.csv"))
    assert [(r.name, r.format, r.x_name) for r in runs] == [
        ("metrics_long [healthy]", "mlflow_long_csv", "step"),
        ("metrics_long [overfit]", "mlflow_long_csv", "step"),
        ("metrics_long [diverged]", "mlflow_long_csv", "step"),
    ]
    # MLflow hands +Inf back as the largest float: read as +Inf again
    np.testing.assert_array_equal(runs[2].train.y[-3:], [1.1, np.nan, np.inf])
    for run in runs[:2]:
        assert [(s.name, s.role) for s in run.series] == [("train_loss", "train"), ("val_loss", "val"), ("lr", "lr")]
        assert run.notes == []
        np.testing.assert_array_equal(run.train.x, np.arange(30))
        np.testing.assert_allclose(run.train.y, 2.0 * np.exp(-np.arange(30) / 8) + 0.1)
        np.testing.assert_array_equal(run.val.x, [4, 9, 14, 19, 24, 29])
    overfit = runs[1].val.y - (2.0 * np.exp(-np.array([4, 9, 14, 19, 24, 29]) / 8) + 0.1 + 0.05)
    np.testing.assert_allclose(overfit, [0, 0, 0.08, 0.28, 0.48, 0.68], atol=1e-12)


def test_tensorboard_tag_step_value_dump_with_runs(tmp_path):
    f = tmp_path / "tb_scalars.csv"
    f.write_text(
        "run,tag,step,value\n"
        "a,loss,1,0.9\na,loss,2,0.7\na,val_loss,2,0.8\na,accuracy,2,0.5\n"
        "b,loss,1,1.9\nb,loss,2,nan\n"
    )
    runs = read_one(str(f))
    assert [(r.name, r.format) for r in runs] == [("tb_scalars [a]", "tb_long_csv"), ("tb_scalars [b]", "tb_long_csv")]
    a, b = runs
    assert (a.train.x.tolist(), a.train.y.tolist()) == ([1, 2], [0.9, 0.7])
    assert (a.val.x.tolist(), a.val.y.tolist()) == ([2], [0.8])
    np.testing.assert_array_equal(b.train.y, [1.9, np.nan])


def test_one_run_without_run_columns_and_a_resume(tmp_path):
    f = tmp_path / "loss_export.csv"
    f.write_text("tag,step,value\nloss,1,0.9\nloss,2,0.8\nloss,3,0.7\nloss,2,0.75\nloss,3,0.65\n")
    (run,) = read_one(str(f))
    assert (run.name, run.format) == ("loss_export", "tb_long_csv")
    assert (run.train.x.tolist(), run.train.y.tolist()) == ([1, 2, 3], [0.9, 0.75, 0.65])
    assert run.notes == [
        "x 'step' repeats or goes backwards (2 point(s), e.g. a resumed run): kept the last write of each x"
    ]
