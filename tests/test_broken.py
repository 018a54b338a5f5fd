"""Broken and hostile inputs, one real example of each kind (tests/fixtures/broken/): the exact message a
user sees, or the notes when the damage is repairable (a log still being written).

The fixtures are written by tests/fixtures/broken/make_broken.py and committed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from limits import time_limit
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.ingest import InputError, load_paths, source

BROKEN = Path(__file__).parent / "fixtures" / "broken"
runner = CliRunner()


def only_error(path: Path | str) -> str:
    """The one error reading ``path`` gives; reading it must give no run."""
    with time_limit(30):
        runs, errors = load_paths([str(path)])
    assert runs == []
    assert len(errors) == 1 and errors[0].source == str(path)
    return errors[0].message


# ---------------------------------------------------------------------------------------------------
# One test per kind: the exact message.

ERRORS = {
    "empty.csv": "empty file",
    "blank_lines.csv": "empty file",
    "binary.csv": "binary file, not a text loss log",
    "only_zeros.csv": "only zero bytes (the file was never written out, e.g. after a crash)",
    "not_utf8.csv": "not UTF-8 text (bad byte at offset 22)",
    "header_only.csv": "header only, no data rows",
    "no_loss_column.csv": "no column looks like a loss; columns are: epoch, accuracy — use --train COL",
    "text_column.csv": "column 'loss' holds text ('diverged' in data row 3), not numbers",
    "unterminated_quote.csv": (
        "cannot parse as CSV (Error tokenizing data. C error: EOF inside string starting at row 1)"
    ),
    "truncated.json": "truncated JSON: it ends at line 19 column 7 before the document is complete",
    "malformed.json": "malformed JSON at line 3 column 9 (Expecting ',' delimiter)",
    "deeply_nested.json": "JSON nested too deeply",
    "wrong_types.json": "column 'loss' holds text ('high' in data row 3), not numbers",
    "no_lists.json": "JSON object holds no lists of values",
    "malformed.jsonl": "malformed JSON on line 4 (Expecting ',' delimiter)",
    "corrupt.csv.gz": (
        "corrupt or truncated gzip data (Error -3 while decompressing data: invalid distance too far back)"
    ),
    "truncated_header.csv.gz": "corrupt or truncated gzip data (it ends before any data)",
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_each_broken_kind_gives_its_exact_message(name):
    assert only_error(BROKEN / name) == ERRORS[name]


@pytest.mark.parametrize("name", ["binary.csv", "corrupt.csv.gz", "deeply_nested.json", "text_column.csv"])
def test_cli_prints_one_stderr_line_naming_file_and_problem(name):
    path = str(BROKEN / name)
    res = runner.invoke(app, ["analyze", path, "--format", "json"])
    assert res.exit_code == 2
    assert res.stderr == f"lossdoc: {path}: {ERRORS[name]}\n"
    assert json.loads(res.stdout)["errors"] == [{"source": path, "message": ERRORS[name]}]


def test_missing_file():
    assert only_error(BROKEN / "missing.csv") == "file not found"


def test_folder_without_logs(tmp_path):
    (tmp_path / "notes.md").write_text("nothing here")
    assert only_error(tmp_path) == "no loss logs found in this folder"


def test_pattern_matching_nothing(tmp_path):
    assert only_error(tmp_path / "*.csv") == "no file matches this pattern"


def test_file_named_like_a_pattern_is_read_as_that_file(tmp_path):
    f = tmp_path / "run[1].csv"
    shutil.copy(BROKEN / "one_row.csv", f)
    runs, errors = load_paths([str(f)])
    assert errors == [] and len(runs) == 1


def test_empty_stdin_is_named_stdin():
    res = runner.invoke(app, ["analyze", "-"], input=b"")
    assert res.exit_code == 2
    assert res.stderr == "lossdoc: <stdin>: empty file\n"


def test_stdin_binary():
    res = runner.invoke(app, ["analyze", "-", "--format", "json"], input=bytes(range(256)))
    assert res.exit_code == 2
    assert res.stderr == "lossdoc: <stdin>: binary file, not a text loss log\n"


# ---------------------------------------------------------------------------------------------------
# Odd but valid: a report, not an error.


def one_run(path: Path):
    runs, errors = load_paths([str(path)])
    assert errors == []
    assert len(runs) == 1
    return runs[0]


@pytest.mark.parametrize("name", ["utf16.csv", "utf16_no_bom.csv", "bom_crlf.csv"])
def test_utf16_bom_and_crlf_read_like_plain_csv(name):
    plain = [float(v) for v in one_run(BROKEN / "partial_last_line.csv").train.y]
    run = one_run(BROKEN / name)
    assert run.train.name == "loss" and run.val.name == "val_loss"
    assert run.train.y.size == 12
    np.testing.assert_allclose(run.train.y[:11], plain)


def test_latin1_header_is_read():
    run = one_run(BROKEN / "latin1.csv")
    assert run.train.y.tolist() == [1.0, 0.5, 0.4]


def test_all_nan_column_is_a_non_finite_finding():
    res = runner.invoke(app, ["analyze", str(BROKEN / "all_nan.csv"), "--format", "json"])
    doc = json.loads(res.stdout)
    assert res.stderr == ""
    assert [f["rule"] for f in doc["runs"][0]["findings"]] == ["non-finite"]
    assert res.exit_code == 1


def test_one_row_is_a_run():
    res = runner.invoke(app, ["analyze", str(BROKEN / "one_row.csv"), "--format", "json"])
    assert res.exit_code == 0 and res.stderr == ""
    assert json.loads(res.stdout)["runs"][0]["summary"]["points"] == 1


def test_duplicate_column_names_use_the_first():
    run = one_run(BROKEN / "duplicate_columns.csv")
    assert run.train.name == "loss" and run.train.y.tolist() == [1.0, 0.8, 0.6]


def test_huge_and_tiny_numbers():
    run = one_run(BROKEN / "huge_and_tiny.csv")
    assert run.train.y[0] == 1e308 and run.train.y[2] == 5e-324 and np.isposinf(run.train.y[3])
    res = runner.invoke(app, ["analyze", str(BROKEN / "huge_and_tiny.csv"), "--format", "json"])
    assert res.stderr == "" and res.exit_code == 1  # the inf is a non-finite finding


def test_integer_too_long_for_python_reads_as_inf():
    run = one_run(BROKEN / "huge_integer.json")
    assert run.train.y[:2].tolist() == [1.0, 0.5] and np.isposinf(run.train.y[2])


# ---------------------------------------------------------------------------------------------------
# A log still being written (or cut off by a crash): read up to the last complete record, with a note.


def test_csv_partial_last_line_is_dropped_with_a_note():
    run = one_run(BROKEN / "partial_last_line.csv")
    assert run.train.y.size == 11 and run.train.x[-1] == 10
    assert run.notes == ["ignored an incomplete last line ('11,0.221799'); the log may still be written"]


def test_csv_number_cut_in_half_is_dropped(tmp_path):
    f = tmp_path / "run.csv"
    f.write_bytes(b"step,loss\n0,1.0\n1,2e-05\n2,1e-")
    run = one_run(f)
    assert run.train.y.tolist() == [1.0, 2e-05]
    assert run.notes == ["ignored an incomplete last line ('2,1e-'); the log may still be written"]


def test_complete_last_line_without_newline_is_kept(tmp_path):
    f = tmp_path / "run.csv"
    f.write_bytes(b"step,loss,val_loss\n0,1.0,1.1\n1,0.5,0.6")
    run = one_run(f)
    assert run.train.y.tolist() == [1.0, 0.5] and run.notes == []


def test_only_an_incomplete_row_is_an_error(tmp_path):
    f = tmp_path / "run.csv"
    f.write_bytes(b"step,loss,val_loss\n0,1.0")
    assert only_error(f) == "no complete data row yet (only an incomplete last line)"


def test_jsonl_partial_last_line_is_dropped_with_a_note():
    run = one_run(BROKEN / "partial_last_line.jsonl")
    assert run.train.y.size == 7
    assert run.notes == ["ignored an incomplete last line (line 8); the log may still be written"]


def test_gzip_cut_off_while_written_reads_what_it_holds():
    run = one_run(BROKEN / "truncated.csv.gz")
    assert run.train.y.size == 81
    assert run.notes[:2] == [
        "the gzip data ends early (the file was cut off); read what it holds",
        "ignored an incomplete last line ('8'); the log may still be written",
    ]


def test_zero_bytes_left_by_a_crash_are_cut_off():
    run = one_run(BROKEN / "trailing_zeros.csv")
    assert run.train.y.size == 11
    assert run.notes == [
        "ignored 512 zero bytes at the end (the file was not completely written)",
        "ignored an incomplete last line ('11,0.22'); the log may still be written",
    ]


def test_partial_line_notes_reach_the_json_report_and_exit_is_not_2():
    res = runner.invoke(app, ["analyze", str(BROKEN / "partial_last_line.jsonl"), "--format", "json"])
    assert res.exit_code in (0, 1) and res.stderr == ""
    assert "ignored an incomplete last line" in json.loads(res.stdout)["runs"][0]["notes"][0]


# ---------------------------------------------------------------------------------------------------
# Bounded memory and time: size caps, gzip bombs, links, pipes, unreadable files.


def test_gzip_bomb_is_refused_within_bounded_memory(monkeypatch):
    monkeypatch.setattr(source, "MAX_DECOMPRESSED_BYTES", 1024 * 1024)
    tracemalloc.start()
    try:
        message = only_error(BROKEN / "expands_enormously.csv.gz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == "gzip data expands beyond 1 MiB; refusing to read it"
    assert peak < 8 * 1024 * 1024  # the 16 MiB it would expand to is never held


def test_file_over_the_size_cap_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(source, "MAX_DECOMPRESSED_BYTES", 64 * 1024)
    f = tmp_path / "big.csv"
    f.write_bytes(b"step,loss\n" + b"1,0.5\n" * 20_000)
    assert only_error(f) == "file is larger than 64 KiB; refusing to read it"


def test_stdin_over_the_size_cap_is_refused(monkeypatch):
    monkeypatch.setattr(source, "MAX_DECOMPRESSED_BYTES", 1024)
    res = runner.invoke(app, ["analyze", "-"], input=b"step,loss\n" + b"1,0.5\n" * 1000)
    assert res.exit_code == 2
    assert res.stderr == "lossdoc: <stdin>: standard input is larger than 1 KiB; refusing to read it\n"


def test_symlink_loop_and_broken_link_in_a_folder(tmp_path):
    shutil.copy(BROKEN / "one_row.csv", tmp_path / "good.csv")
    (tmp_path / "loop.csv").symlink_to("loop.csv")
    (tmp_path / "dangling.csv").symlink_to("gone.csv")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")  # a folder loop: not followed
    with time_limit(30):
        runs, errors = load_paths([str(tmp_path)])
    assert [r.name for r in runs] == ["good"]
    assert errors == [
        InputError(str(tmp_path / "dangling.csv"), "broken symbolic link (points to 'gone.csv')"),
        InputError(str(tmp_path / "loop.csv"), "symbolic link loop"),
    ]


def test_recursive_glob_over_symlink_loops_ends(tmp_path):
    shutil.copy(BROKEN / "one_row.csv", tmp_path / "good.csv")
    (tmp_path / "up1").symlink_to(".")
    (tmp_path / "up2").symlink_to(".")  # Python's glob('**') would walk 2**40 paths here
    with time_limit(30):
        runs, errors = load_paths([f"{tmp_path}/**/*.csv"])
    assert errors == [] and [r.name for r in runs] == ["good"]


def test_named_pipe_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "run.csv"
    os.mkfifo(fifo)
    assert only_error(fifo) == "not a regular file (a pipe, device or socket); to read it, pipe it to '-'"
    with time_limit(30):
        runs, errors = load_paths([str(tmp_path)])  # found by searching a folder, with a twin
    assert runs == [] and [e.message for e in errors] == [
        "not a regular file (a pipe, device or socket); to read it, pipe it to '-'"
    ]


def test_device_is_refused():
    assert only_error("/dev/zero") == "not a regular file (a pipe, device or socket); to read it, pipe it to '-'"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_in_a_folder(tmp_path):
    shutil.copy(BROKEN / "one_row.csv", tmp_path / "good.csv")
    bad = tmp_path / "locked.csv"
    shutil.copy(BROKEN / "one_row.csv", bad)
    bad.write_bytes(b"step,loss\n0,2\n")
    bad.chmod(0)
    try:
        runs, errors = load_paths([str(tmp_path)])
    finally:
        bad.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert [r.name for r in runs] == ["good"]
    assert errors == [InputError(str(bad), "permission denied")]


def test_unreadable_file_as_root_too(tmp_path, monkeypatch):
    # Tests run as root in CI, where chmod 000 does not stop a read: make the open fail instead.
    good, bad = tmp_path / "good.csv", tmp_path / "locked.csv"
    shutil.copy(BROKEN / "one_row.csv", good)
    bad.write_bytes(b"step,loss\n0,2\n")
    real_open = Path.open

    def guarded_open(self, *args, **kwargs):
        if self.name == "locked.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    runs, errors = load_paths([str(tmp_path)])
    assert [r.name for r in runs] == ["good"]
    assert errors == [InputError(str(bad), "permission denied")]


# ---------------------------------------------------------------------------------------------------
# Many logs, a few broken: all the good ones reported, every broken one listed.


def test_thousand_logs_ten_broken(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    broken = [
        "empty.csv",
        "binary.csv",
        "only_zeros.csv",
        "header_only.csv",
        "unterminated_quote.csv",
        "text_column.csv",
        "malformed.json",
        "deeply_nested.json",
        "malformed.jsonl",
        "corrupt.csv.gz",
    ]
    rng = np.random.default_rng(8)
    bad_names = set()
    for i in range(1000):
        if i % 100 == 37:
            kind = broken[i // 100]
            name = f"run_{i:04d}_{kind}"
            shutil.copy(BROKEN / kind, runs_dir / name)
            bad_names.add(name)
            continue
        n = int(rng.integers(8, 30))
        loss = 2.0 * np.exp(-np.arange(n) / (n / 3)) + rng.normal(0, 0.01, n) + 0.1
        lines = "".join(f"{e},{v:.6f}\n" for e, v in enumerate(loss))
        (runs_dir / f"run_{i:04d}.csv").write_text("epoch,loss\n" + lines)

    with time_limit(120):
        res = runner.invoke(app, ["analyze", str(runs_dir), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert len(doc["runs"]) == 990
    assert {Path(e["source"]).name for e in doc["errors"]} == bad_names
    assert doc["exit_code"] == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 10
    assert all(re.fullmatch(r"lossdoc: .*/runs/run_\d{4}_\S+: .+", line) for line in lines)
    assert not any("internal error" in e["message"] for e in doc["errors"])


# ---------------------------------------------------------------------------------------------------
# No traceback in a real process, even for the worst inputs.


def test_real_process_never_prints_a_traceback(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    args = [str(BROKEN / n) for n in ("binary.csv", "deeply_nested.json", "corrupt.csv.gz", "truncated.json")]
    res = subprocess.run(
        [sys.executable, "-m", "lossdoc", "analyze", *args, str(fifo)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert len(res.stderr.splitlines()) == 5
    assert all(line.startswith("lossdoc: ") for line in res.stderr.splitlines())


def test_real_process_escapes_newlines_and_undecodable_bytes_in_names(tmp_path):
    odd = os.fsencode(tmp_path) + b"/new\nline\xff.csv"
    with open(odd, "wb") as fh:
        fh.write(b"epoch,acc\n0,1\n")
    res = subprocess.run(
        [sys.executable, "-m", "lossdoc", "analyze", os.fsdecode(odd)], capture_output=True, timeout=120
    )
    assert res.returncode == 2
    assert b"Traceback" not in res.stderr
    assert res.stderr.count(b"\n") == 1
    assert b"new\\nline\\xff.csv: no column looks like a loss" in res.stderr


def test_real_process_shows_no_library_warnings(tmp_path):
    # numpy overflows while matplotlib picks ticks for 1e308, a font lacks a glyph for a NUL in a
    # name: none of it may reach stderr, which holds one line per bad file and nothing else.
    log = tmp_path / "x\x01y.csv"
    log.write_bytes(b"step,loss\n1e308,1e308\n-1e308,5e-324\n1.7e308,1\n0,nan\n")
    plot_args = ["--plot", str(tmp_path / "plots"), "--fail-on", "never"]
    res = subprocess.run(
        [sys.executable, "-m", "lossdoc", "analyze", str(log), str(BROKEN / "huge_and_tiny.csv"), *plot_args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Warning" not in res.stderr
    assert all(line.startswith("lossdoc: ") for line in res.stderr.splitlines())
