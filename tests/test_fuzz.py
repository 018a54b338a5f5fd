"""Fuzzing every reader and the command line with hostile input (hypothesis).

The property, for any bytes in any file: lossdoc either reports the file's runs, or names the file
and the problem in exactly one error — never an uncaught exception, never an "internal error",
never a hang. Examples are bounded for CI (``LOSSDOC_FUZZ_EXAMPLES`` raises them for a deeper run).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import zlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits import time_limit
from typer.testing import CliRunner

from lossdoc.analysis import analyze
from lossdoc.cli import app
from lossdoc.ingest import load_paths

EXAMPLES = int(os.environ.get("LOSSDOC_FUZZ_EXAMPLES", "80"))
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,  # wall time is bounded by time_limit below, generously, so CI noise cannot fail it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
runner = CliRunner()
WORK = Path(tempfile.mkdtemp(prefix="lossdoc-fuzz-"))
SUFFIXES = (".csv", ".tsv", ".txt", ".log", ".json", ".jsonl", ".csv.gz")


def write(data: bytes, suffix: str) -> Path:
    path = WORK / f"log{suffix}"
    path.write_bytes(data)
    return path


def assert_report_or_one_error(data: bytes, suffix: str = ".csv") -> None:
    """The property: runs and no error, or no run and one error naming this file."""
    path = write(data, suffix)
    with time_limit(30):
        runs, errors = load_paths([str(path)])
        for run in runs:
            analyze(run)  # a rule's exception on an odd-but-valid series must surface here, unmasked
    if errors:
        assert runs == [], (runs, errors)
        assert len(errors) == 1, errors
        (e,) = errors
        assert e.source == str(path)
        assert e.message.strip() and "internal error" not in e.message, e.message
    else:
        assert runs, "no run and no error"


# ---------------------------------------------------------------------------------------------------
# Valid logs of each format, to truncate, damage and re-encode.


def _curve(n: int = 24) -> list[tuple[int, float, float]]:
    return [(i, round(2.0 * 0.85**i + 0.1, 6), round(2.1 * 0.87**i + 0.15, 6)) for i in range(n)]


def _lines(rows: list[str]) -> bytes:
    return ("\n".join(rows) + "\n").encode()


SAMPLES: dict[str, tuple[bytes, str]] = {
    "keras_csv": (_lines(["epoch,loss,val_loss"] + [f"{e},{a},{b}" for e, a, b in _curve()]), ".csv"),
    "tsv": (_lines(["step\ttrain_loss\tval_loss"] + [f"{e}\t{a}\t{b}" for e, a, b in _curve()]), ".tsv"),
    "semicolon": (_lines(["step;loss"] + [f"{e};{a}" for e, a, _ in _curve()]), ".csv"),
    "yolo_spaces": (
        _lines(
            ["      epoch,  train/box_loss,    val/box_loss"] + [f"{e:>12},{a:>16},{b:>16}" for e, a, b in _curve()]
        ),
        ".csv",
    ),
    "whitespace": (_lines(["step loss"] + [f"{e} {a}" for e, a, _ in _curve()]), ".txt"),
    "lightning_sparse": (
        _lines(
            ["epoch,step,train_loss,val_loss"] + [f"0,{e},{a}," if e % 4 else f"0,{e},,{b}" for e, a, b in _curve()]
        ),
        ".csv",
    ),
    "tb_csv": (_lines(["Wall time,Step,Value"] + [f"{1.7e9 + e},{e * 10},{a}" for e, a, _ in _curve()]), ".csv"),
    "jsonl": (b"".join(json.dumps({"step": e, "loss": a}).encode() + b"\n" for e, a, _ in _curve()), ".jsonl"),
    "json_history": (
        json.dumps({"loss": [a for _, a, _ in _curve()], "val_loss": [b for *_, b in _curve()]}).encode(),
        ".json",
    ),
    "json_records": (json.dumps([{"epoch": e, "loss": a} for e, a, _ in _curve()]).encode(), ".json"),
    "hf_trainer_state": (
        json.dumps(
            {"log_history": [{"step": e * 10, "loss": a} for e, a, _ in _curve()] + [{"step": 240, "eval_loss": 0.3}]},
            indent=2,
        ).encode(),
        ".json",
    ),
    "xgboost": (json.dumps({"validation_0": {"logloss": [a for _, a, _ in _curve()]}}).encode(), ".json"),
}
SAMPLES["gzip_csv"] = (gzip.compress(SAMPLES["keras_csv"][0], mtime=0), ".csv.gz")
SAMPLES["mlflow_metric"] = (_lines([f"{1795712325178 + 30 * e} {a} {e}" for e, a, _ in _curve()]), "")
sample_names = st.sampled_from(sorted(SAMPLES))
SPECIAL = [
    b"\x00",
    b"\r",
    b"\n",
    b"\r\n",
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b",",
    b'"',
    b"{",
    b"}",
    b"[",
    b"nan",
    b"-",
]


# ---------------------------------------------------------------------------------------------------
# Readers.


@fuzz
@given(st.binary(max_size=3000), st.sampled_from(SUFFIXES))
def test_random_bytes(data, suffix):
    assert_report_or_one_error(data, suffix)


@fuzz
@given(sample_names, st.floats(0, 1))
def test_every_format_truncated_at_any_point(name, where):
    data, suffix = SAMPLES[name]
    assert_report_or_one_error(data[: int(len(data) * where)], suffix)


@fuzz
@given(
    sample_names,
    st.lists(st.tuples(st.floats(0, 1), st.sampled_from(SPECIAL), st.booleans()), min_size=1, max_size=6),
)
def test_every_format_with_damaged_bytes(name, edits):
    data, suffix = SAMPLES[name]
    for where, chunk, replace in edits:
        i = int(len(data) * where)
        data = data[:i] + chunk + data[i + len(chunk) if replace else i :]
    assert_report_or_one_error(data, suffix)


KEYS = st.sampled_from(["loss", "val_loss", "eval_loss", "step", "epoch", "lr", "log_history", "train/loss"]) | st.text(
    max_size=6
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["NaN", "Infinity", "-inf", "", "null", "1e999"]),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=60,
)


@fuzz
@given(JSON_VALUES, st.sampled_from([".json", ".jsonl"]), st.integers(1, 3))
def test_json_of_wrong_types_and_shapes(value, suffix, lines):
    text = json.dumps(value)
    data = ((text + "\n") * lines).encode() if suffix == ".jsonl" else text.encode()
    assert_report_or_one_error(data, suffix)


@fuzz
@given(st.integers(1, 3000), st.sampled_from(["[", '{"loss": ', '[{"a": ']), st.booleans())
def test_deeply_nested_json(depth, opener, closed):
    closer = {"[": "]", '{"loss": ': "}", '[{"a": ': "}]"}[opener]
    text = opener * depth + "1" + (closer * depth if closed else "")
    assert_report_or_one_error(text.encode(), ".json")


NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e308, -1e308, 5e-324, 1e-300, 1e300, 1e-8, 1.0]
)
CELLS = NUMBERS.map(repr) | st.sampled_from(["", "nan", "NaN", "inf", "-Infinity", "NA", "null", "-", "1e999", " 1.5 "])


@fuzz
@given(
    st.lists(
        st.sampled_from(["epoch", "step", "loss", "val_loss", "lr", "loss", "acc", "train/loss"]),
        min_size=1,
        max_size=5,
    ),
    st.integers(1, 60),
    st.data(),
)
def test_csv_numbers_extremes_nan_one_row_and_duplicate_names(header, n_rows, data):
    rows = [",".join(data.draw(st.lists(CELLS, min_size=len(header), max_size=len(header)))) for _ in range(n_rows)]
    if data.draw(st.booleans()):  # an all-NaN column
        col = data.draw(st.integers(0, len(header) - 1))
        rows = [",".join("nan" if i == col else c for i, c in enumerate(r.split(","))) for r in rows]
    assert_report_or_one_error(_lines([",".join(header), *rows]), ".csv")


@fuzz
@given(
    sample_names.filter(lambda n: not n.startswith(("gzip", "json", "hf", "xgb"))),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252"]),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.booleans(),
)
def test_encodings_line_endings_and_gzip(name, encoding, newline, zipped, drop_last_newline):
    text = SAMPLES[name][0].decode().replace("\n", newline)
    if drop_last_newline:
        text = text.rstrip(newline)
    data = text.encode(encoding)
    assert_report_or_one_error(gzip.compress(data) if zipped else data, ".csv.gz" if zipped else ".csv")


@fuzz
@given(st.floats(0, 1), st.integers(0, 255), st.booleans())
def test_damaged_gzip(where, xor, cut):
    data = bytearray(SAMPLES["gzip_csv"][0])
    i = min(int(len(data) * where), len(data) - 1)
    if cut:
        data = data[:i]
    else:
        data[i] ^= xor
    assert_report_or_one_error(bytes(data), ".csv.gz")


def test_gzip_that_expands_enormously_within_the_cap_is_bounded(monkeypatch):
    from lossdoc.ingest import source

    monkeypatch.setattr(source, "MAX_DECOMPRESSED_BYTES", 256 * 1024)
    bomb = zlib.compress(b"0" * (64 * 1024 * 1024), 9, wbits=31)  # 64 MiB in ~64 KiB
    path = write(bomb, ".csv.gz")
    with time_limit(30):
        runs, errors = load_paths([str(path)])
    assert runs == [] and [e.message for e in errors] == ["gzip data expands beyond 256 KiB; refusing to read it"]


# ---------------------------------------------------------------------------------------------------
# The command line: a valid JSON report always; exit 2 with one stderr line per bad file.

ERROR_LINE = re.compile(r"lossdoc: (?P<source>.+?): (?P<message>.+)")


def check_cli(paths: list[Path], extra: list[str]) -> None:
    with time_limit(60):
        res = runner.invoke(app, ["analyze", *map(str, paths), "--format", "json", *extra])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert res.exit_code in (0, 1, 2)
    doc = json.loads(res.stdout)
    lines = res.stderr.splitlines()
    assert len(lines) == len(doc["errors"])
    for line, err in zip(lines, doc["errors"], strict=True):
        m = ERROR_LINE.fullmatch(line)
        assert m and m["source"] == err["source"], line
        assert "internal error" not in line
    if doc["errors"]:
        assert res.exit_code == 2
    else:
        assert doc["runs"] and res.exit_code in (0, 1)


@fuzz
@given(
    st.lists(
        st.tuples(sample_names, st.floats(0, 1), st.lists(st.tuples(st.floats(0, 1), st.sampled_from(SPECIAL)))),
        min_size=1,
        max_size=4,
    )
)
def test_cli_over_several_damaged_files(files):
    paths = []
    for k, (name, cut, inserts) in enumerate(files):
        data, suffix = SAMPLES[name]
        data = data[: max(1, int(len(data) * cut))] if cut < 0.5 else data
        for where, chunk in inserts:
            i = int(len(data) * where)
            data = data[:i] + chunk + data[i:]
        path = WORK / f"cli_{k}{suffix}"
        path.write_bytes(data)
        paths.append(path)
    check_cli(paths, ["--fail-on", "warning"])


NAMES = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=12).filter(
    lambda s: "," not in s and '"' not in s and "\n" not in s and "\r" not in s and s.strip() == s
)


@fuzz
@given(NAMES, NAMES, st.sampled_from(["table", "json"]))
def test_cli_column_names_are_data_not_markup(extra_name, loss_suffix, fmt):
    # "[/red]" in a column name once crashed the terminal report (rich markup).
    header = f"epoch,loss{loss_suffix},{extra_name}"
    rows = [f"{e},{a},{b}" for e, a, b in _curve(12)]
    path = write(_lines([header, *rows]), ".csv")
    with time_limit(60):
        res = runner.invoke(app, ["analyze", str(path), "--format", fmt, "--fail-on", "never"])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 2)
    assert len(res.stderr.splitlines()) == (res.exit_code == 2)


@settings(max_examples=max(10, EXAMPLES // 8), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(NUMBERS, min_size=1, max_size=40),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=40),
)
def test_cli_plots_extreme_values(losses, xs):
    n = min(len(losses), len(xs))
    rows = [f"{x!r},{v!r}" for x, v in zip(xs[:n], losses[:n], strict=True)]
    path = write(_lines(["step,loss", *rows]), ".csv")
    plots = WORK / "plots"
    check_cli([path], ["--plot", str(plots), "--fail-on", "never"])
    assert all(p.parent == plots for p in plots.glob("**/*") if p.is_file())


EVENTS = Path(__file__).parent / "fixtures" / "formats" / "tensorboard" / "torch_summarywriter"


@fuzz
@given(st.floats(0, 1), st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4), st.booleans())
def test_damaged_tensorboard_event_file(cut, flips, as_folder):
    (real,) = EVENTS.glob("events.out.tfevents.*")
    data = bytearray(real.read_bytes())
    data = data[: int(len(data) * cut)] if cut < 0.7 else data  # a writer killed mid-record
    for where, xor in flips:
        if data:
            data[min(int(len(data) * where), len(data) - 1)] ^= xor
    folder = WORK / "tb"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    path = folder / real.name
    path.write_bytes(bytes(data))
    target = folder if as_folder else path
    with time_limit(30):
        runs, errors = load_paths([str(target)])
        for run in runs:
            analyze(run)
    assert bool(runs) != bool(errors), (runs, errors)
    assert all("internal error" not in e.message for e in errors)
