"""No silent wrong answers (issue 15): a reader that drops data says so on the run, and a column is
never moved into another column's role because one of its cells is bad."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.ingest import load_paths
from lossdoc.ingest.delimited import SMALL_FILE_BYTES

runner = CliRunner()


def overfitting_csv(rows: int = 60, bad: dict[int, str] | None = None) -> str:
    """``epoch,loss,val_loss``: the training loss falls, the validation loss bottoms out at a third
    of the run and rises again; ``bad`` puts text in the loss column of some rows."""
    bad = bad or {}
    lines = ["epoch,loss,val_loss"]
    for i in range(rows):
        t = i * 60 / rows
        loss = bad.get(i, f"{1 / (t + 1) + 0.05:.6f}")
        lines.append(f"{i},{loss},{0.5 + 0.0004 * (t - 20) ** 2:.6f}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("cell", ["oops", "0x10", "1.0.0"])
def test_one_bad_cell_in_the_loss_column_is_a_missing_point_and_a_note(tmp_path, cell):
    log = tmp_path / "run.csv"
    log.write_text(overfitting_csv(bad={30: cell}))
    res = runner.invoke(app, ["analyze", str(log), "--fail-on", "overfitting", "--format", "json"])
    run = json.loads(res.stdout)["runs"][0]
    assert run["series"] == {"train": "loss", "val": "val_loss"}
    assert f"column 'loss': read '{cell}' in data row 31 as missing (not a number)" in run["notes"]
    assert run["summary"]["points"] == 59
    assert "overfitting" in {f["rule"] for f in run["findings"]}
    assert res.exit_code == 1


def test_the_small_file_reader_and_pandas_agree_on_a_bad_cell(tmp_path):
    rows = 30_000
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_text(overfitting_csv(60, bad={30: "oops"}))
    large.write_text(overfitting_csv(rows, bad={30: "oops"}))
    assert small.stat().st_size < SMALL_FILE_BYTES < large.stat().st_size
    for path in (small, large):
        runs, errors = load_paths([str(path)])
        assert errors == []
        (run,) = runs
        assert [s.name for s in run.series] == ["loss", "val_loss"]
        assert run.notes == ["column 'loss': read 'oops' in data row 31 as missing (not a number)"]


def test_several_bad_cells_are_counted_in_the_note(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text(overfitting_csv(bad={3: "oops", 9: "--x", 30: "?"}))
    (run,), _ = load_paths([str(log)])
    assert run.notes == [
        "column 'loss': read 3 cells that are not numbers as missing (the first: 'oops' in data row 4)"
    ]


def test_a_loss_column_of_mostly_text_is_an_input_error_naming_it(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text(overfitting_csv(bad={i: "n/a?" for i in range(60) if i % 3}))
    runs, errors = load_paths([str(log)])
    assert runs == []
    assert [e.message for e in errors] == ["column 'loss' holds text ('n/a?' in data row 2), not numbers"]


def test_a_bad_value_in_json_records_is_a_note_too(tmp_path):
    log = tmp_path / "log.jsonl"
    recs = [{"step": i, "loss": 1 / (i + 1), "val_loss": 0.5 + 0.01 * abs(i - 20)} for i in range(60)]
    recs[30]["loss"] = "oops"
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    (run,), errors = load_paths([str(log)])
    assert errors == []
    assert [s.name for s in run.series] == ["loss", "val_loss"]
    assert run.notes == ["column 'loss': read 'oops' in data row 31 as missing (not a number)"]
