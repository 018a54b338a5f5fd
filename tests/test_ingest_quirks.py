"""Format quirks, each in a small file written here: what the reader must make of it.

Real framework-written files are covered in test_formats_real.py; these are the corner cases the
frameworks produce only sometimes (appends, restarts, resumed runs, odd separators, folders).
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from lossdoc.errors import LossdocError
from lossdoc.ingest import load_paths, read_one
from lossdoc.ingest.roles import plan_roles


def one(path: Path | str, **overrides: str):
    runs = read_one(str(path), overrides)
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def series(run, role):
    s = run.get(role)
    assert s is not None, f"no {role} series in {run.series}"
    return s


# --- Keras ------------------------------------------------------------------------------------------


def test_keras_csv_with_val_columns_appended_later_and_na_cells(tmp_path):
    f = tmp_path / "training.log"
    f.write_text("epoch,loss,val_loss\n0,1.0,NA\n1,0.8,0.9\n2,0.7,NA\n3,0.6,0.8\n")
    run = one(f)
    assert run.format == "keras_csv"
    assert series(run, "train").y.tolist() == [1.0, 0.8, 0.7, 0.6]
    assert series(run, "val").x.tolist() == [1.0, 3.0]  # NA is absent, not a NaN finding


def test_keras_csv_with_semicolon_separator(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("epoch;accuracy;loss;val_accuracy;val_loss\n0;0.5;1.2;0.4;1.3\n1;0.6;1.0;0.5;1.1\n")
    run = one(f)
    assert (series(run, "train").name, series(run, "val").name) == ("loss", "val_loss")


def test_pandas_dumped_history_uses_the_unnamed_index_as_x(tmp_path):
    f = tmp_path / "history.csv"
    f.write_text(",loss,val_loss,accuracy\n0,1.0,1.1,0.2\n1,0.9,1.0,0.3\n2,0.8,0.95,0.4\n")
    run = one(f)
    assert run.x_name == "index"
    assert series(run, "train").x.tolist() == [0.0, 1.0, 2.0]


def test_keras_history_json_has_no_epoch_key(tmp_path):
    f = tmp_path / "history.json"
    f.write_text(json.dumps({"loss": [1.0, 0.5, 0.25], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.1, 0.5, 0.8]}))
    run = one(f)
    assert run.format == "json_history" and run.x_name == "epoch"
    assert series(run, "val").x.tolist() == [0.0, 1.0, 2.0]


# --- Lightning --------------------------------------------------------------------------------------

LIGHTNING_FORKS = "epoch,step,train_loss_epoch,train_loss_step,val_loss\n"


def lightning_rows(epochs: int, steps_per_epoch: int) -> str:
    rows, step = [], 0
    for e in range(epochs):
        for _ in range(steps_per_epoch):
            rows.append(f"{e},{step},,{1.0 / (step + 1)},")
            step += 1
        rows.append(f"{e},{step - 1},,,{1.1 / (e + 1)}")
        rows.append(f"{e},{step - 1},{1.0 / (e + 1)},,")
    return "\n".join(rows) + "\n"


def test_lightning_step_fork_is_used_when_it_has_many_points_per_epoch(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text(LIGHTNING_FORKS + lightning_rows(epochs=5, steps_per_epoch=8))
    run = one(f)
    assert run.format == "lightning_csv"
    assert (series(run, "train").name, run.x_name) == ("train_loss_step", "step")
    assert len(series(run, "train")) == 40 and len(series(run, "val")) == 5


def test_lightning_epoch_fork_is_used_when_steps_add_little(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text(LIGHTNING_FORKS + lightning_rows(epochs=10, steps_per_epoch=2))
    run = one(f)
    assert (series(run, "train").name, run.x_name) == ("train_loss_epoch", "epoch")
    assert series(run, "val").x.tolist() == list(range(10))


def test_lightning_column_order_does_not_matter(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text("val_loss,step,lr-Adam,train_loss,epoch\n,0,0.1,1.0,0\n,1,0.1,0.9,0\n0.95,1,,,0\n")
    run = one(f)
    assert (series(run, "train").name, series(run, "val").name, series(run, "lr").name) == (
        "train_loss",
        "val_loss",
        "lr-Adam",
    )


def test_lightning_logs_tree_is_one_run_per_version(tmp_path):
    for v in (0, 1):
        d = tmp_path / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text("epoch,step,train_loss\n0,0,1.0\n0,1,0.5\n")
        (d / "hparams.yaml").write_text("lr: 0.1\n")
    runs, errors = load_paths([str(tmp_path / "lightning_logs")])
    assert errors == []
    assert sorted(r.name for r in runs) == ["version_0", "version_1"]


# --- HuggingFace ------------------------------------------------------------------------------------


def trainer_state(steps: int) -> dict:
    log = [{"epoch": s / 10, "loss": 2.0 / s, "learning_rate": 1e-4, "step": s} for s in range(1, steps + 1)]
    log += [{"epoch": steps / 10, "eval_loss": 1.5, "eval_runtime": 1.0, "step": steps}]
    log += [{"epoch": steps / 10, "step": steps, "total_flos": 1.0, "train_loss": 99.0, "train_runtime": 3.0}]
    return {"global_step": steps, "log_history": log, "best_metric": None}


def test_hf_summary_entry_never_enters_the_curve(tmp_path):
    f = tmp_path / "trainer_state.json"
    f.write_text(json.dumps(trainer_state(5)))
    run = one(f)
    assert run.format == "hf_trainer_state"
    assert (series(run, "train").name, series(run, "val").name) == ("loss", "eval_loss")
    assert 99.0 not in series(run, "train").y
    assert len(series(run, "train")) == 5


def test_hf_output_folder_reads_only_the_latest_checkpoint(tmp_path):
    out = tmp_path / "out"
    for n in (2, 10, 4):
        d = out / f"checkpoint-{n}"
        d.mkdir(parents=True)
        (d / "trainer_state.json").write_text(json.dumps(trainer_state(n)))
        (d / "config.json").write_text("{}")
    runs, errors = load_paths([str(out)])
    assert errors == []
    assert len(runs) == 1 and len(series(runs[0], "train")) == 10
    assert runs[0].name == "out"


def test_hf_output_folder_with_its_own_state_ignores_checkpoints(tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint-3").mkdir(parents=True)
    (out / "checkpoint-3" / "trainer_state.json").write_text(json.dumps(trainer_state(3)))
    (out / "trainer_state.json").write_text(json.dumps(trainer_state(6)))
    (out / "all_results.json").write_text(json.dumps({"train_loss": 0.4, "epoch": 1.0}))
    runs, errors = load_paths([str(out)])
    assert errors == []
    assert [len(series(r, "train")) for r in runs] == [6]


# --- Ultralytics --------------------------------------------------------------------------------------


def test_old_ultralytics_space_padded_headers_give_one_run_per_loss_pair(tmp_path):
    names = ["epoch", "train/box_loss", "train/cls_loss", "metrics/mAP50(B)", "val/box_loss", "val/cls_loss", "lr/pg0"]
    header = ",".join(f"{n:>23s}" for n in names)
    rows = [",".join(f"{v:>23.5g}" for v in (e, 1 / e, 2 / e, e / 10, 1.1 / e, 2.2 / e, 0.01)) for e in range(1, 6)]
    f = tmp_path / "results.csv"
    f.write_text(header + "\n" + "\n".join(rows) + "\n")
    runs = read_one(str(f))
    assert [(r.format, r.train.name, r.val.name) for r in runs] == [
        ("yolo_csv", "train/box_loss", "val/box_loss"),
        ("yolo_csv", "train/cls_loss", "val/cls_loss"),
    ]
    assert all(r.x_name == "epoch" for r in runs)


def test_yolo_pose_and_v5_objectness_losses_are_pairs_too():
    names = ["epoch", "train/box_loss", "train/pose_loss", "train/kobj_loss", "train/obj_loss", "metrics/mAP50(P)"]
    names += ["val/box_loss", "val/pose_loss", "val/kobj_loss", "val/obj_loss", "x/lr0"]
    plans = plan_roles(names)
    assert [(p.train, p.val) for p in plans] == [
        ("train/box_loss", "val/box_loss"),
        ("train/kobj_loss", "val/kobj_loss"),
        ("train/obj_loss", "val/obj_loss"),
        ("train/pose_loss", "val/pose_loss"),
    ]


# --- fastai, TensorBoard CSV, W&B -----------------------------------------------------------------


def test_fastai_repeated_header_rows_are_skipped_with_a_note(tmp_path):
    f = tmp_path / "history.csv"
    header = "epoch,train_loss,valid_loss,accuracy,time\n"
    f.write_text(header + "0,1.0,1.1,0.5,00:02\n1,0.8,0.9,0.6,00:02\n" + header + "0,0.7,0.85,0.7,00:02\n")
    run = one(f)
    assert run.format == "fastai_csv"
    assert series(run, "train").y.tolist() == [0.7, 0.8]  # epoch 0 written twice: the later write wins
    assert any("repeated headers" in n for n in run.notes)
    assert any("repeats or goes backwards" in n for n in run.notes)


def test_tensorboard_download_csv_names_the_run_from_the_file_name(tmp_path):
    f = tmp_path / "run-version_0-tag-train_loss.csv"
    f.write_text("Wall time,Step,Value\n1700000000.5,0,1.0\n1700000001.5,10,0.8\n1700000002.5,20,0.7\n")
    run = one(f)
    assert (run.format, run.x_name, series(run, "train").name) == ("tb_csv", "Step", "Value")
    assert run.name == "version_0 train_loss"


def test_wandb_panel_export_is_one_run_per_wandb_run(tmp_path):
    f = tmp_path / "panel.csv"
    cols = ["Step", "a - train/loss", "a - train/loss__MIN", "a - train/loss__MAX", "a - val/loss"]
    cols += ["b - train/loss", "b - train/loss__MIN", "b - train/loss__MAX", "b - val/loss"]
    rows = [",".join(str(v) for v in [s, *(1 / (s + 1),) * 8]) for s in range(5)]
    f.write_text(",".join(f'"{c}"' for c in cols) + "\n" + "\n".join(rows) + "\n")
    runs = read_one(str(f))
    assert [(r.format, r.train.name, r.val.name, r.x_name) for r in runs] == [
        ("wandb_csv", "a - train/loss", "a - val/loss", "Step"),
        ("wandb_csv", "b - train/loss", "b - val/loss", "Step"),
    ]


# --- JSON Lines writers that append across restarts -------------------------------------------------


def test_detectron2_restart_repeats_iterations_and_the_later_write_wins(tmp_path):
    lines = [
        {"iteration": i, "total_loss": 1.0 / (i + 1), "loss_cls": 0.5, "lr": 0.01, "eta_seconds": 9} for i in range(5)
    ]
    lines += [{"iteration": 4, "bbox/AP": 30.0}]
    lines += [{"iteration": i, "total_loss": 5.0, "loss_cls": 0.5, "lr": 0.01, "eta_seconds": 9} for i in range(3, 7)]
    f = tmp_path / "metrics.json"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = one(f)
    assert (run.format, run.x_name, series(run, "train").name) == ("detectron2_json", "iteration", "total_loss")
    train = series(run, "train")
    assert train.x.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert train.y[3] == 5.0  # written again after the restart
    assert any("repeats or goes backwards" in n for n in run.notes)


def test_mmengine_scalars_json_reads_train_lines_among_metric_lines(tmp_path):
    lines = [
        {"lr": 0.01, "data_time": 0.1, "loss": 2.0 / i, "time": 0.3, "epoch": 1, "iter": i, "memory": 9, "step": i}
        for i in range(1, 6)
    ]
    lines.insert(3, {"accuracy/top1": 55.0, "data_time": 0.1, "time": 0.2, "step": 1})
    f = tmp_path / "scalars.json"
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = one(f)
    assert run.format == "mmengine_json"
    assert series(run, "train").x.tolist() == [1, 2, 3, 4, 5]


# --- gradient boosting ------------------------------------------------------------------------------


def test_xgboost_sklearn_positional_eval_sets_first_is_training(tmp_path):
    f = tmp_path / "evals_result.json"
    f.write_text(
        json.dumps(
            {
                "validation_0": {"logloss": [0.6, 0.5], "auc": [0.7, 0.8]},
                "validation_1": {"logloss": [0.65, 0.6], "auc": [0.6, 0.7]},
            }
        )
    )
    run = one(f)
    assert (series(run, "train").name, series(run, "val").name) == ("validation_0.logloss", "validation_1.logloss")


def test_lightgbm_training_and_valid_sets_and_auc_is_never_a_loss(tmp_path):
    f = tmp_path / "evals_result.json"
    f.write_text(
        json.dumps(
            {
                "training": {"auc": [0.7, 0.8], "binary_logloss": [0.6, 0.5]},
                "valid_1": {"auc": [0.6, 0.7], "binary_logloss": [0.65, 0.6]},
            }
        )
    )
    run = one(f)
    assert (series(run, "train").name, series(run, "val").name) == ("training.binary_logloss", "valid_1.binary_logloss")


def test_higher_is_better_metrics_only_is_an_error_listing_columns_and_naming_train(tmp_path):
    f = tmp_path / "acc.csv"
    f.write_text("epoch,accuracy,val_auc,mAP50\n0,0.5,0.6,0.1\n1,0.6,0.7,0.2\n")
    with pytest.raises(LossdocError) as info:
        read_one(str(f))
    assert "no column looks like a loss" in info.value.message
    assert "epoch, accuracy, val_auc, mAP50" in info.value.message and "--train" in info.value.message


# --- MLflow -----------------------------------------------------------------------------------------


def mlflow_run(root: Path) -> Path:
    run = root / "mlruns" / "1" / "abc123"
    (run / "metrics" / "train").mkdir(parents=True)
    (run / "tags").mkdir()
    (run / "meta.yaml").write_text("run_id: abc123\n")
    (run / "tags" / "mlflow.runName").write_text("bold-fox")
    (run / "metrics" / "train" / "loss").write_text("".join(f"17000000{i:05d} {1.0 / (i + 1)} {i}\n" for i in range(6)))
    (run / "metrics" / "val_loss").write_text("".join(f"17000000{i:05d} {1.2 / (i + 1)} {i}\n" for i in (1, 3, 5)))
    (run / "metrics" / "accuracy").write_text("1700000000000 0.5 0\n")
    return run


def test_mlflow_run_folder_is_one_run_with_keys_as_series(tmp_path):
    run_dir = mlflow_run(tmp_path)
    run = one(run_dir)
    assert (run.format, run.name, run.x_name) == ("mlflow", "bold-fox", "step")
    assert (series(run, "train").name, series(run, "val").name) == ("train/loss", "val_loss")
    assert series(run, "val").x.tolist() == [1, 3, 5]


def test_mlflow_store_searched_from_its_root_names_runs_by_relative_path(tmp_path):
    mlflow_run(tmp_path)
    runs, errors = load_paths([str(tmp_path / "mlruns")])
    assert errors == [] and [r.name for r in runs] == ["1/abc123"]


def test_mlflow_metric_file_alone_is_recognised_by_content(tmp_path):
    run_dir = mlflow_run(tmp_path)
    run = one(run_dir / "metrics" / "train" / "loss")
    assert (run.format, series(run, "train").name) == ("mlflow", "train/loss")


def test_mlflow_metric_without_steps_uses_the_logging_order(tmp_path):
    f = tmp_path / "loss"
    f.write_text("1700000000000 1.0\n1700000000001 0.5\n1700000000002 0.25\n")
    run = one(f)
    assert series(run, "train").x.tolist() == [0, 1, 2]
    assert any("no steps" in n for n in run.notes)


# --- transport: gzip, stdin, folders ----------------------------------------------------------------


def test_gzip_compressed_log_reads_like_the_plain_one(tmp_path):
    f = tmp_path / "metrics.csv.gz"
    f.write_bytes(gzip.compress(b"epoch,step,train_loss,val_loss\n0,0,1.0,\n0,1,0.5,\n0,1,,0.7\n"))
    run = one(f)
    assert run.format == "lightning_csv" and series(run, "val").y.tolist() == [0.7]


def test_dash_reads_standard_input(monkeypatch):
    data = b'{"loss": [1.0, 0.5], "val_loss": [1.1, 0.6]}'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    run = one("-")
    assert run.source == "<stdin>" and series(run, "val").y.tolist() == [1.1, 0.6]


def test_folder_search_names_runs_by_relative_path_and_skips_non_logs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "run1.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n")
    (tmp_path / "b" / "vis_data").mkdir(parents=True)
    text = "\n".join(json.dumps({"loss": 1.0 / i, "lr": 0.1, "iter": i, "epoch": 1, "step": i}) for i in range(1, 4))
    (tmp_path / "b" / "vis_data" / "scalars.json").write_text(text + "\n")
    (tmp_path / "b" / "vis_data" / "20240101_000000.json").write_text(text + "\n")  # mmengine's identical copy
    (tmp_path / "b" / "notes.json").write_text('{"author": "me"}')
    runs, errors = load_paths([str(tmp_path)])
    assert errors == []
    assert [r.name for r in runs] == ["a/run1", "b/vis_data"]


def test_folder_without_logs_is_one_error(tmp_path):
    (tmp_path / "cfg.json").write_text('{"lr": 0.1}')
    runs, errors = load_paths([str(tmp_path)])
    assert runs == [] and [e.message for e in errors] == ["no loss logs found in this folder"]


def test_named_non_log_file_is_still_an_error(tmp_path):
    f = tmp_path / "cfg.json"
    f.write_text('{"lr": 0.1}')
    runs, errors = load_paths([str(f)])
    assert runs == [] and len(errors) == 1 and "no lists" in errors[0].message


def test_repeated_steps_keep_the_last_write(tmp_path):
    f = tmp_path / "log.csv"
    f.write_text("step,loss\n0,1.0\n1,0.9\n2,0.8\n1,0.7\n2,0.6\n3,0.5\n")
    train = series(one(f), "train")
    assert train.x.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(train.y, [1.0, 0.7, 0.6, 0.5])


def test_an_iteration_counted_within_each_epoch_is_counted_on_across_epochs(tmp_path):
    # MMDetection's log.json: 'iter' restarts every epoch; validation rows carry their own 'iter'
    import json as _json

    from lossdoc.ingest import read_one

    lines = [{"env_info": "sys.platform: linux"}]
    for epoch in range(1, 4):
        lines += [
            {"mode": "train", "epoch": epoch, "iter": i, "loss": 10.0 / (epoch * 10 + i / 50)} for i in (50, 100, 150)
        ]
        lines.append({"mode": "val", "epoch": epoch, "iter": 7, "mAP": 0.1 * epoch})
    f = tmp_path / "20220101_000000.log.json"
    f.write_text("\n".join(_json.dumps(x) for x in lines) + "\n")
    (h,) = read_one(str(f))
    assert list(h.train.x) == [50, 100, 150, 200, 250, 300, 350, 400, 450]
    assert any("restarts each time 'epoch' advances" in n for n in h.notes)


def test_yolos_bias_warmup_rate_is_not_taken_for_the_runs_learning_rate(tmp_path):
    # Ultralytics results.csv: lr/pg0 is the bias group, warmed up from 0.1 down; pg1/pg2 rise from 0
    from lossdoc.ingest import read_one

    rows = ["epoch,train/box_loss,val/box_loss,lr/pg0,lr/pg1,lr/pg2"]
    for e in range(1, 11):
        pg0 = 0.1 - 0.0099 * min(e, 3) / 3 * 10 if e <= 3 else 0.001
        rise = 0.001 * min(e, 3) / 3
        rows.append(f"{e},{2 / e:.4f},{2.2 / e:.4f},{pg0:.5f},{rise:.5f},{rise:.5f}")
    f = tmp_path / "results.csv"
    f.write_text("\n".join(rows) + "\n")
    (h,) = read_one(str(f))
    assert h.lr.name == "lr/pg1" and any("bias warm-up" in n for n in h.notes)


def test_losses_the_hf_trainer_hid_as_zero_are_read_as_nan_everywhere(tmp_path):
    # logging_nan_inf_filter=True: the loss is logged as 0.0 while the gradient norm is NaN
    import json as _json

    from lossdoc.analysis import analyze
    from lossdoc.ingest import read_one

    log = [{"step": s, "loss": 3.0 - s / 100, "grad_norm": 1.0, "learning_rate": 1e-3} for s in range(5, 101, 5)]
    log += [{"step": s, "loss": 0.0, "grad_norm": float("nan"), "learning_rate": 1e-3} for s in range(105, 201, 5)]
    (tmp_path / "trainer_state.json").write_text(_json.dumps({"log_history": log, "global_step": 200}))
    (h,) = read_one(str(tmp_path / "trainer_state.json"))
    assert np.isnan(h.train.y[h.train.x > 100]).all() and (h.train.y[h.train.x <= 100] > 0).all()
    assert any("read as NaN" in n and "logging_nan_inf_filter" in n for n in h.notes)
    f = next(f for f in analyze(h).findings if f.rule == "non-finite")
    assert f.start == 105 and f.severity == "error"
