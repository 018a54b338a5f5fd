"""The recovery plan: the checkpoints on disk beside the log, where to resume and how."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lossdoc.advice import advise
from lossdoc.advice.model import Advice
from lossdoc.advice.recovery import find_checkpoints
from lossdoc.advice.render import next_run_lines
from lossdoc.analysis import analyze
from lossdoc.history import LossHistory, Series
from lossdoc.ingest import read_one
from lossdoc.report.json import dumps

CAUSES = Path(__file__).parent / "fixtures" / "causes"


def _advice(path: Path) -> Advice:
    (history,) = read_one(str(path))
    advice = advise(analyze(history))
    json.loads(dumps(advice))
    return advice


def test_hf_output_folder_resume_from_the_last_checkpoint_before_the_spike():
    rec = _advice(CAUSES / "hf_bad_batch" / "trainer_state.json").recovery
    assert [Path(c["path"]).name for c in rec["checkpoints"]] == [
        "checkpoint-50",
        "checkpoint-100",
        "checkpoint-150",
        "checkpoint-200",
    ]
    (event,) = rec["events"]
    assert Path(event["resume_from"]).name == "checkpoint-100" and event["resume_x"] == 100
    assert event["resume"] == f'trainer.train(resume_from_checkpoint="{event["resume_from"]}")'
    assert event["skip"]["from"] == event["skip"]["to"] == 130 and "ignore_data_skip=True" in event["skip"]["how"]
    assert event["lr_change"].startswith("keep the learning rate")


def test_a_log_inside_a_checkpoint_folder_plans_for_the_whole_output_folder():
    rec = _advice(CAUSES / "hf_bad_batch" / "checkpoint-200" / "trainer_state.json").recovery
    assert Path(rec["folder"]).name == "hf_bad_batch" and len(rec["checkpoints"]) == 4


def test_hf_best_checkpoint_and_the_ones_after_it_that_could_go():
    rec = _advice(CAUSES / "hf_warmup_divergence" / "trainer_state.json").recovery
    best = rec["best"]
    assert best["x"] == 50 and Path(best["checkpoint"]).name == "checkpoint-50" and best["exact"]
    assert best["best_model_checkpoint"].endswith("checkpoint-50") and best["on_disk"] == best["checkpoint"]
    assert [Path(p).name for p in rec["deletable"]] == ["checkpoint-100", "checkpoint-150", "checkpoint-200"]
    assert "never deletes" in rec["note"]
    (event,) = rec["events"]
    assert event["cause"] == "learning_rate" and event["skip"] is None
    assert event["lr_change"].startswith("resume with the learning rate cut to a third")


def test_save_total_limit_kept_two_checkpoints_and_only_those_are_named():
    rec = _advice(CAUSES / "hf_grad_spike" / "trainer_state.json").recovery
    names = [Path(c["path"]).name for c in rec["checkpoints"]]
    assert names == ["checkpoint-100", "checkpoint-200"]
    (event,) = rec["events"]
    assert Path(event["resume_from"]).name == "checkpoint-100"


def test_lightning_checkpoints_beside_metrics_csv():
    advice = _advice(CAUSES / "lightning_bad_batch" / "lightning_logs" / "version_0" / "metrics.csv")
    rec = advice.recovery
    assert [c["x"] for c in rec["checkpoints"]] == [60, 120, 180, 240]
    (event,) = rec["events"]
    assert event["resume_from"].endswith("checkpoints/epoch=0-step=120.ckpt")
    assert event["resume"] == f'trainer.fit(model, datamodule=dm, ckpt_path="{event["resume_from"]}")'
    assert "return None from training_step when self.global_step == 149" in event["skip"]["how"]
    lines = next_run_lines(advice)
    assert any(
        line.startswith("After the spike at step 149: resume from checkpoints/epoch=0-step=120.ckpt") for line in lines
    )


def _spiky(source: str, x_name: str = "step", n: int = 100) -> LossHistory:
    x = np.arange(1, n + 1, dtype=float)
    y = np.linspace(2.0, 1.0, n) * np.exp(np.random.default_rng(0).normal(0, 0.02, n))
    y[69] *= 6  # a spike at x = 70
    val = np.concatenate([np.linspace(2.0, 1.0, 45), np.linspace(1.0, 1.5, n - 45)])
    return LossHistory(
        source=source,
        format="csv",
        name="r",
        x_name=x_name,
        series=[Series("loss", "train", x, y), Series("val_loss", "val", x, val)],
    )


def test_no_checkpoint_on_disk_no_plan(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("")
    assert advise(analyze(_spiky(str(log)))).recovery is None
    assert advise(analyze(_spiky("no/such/file.csv"))).recovery is None


def test_the_best_point_against_the_nearest_saved_checkpoint(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("")
    for n in (20, 40, 60, 80):
        (tmp_path / f"checkpoint-{n}").mkdir()
    (tmp_path / "checkpoint-notes.txt").write_text("")  # not a checkpoint folder
    rec = advise(analyze(_spiky(str(log)))).recovery
    assert [c["x"] for c in rec["checkpoints"]] == [20, 40, 60, 80]
    assert rec["best"]["x"] == 45 and rec["best"]["checkpoint_x"] == 40 and not rec["best"]["exact"]
    assert rec["events"][0]["resume_x"] == 60
    lines = next_run_lines(Advice(x_name="step", recovery=rec))
    assert "Best point step 45; nearest saved checkpoint: checkpoint-40 (step 40)." in lines


def test_keras_model_checkpoint_files_named_by_epoch(tmp_path):
    log = tmp_path / "history.csv"
    log.write_text("")
    for e in (10, 30, 50):
        (tmp_path / f"model.{e:02d}.keras").write_text("")
    (tmp_path / "notes.h5.txt").write_text("")
    _, found = find_checkpoints(_spiky(str(log), x_name="epoch"))
    # ModelCheckpoint formats {epoch} from 1, CSVLogger counts epochs from 0
    assert [(Path(c.path).name, c.x) for c in found] == [
        ("model.10.keras", 9),
        ("model.30.keras", 29),
        ("model.50.keras", 49),
    ]
    rec = advise(analyze(_spiky(str(log), x_name="epoch"))).recovery
    assert rec["events"][0]["resume"].endswith("initial_epoch=50)")


@pytest.mark.parametrize("fmt", ["table", "markdown", "html", "github", "junit", "json"])
def test_every_format_shows_the_cause_and_the_resume_call(fmt, tmp_path):
    from typer.testing import CliRunner

    from lossdoc.cli import app

    out = tmp_path / "report"
    log = CAUSES / "hf_bad_batch" / "trainer_state.json"
    result = CliRunner().invoke(app, ["analyze", str(log), "--format", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "a bad batch (loss alone)" in text
    assert "resume_from_checkpoint" in text and "checkpoint-100" in text


def test_a_deleted_best_checkpoint_is_said_gone_and_never_offered(tmp_path):
    import shutil

    shutil.copy(CAUSES / "hf_grad_spike" / "trainer_state.json", tmp_path / "trainer_state.json")
    (tmp_path / "checkpoint-200").mkdir()  # checkpoint-100, the best, was deleted
    advice = _advice(tmp_path / "trainer_state.json")
    rec = advice.recovery
    assert [Path(c["path"]).name for c in rec["checkpoints"]] == ["checkpoint-200"]
    assert rec["best"]["best_model_checkpoint"].endswith("checkpoint-100") and rec["best"]["on_disk"] is None
    assert Path(rec["best"]["checkpoint"]).name == "checkpoint-200" and not rec["best"]["exact"]
    (event,) = rec["events"]
    assert event["resume_from"] is None and event["resume"] is None
    lines = next_run_lines(advice)
    assert "After the spike at step 130: no checkpoint on disk was saved before it; restart from scratch." in lines
    assert not any("checkpoint-100" in line and "resume" in line for line in lines)
    assert any("names checkpoint-100 as the best (no longer on disk)" in line for line in lines)
