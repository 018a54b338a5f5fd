"""Every reader on files written by the real framework's own code (tests/fixtures/formats/, made by
make_fixtures.py there; its README says which few are hand-written to the documented format).

Each case: the file, the format lossdoc must recognise from its content, and the x / train / val
names it must report (exactly as in the file), plus how many runs the file holds.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from lossdoc.ingest import load_paths, read_one

FIXTURES = Path(__file__).parent / "fixtures" / "formats"

# file, format, x, train, val, number of runs
CASES = [
    ("keras/csvlogger.csv", "keras_csv", "epoch", "loss", "val_loss", 1),
    ("keras/csvlogger_semicolon.csv", "keras_csv", "epoch", "loss", "val_loss", 1),
    ("keras/csvlogger_append.csv", "keras_csv", "epoch", "loss", "val_loss", 1),
    ("keras/csvlogger_validation_freq.csv", "keras_csv", "epoch", "loss", "val_loss", 1),
    ("keras/history.json", "json_history", "epoch", "loss", "val_loss", 1),
    ("keras/history_pandas.csv", "keras_csv", "index", "loss", "val_loss", 1),
    ("lightning/lightning_logs/version_0/metrics.csv", "lightning_csv", "step", "train_loss_step", "val_loss", 1),
    ("lightning/lightning_logs/version_1/metrics.csv", "lightning_csv", "step", "train_loss", "val_loss", 1),
    ("lightning/metrics.csv", "lightning_csv", "step", "train/loss", "val/loss", 1),
    ("hf_trainer/trainer_state.json", "hf_trainer_state", "step", "loss", "eval_loss", 1),
    ("hf_trainer/gpt2_steps/trainer_state.json", "hf_trainer_state", "step", "loss", "eval_loss", 1),
    ("ultralytics/results.csv", "yolo_csv", "epoch", "train/box_loss", "val/box_loss", 3),
    ("ultralytics/results_old.csv", "yolo_csv", "epoch", "train/box_loss", "val/box_loss", 3),
    ("ultralytics/results_seg.csv", "yolo_csv", "epoch", "train/box_loss", "val/box_loss", 4),
    ("fastai/history.csv", "fastai_csv", "epoch", "train_loss", "valid_loss", 1),
    ("fastai/history_append.csv", "fastai_csv", "epoch", "train_loss", "valid_loss", 1),
    ("tensorboard/run-train-tag-loss.csv", "tb_csv", "Step", "Value", None, 1),
    ("tensorboard/torch_summarywriter", "tensorboard", "step", "train/loss", "val/loss", 1),
    ("tensorboard/keras_layout_tensor_scalars", "tensorboard", "epoch", "epoch_loss", "epoch_loss", 1),
    ("wandb/run_history.csv", "wandb_csv", "_step", "train/loss", "val/loss", 1),
    ("wandb/panel_export.csv", "wandb_csv", "Step", "run1 - train/loss", None, 2),
    ("mlflow/mlruns", "mlflow", "step", "train_loss", "val_loss", 1),
    ("detectron2/metrics.json", "detectron2_json", "iteration", "total_loss", None, 1),
    ("mmengine/work_dir", "mmengine_json", "step", "loss", None, 1),
    ("xgboost/evals_result.json", "xgboost_json", "iteration", "train.logloss", "eval.logloss", 1),
    (
        "xgboost/sklearn_evals_result.json",
        "xgboost_json",
        "iteration",
        "validation_0.logloss",
        "validation_1.logloss",
        1,
    ),
    (
        "lightgbm/record_evaluation.json",
        "xgboost_json",
        "iteration",
        "training.binary_logloss",
        "valid_1.binary_logloss",
        1,
    ),
    ("lightgbm/record_evaluation_l2.json", "xgboost_json", "iteration", "training.l2", "valid_1.l2", 1),
    ("sklearn/loss_curve.json", "json_list", "epoch", "loss", None, 1),
    ("sklearn/mlp_history.json", "json_history", "epoch", "loss_curve_", None, 1),
]


def load(rel: str):
    runs, errors = load_paths([str(FIXTURES / rel)])
    assert errors == [], errors
    return runs


@pytest.mark.parametrize(("rel", "fmt", "x", "train", "val", "n_runs"), CASES, ids=[c[0] for c in CASES])
def test_real_file_is_recognised_and_mapped(rel, fmt, x, train, val, n_runs):
    runs = load(rel)
    assert len(runs) == n_runs
    first = runs[0]
    assert (first.format, first.x_name, first.train.name) == (fmt, x, train)
    assert (first.val.name if first.val else None) == val
    for run in runs:
        assert len(run.train) > 1 and np.all(np.diff(run.train.x) > 0)


def test_formats_are_recognised_from_content_not_names(tmp_path):
    for rel, fmt, *_ in CASES:
        src = FIXTURES / rel
        if src.is_dir():
            continue
        renamed = tmp_path / f"log_{len(list(tmp_path.iterdir()))}.dat"
        shutil.copy(src, renamed)
        assert read_one(str(renamed))[0].format == fmt, rel


def test_gzip_compressed_versions_read_the_same(tmp_path):
    for rel, *_ in CASES:
        src = FIXTURES / rel
        files = [src] if src.is_file() else sorted(p for p in src.rglob("*tfevents*") if p.is_file())[:1]
        for f in files:
            plain = read_one(str(f))
            gz = tmp_path / (f.name + ".gz")
            gz.write_bytes(gzip.compress(f.read_bytes()))
            packed = read_one(str(gz))
            assert [r.train.name for r in packed] == [r.train.name for r in plain], rel
            np.testing.assert_array_equal(packed[0].train.y, plain[0].train.y)


def test_keras_validation_freq_na_cells_are_absent():
    run = load("keras/csvlogger_validation_freq.csv")[0]
    assert len(run.val) < len(run.train) and np.all(np.isfinite(run.val.y))


def test_hf_summary_entry_is_left_out():
    run = load("hf_trainer/gpt2_steps/trainer_state.json")[0]
    ckpt = load("hf_trainer/gpt2_steps/checkpoint-20/trainer_state.json")[0]
    # The saved state has the final summary entry, the checkpoint does not: the curves are the same.
    np.testing.assert_array_equal(run.train.y, ckpt.train.y)


def test_hf_output_folder_is_read_once():
    runs = load("hf_trainer/gpt2_steps")
    assert [r.name for r in runs] == ["gpt2_steps"]


def test_lightning_logs_versions_are_separate_runs():
    runs = load("lightning/lightning_logs")
    assert [r.name for r in runs] == ["version_0", "version_1"]


def test_detectron2_resumed_iterations_are_reported():
    run = load("detectron2/metrics.json")[0]
    assert any("repeats or goes backwards" in n for n in run.notes)


def test_mmengine_duplicate_scalars_file_is_read_once():
    assert len(load("mmengine")) == 1


def test_tensorboard_keras_folders_pair_train_and_validation():
    run = load("tensorboard/keras_layout_tensor_scalars")[0]
    assert [s.role for s in run.series if s.name == "epoch_loss"] == ["train", "val"]
    assert len(run.train) == len(run.val)


def test_tensorboard_event_file_named_alone():
    f = next((FIXTURES / "tensorboard" / "torch_summarywriter").glob("events.out.tfevents.*"))
    run = read_one(str(f))[0]
    assert (run.format, run.train.name, run.name) == ("tensorboard", "train/loss", "torch_summarywriter")


def test_tensorboard_download_csv_matches_the_event_file_it_came_from():
    csv_run = load("tensorboard/run-train-tag-loss.csv")[0]
    tb_run = load("tensorboard/torch_summarywriter")[0]
    np.testing.assert_array_equal(csv_run.train.x, tb_run.train.x)
    np.testing.assert_allclose(csv_run.train.y, tb_run.train.y, rtol=1e-6)
