"""Bounded cost (issue 15): inputs no real log resembles are refused quickly, by what they hold
(columns, line length, size, zero bytes), before they are parsed or held in memory. The tests assert
on what is refused and on memory, never on wall time."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc

import pytest
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.ingest import load_paths, source
from lossdoc.ingest.delimited import MAX_HEADER_BYTES
from lossdoc.ingest.frame import MAX_COLUMNS

runner = CliRunner()


def only_error(path) -> str:
    runs, errors = load_paths([str(path)])
    assert runs == [] and len(errors) == 1
    return errors[0].message


def refused_reading(monkeypatch, path, limit: int = 4 * 1024 * 1024) -> str:
    """The error, with pandas never asked to parse and the process never holding ``limit`` bytes."""
    import pandas as pd

    def no_parse(*a, **k):
        raise AssertionError("pandas was asked to parse a refused input")

    monkeypatch.setattr(pd, "read_csv", no_parse)
    tracemalloc.start()
    try:
        message = only_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit
    return message


def test_a_million_columns_is_refused_before_parsing(tmp_path, monkeypatch):
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\nloss\n")
    message = refused_reading(monkeypatch, f)
    assert message == "the first line is longer than 1 MiB (no line break): not a loss log header"


def test_more_columns_than_the_cap_is_refused_before_parsing(tmp_path, monkeypatch):
    f = tmp_path / "repeated.csv"  # 250 KB of one repeated name: pandas de-duplicated it for 23 s
    n = MAX_COLUMNS * 5
    f.write_text(",".join(["loss"] * n) + "\n" + ",".join(["1"] * n) + "\n")
    assert len(f.read_bytes().split(b"\n")[0]) < MAX_HEADER_BYTES
    message = refused_reading(monkeypatch, f)
    assert message == f"{n:,} columns, more than the {MAX_COLUMNS:,} a loss log could have; refusing to read it"


def test_a_50_mb_file_without_a_line_break_is_refused_before_parsing(tmp_path, monkeypatch):
    f = tmp_path / "one_line.csv"
    with f.open("w") as fh:
        for _ in range(50):
            fh.write("loss," * 200_000)
    message = refused_reading(monkeypatch, f)
    assert message == "the first line is longer than 1 MiB (no line break): not a loss log header"


def test_json_with_more_keys_than_the_cap(tmp_path):
    f = tmp_path / "wide.json"
    f.write_text(json.dumps({f"k{i}": [1.0, 2.0] for i in range(MAX_COLUMNS + 1)}))
    message = f"{MAX_COLUMNS + 1:,} columns, more than the 10,000 a loss log could have; refusing to read it"
    assert only_error(f) == message


class Endless(io.RawIOBase):
    """``/dev/zero``, counting what was read from it."""

    def __init__(self, byte: bytes = b"\x00") -> None:
        self.byte = byte
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        buf[:] = self.byte * len(buf)
        self.served += len(buf)
        return len(buf)


def test_dev_zero_on_stdin_is_refused_after_the_first_chunk(monkeypatch):
    stream = Endless()
    monkeypatch.setattr(source.sys, "stdin", io.TextIOWrapper(io.BufferedReader(stream)))
    with pytest.raises(source.LossdocError, match="only zero bytes"):
        source.open_input("-")
    assert stream.served <= 2 * source.READ_CHUNK


def test_an_endless_text_stream_is_refused_once_it_passes_the_limit(monkeypatch):
    monkeypatch.setattr(source, "MAX_DECOMPRESSED_BYTES", 8 * 1024 * 1024)
    stream = Endless(b"1")
    monkeypatch.setattr(source.sys, "stdin", io.TextIOWrapper(io.BufferedReader(stream)))
    with pytest.raises(source.LossdocError, match="standard input is larger than 8 MiB"):
        source.open_input("-")
    assert stream.served <= 8 * 1024 * 1024 + 2 * source.READ_CHUNK


def test_a_gzip_bomb_of_zeros_behind_a_header_is_refused_within_a_few_megabytes(tmp_path):
    f = tmp_path / "bomb.csv.gz"
    with gzip.open(f, "wb") as fh:
        fh.write(b"epoch,loss\n")
        for _ in range(64):
            fh.write(b"\x00" * 1024 * 1024)
    tracemalloc.start()
    try:
        message = only_error(f)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == "gzip data holds over 1 MiB of zero bytes: not a text loss log"
    assert peak < 16 * 1024 * 1024


def test_the_size_limit_is_a_setting_and_an_option(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("epoch,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(20_000)))
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text('[tool.lossdoc]\nmax-input-size = "100 KiB"\n')
    res = runner.invoke(app, ["analyze", str(log), "--config", str(tmp_path / "pyproject.toml")])
    assert res.exit_code == 2
    assert res.stderr == f"lossdoc: {log}: file is larger than 100 KiB; refusing to read it\n"
    res = runner.invoke(app, ["analyze", str(log), "--max-input-size", "2MiB", "--format", "json"])
    assert res.exit_code == 0 and res.stderr == ""
    res = runner.invoke(app, ["analyze", str(log), "--max-input-size", "lots"])
    assert res.exit_code == 2
    assert res.stderr == "lossdoc: --max-input-size: must be a size in bytes or like '2 GiB', not 'lots'\n"


@pytest.fixture(autouse=True)
def _restore_limit():
    before = source.MAX_DECOMPRESSED_BYTES
    yield
    source.set_max_input_bytes(before)


def test_the_default_limit_is_below_what_a_ci_runner_holds():
    assert source.DEFAULT_MAX_INPUT_BYTES <= 1024**3
    assert source.parse_size("2 GiB") == 2 * 1024**3 and source.parse_size(4096) == 4096
