"""No silent wrong answers (issue 15): a reader that drops data says so on the run, and a column is
never moved into another column's role because one of its cells is bad."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.ingest import load_paths
from lossdoc.ingest.plain_csv import SMALL_FILE_BYTES

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


# ---------------------------------------------------------------------------------------------------
# TensorBoard event files: a damaged record is skipped and noted, never the end of the run.


def _event_file(folder, n: int = 60):
    import struct

    from test_ingest_tensorboard import write_events

    write_events(folder, [(s, "loss", 1.0 / (s + 1)) for s in range(n)])
    (path,) = folder.iterdir()
    data = path.read_bytes()
    offsets, pos = [], 0
    while pos < len(data):
        (length,) = struct.unpack_from("<Q", data, pos)
        offsets.append((pos, length))
        pos += 12 + length + 4
    return path, data, offsets


def test_a_flipped_checksum_byte_costs_one_point_and_says_so(tmp_path):
    path, data, offsets = _event_file(tmp_path)
    pos, length = offsets[6]  # the file-version record, then one record per point
    damaged = bytearray(data)
    damaged[pos + 12 + length] ^= 0xFF
    path.write_bytes(bytes(damaged))
    (run,), errors = load_paths([str(tmp_path)])
    assert errors == []
    assert len(run.train) == 59
    assert run.notes == [f"{path.name}: skipped 1 damaged record (checksum mismatch); what they held is missing"]


def test_a_damaged_record_length_is_skipped_to_the_next_record(tmp_path):
    path, data, offsets = _event_file(tmp_path)
    pos, _ = offsets[6]
    damaged = bytearray(data)
    damaged[pos + 8] ^= 0xFF
    path.write_bytes(bytes(damaged))
    (run,), errors = load_paths([str(path)])
    assert errors == [] and len(run.train) == 59
    assert "skipped 1 damaged record" in run.notes[0]


def test_a_truncated_event_file_says_where_it_ends(tmp_path):
    path, data, offsets = _event_file(tmp_path)
    path.write_bytes(data[: offsets[31][0] + 20])
    (run,), errors = load_paths([str(path)])
    assert errors == [] and len(run.train) == 30
    assert run.notes == [f"{path.name} ends inside a record at byte {offsets[31][0]:,} (cut off while being written?)"]


def test_an_event_file_with_nothing_readable_is_an_input_error(tmp_path):
    path, data, _ = _event_file(tmp_path)
    path.write_bytes(bytes(b ^ 0x55 for b in data[:8]) + data[8:40])
    runs, errors = load_paths([str(tmp_path)])
    assert runs == []
    assert len(errors) == 1 and errors[0].message.startswith("damaged TensorBoard event file")


# ---------------------------------------------------------------------------------------------------
# Every other place a reader drops data says so.


def _notes(tmp_path, name: str, text: str) -> list[str]:
    log = tmp_path / name
    log.write_text(text)
    res = runner.invoke(app, ["analyze", str(log), "--format", "json"])
    (run,) = json.loads(res.stdout)["runs"]
    table = runner.invoke(app, ["analyze", str(log)]).stdout
    markdown = runner.invoke(app, ["analyze", str(log), "--format", "markdown"]).stdout
    for note in run["notes"]:
        assert note in markdown
        assert note.split(" ")[1] in table  # rich wraps long notes: a word of it is there
    return run["notes"]


def test_a_row_with_more_fields_than_the_header(tmp_path):
    rows = ["epoch,loss"] + [f"{i},{1 / (i + 1)}" + (",7" if i == 9 else "") for i in range(20)]
    notes = _notes(tmp_path, "run.csv", "\n".join(rows) + "\n")
    assert notes == ["skipped 1 line with more fields than the header (the first: line 11)"]


def test_a_5000_digit_number(tmp_path):
    rows = ["epoch,loss"] + [f"{i},{1 / (i + 1)}" if i != 9 else f"{i},1{'0' * 5000}" for i in range(20)]
    notes = _notes(tmp_path, "run.csv", "\n".join(rows) + "\n")
    assert notes == ["read a number of 5,001 digits (line 11) as infinity (too large for a float)"]
    notes = _notes(tmp_path, "run.json", '{"loss": [1.0, 0.5, 1' + "0" * 5000 + ", 0.2]}")
    assert notes == ["read a number of 5,001 digits as infinity (too large for a float)"]


def test_json_lines_that_are_not_records(tmp_path):
    lines = [json.dumps({"step": i, "loss": 1 / (i + 1)}) if i != 5 else "[1, 2]" for i in range(20)]
    notes = _notes(tmp_path, "log.jsonl", "\n".join(lines) + "\n")
    assert notes == ["skipped 1 line holding JSON that is not an object (the first: line 6)"]


def test_a_json_list_with_items_that_are_not_records(tmp_path):
    items = [{"step": i, "loss": 1 / (i + 1)} if i != 3 else "oops" for i in range(20)]
    notes = _notes(tmp_path, "log.json", json.dumps(items))
    assert notes == ["skipped 1 list item that is not an object (the first: #4, a str)"]


def test_points_without_an_x_value(tmp_path):
    rows = ["step,loss"] + [f"{'' if i == 4 else i},{1 / (i + 1)}" for i in range(20)]
    notes = _notes(tmp_path, "run.csv", "\n".join(rows) + "\n")
    assert notes == ["left out 1 point of 'loss' with no usable 'step' value (the first: data row 5)"]


def test_repeated_validation_steps(tmp_path):
    rows = ["step,loss,val_loss"] + [f"{i},{1 / (i + 1)},{0.5 if i % 5 == 4 else ''}" for i in range(20)]
    rows.append("19,0.05,0.4")  # a resumed run wrote the last validation point again
    notes = _notes(tmp_path, "run.csv", "\n".join(rows) + "\n")
    assert "x 'step' repeats or goes backwards in 'val_loss' (1 point(s)): kept the last write of each x" in notes
