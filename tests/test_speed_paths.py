"""The fast paths give what the slow paths give.

The small-file CSV reader (no pandas), the bisected early-stopping search, the row medians and the
process pool are there for speed only: each is checked here against the code path it shortcuts.
Nothing here is timed; benchmarks/speed.py measures the speed.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lossdoc.advice import recommend
from lossdoc.analysis import kernels
from lossdoc.analysis.kernels import (
    fitted_flat,
    flat_stretches,
    median,
    percentile,
    prefix_medians,
    ranges_at,
    row_medians,
    row_quantiles,
    sliding_quantile,
    trend_range,
)
from lossdoc.batch import guided_chunks
from lossdoc.cli import app
from lossdoc.errors import LossdocError
from lossdoc.ingest.delimited import read_frame, read_frame_pandas, sniff_delimiter
from lossdoc.ingest.frame import Frame
from lossdoc.ingest.plain_csv import read_small_frame
from lossdoc.ingest.source import RawInput, open_input

runner = CliRunner()


# --- start-up -------------------------------------------------------------------------------------


def _modules_after(args: list[str], cwd: Path) -> set[str]:
    code = (
        "import sys\n"
        "from lossdoc.cli import app\n"
        f"sys.argv = ['lossdoc', *{args!r}]\n"
        "try:\n"
        "    app()\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    return set(out.stderr.rsplit("MODULES ", 1)[1].split())


def test_help_imports_neither_pandas_nor_matplotlib(tmp_path: Path) -> None:
    loaded = _modules_after(["--help"], tmp_path)
    assert "typer" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("pandas", "matplotlib", "numpy")}


def test_small_csv_is_analysed_without_pandas_or_pydantic(tmp_path: Path) -> None:
    log = tmp_path / "run.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{1 / (i + 1):.4f},{1.2 / (i + 1):.4f}\n" for i in range(30)))
    loaded = _modules_after(["analyze", str(log), "--format", "json"], tmp_path)
    assert "lossdoc.analysis" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("pandas", "matplotlib", "pydantic")}
    assert "lossdoc.ingest.console_styles" not in loaded  # a plain table skips the console styles


@pytest.mark.parametrize(
    ("head", "table"),
    [
        ("epoch,loss,val_loss\n0,0.5,0.6\n1,0.4,nan\n2,,0.5\n", True),
        ("step;loss\n1;1e-3\n2;-Inf\n", True),
        ("  epoch,  train/box_loss\n      0,  5.75\n      1,  5.74\n", True),  # Ultralytics' padding
        ("epoch,loss\n0,0.5\n1,0.4\n2,0.3", True),  # the sniff window cut the last line
        ("epoch,loss,time\n0,0.5,2024-01-01\n", False),  # a cell that is not a number: read as before
        ("epoch,loss\n0,0.5,7\n", False),  # rows of another width
        ("step 1 loss 0.5\nstep 2 loss 0.4\n", False),  # white space: console output looks the same
        ("Epoch 1/3\n10/10 - loss: 0.5 - val_loss: 0.6\n", False),
        ("{'loss': 0.5, 'epoch': 1.0}\n", False),
        ("loss\n", False),
    ],
)
def test_a_plain_table_is_told_from_console_output_without_the_styles(head: str, table: bool) -> None:
    from lossdoc.ingest.console import is_console, is_table

    assert is_table(head) is table
    if table:
        assert not is_console(head)


# --- small-file reader vs pandas ------------------------------------------------------------------

TOKENS = [
    "0",
    "1",
    "12",
    "-3",
    "+4",
    "0.5",
    ".25",
    "5.",
    "1e-3",
    "2.5E+02",
    "1e400",
    "-1e400",
    "1e-400",
    "0.30000000000000004",
    "123456789012345",
    "3.14159265358979",
    "",
    "NA",
    "N/A",
    "null",
    "None",
    "-",
    "--",
    "nan",
    "NaN",
    "-nan",
    "nan(ind)",
    "inf",
    "-inf",
    "Infinity",
    "INF",
    "+inf",
    " 7",
    "8 ",
    " NA",
    "abc",
    "loss",
    "1e-",
    "1.2.3",
    "0x10",
    "1_000",
    "True",
    "-0",
    "-0.0",
    '"9"',
    "12345678901234567890123",
]
PLAIN = ["0", "1", "0.5", "1e-3", "", "NA", "-3", "2.5E+02", "nan", "inf", "-inf"]


def _random_csv(rng: random.Random) -> str:
    delim = rng.choice([",", ",", "\t", ";", "|"])
    ncol = rng.randint(1, 5)
    names = [rng.choice(["epoch", "step", "loss", "val_loss", "lr", "acc", "train/loss", ""]) for _ in range(ncol)]
    if rng.random() < 0.7:
        names = [n or f"c{i}" for i, n in enumerate(names)]
        names = [n if names.index(n) == i else f"{n}{i}" for i, n in enumerate(names)]
    tokens = PLAIN if rng.random() < 0.6 else TOKENS
    lines = [delim.join(names)]
    for _ in range(rng.randint(0, 40)):
        width = ncol if rng.random() < 0.98 else rng.randint(1, ncol + 2)
        lines.append(delim.join(rng.choice(tokens) for _ in range(width)))
        if rng.random() < 0.03:
            lines.append(rng.choice(["", "   ", delim.join(names), "<<<<<<< HEAD"]))
    newline = rng.choice(["\n", "\n", "\r\n"])
    text = newline.join(lines)
    if rng.random() < 0.8:
        text += newline
    if rng.random() < 0.1:
        text = "\ufeff" + text
    return text


def _same_frames(a: Frame, b: Frame) -> None:
    assert a.names == b.names
    for name in a.names:
        ca, cb = a.columns[name], b.columns[name]
        assert np.array_equal(ca.values, cb.values, equal_nan=True), name
        assert np.array_equal(np.signbit(ca.values), np.signbit(cb.values)), name
        assert np.array_equal(ca.present, cb.present), name
    assert a.text_cells == b.text_cells
    assert a.notes == b.notes


def _pandas_result(raw: RawInput, delim: str) -> Frame | str:
    try:
        return read_frame_pandas(raw, delim)
    except LossdocError as exc:
        return exc.message


@pytest.mark.parametrize("seed", range(8))
def test_small_reader_matches_pandas_on_random_csv(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    read_small = 0
    for i in range(150):
        text = _random_csv(rng)
        path = tmp_path / f"log{i}.csv"
        path.write_bytes(text.encode("utf-8"))
        for raw in (open_input(str(path)), RawInput(source="<stdin>", path=None, _data=text.encode("utf-8"))):
            delim = sniff_delimiter(raw.head_text())
            small = read_small_frame(raw, delim)
            if small is None:
                continue
            read_small += 1
            expected = _pandas_result(raw, delim)
            assert isinstance(expected, Frame), (text, expected)
            _same_frames(small, expected)
    assert read_small > 50  # the plain shape is common: the small reader must take it


def test_small_reader_takes_plain_logs_and_leaves_the_rest(tmp_path: Path) -> None:
    def small(text: str) -> Frame | None:
        path = tmp_path / "x.csv"
        path.write_text(text)
        raw = open_input(str(path))
        return read_small_frame(raw, sniff_delimiter(raw.head_text()))

    frame = small("epoch,loss,val_loss\n0,1.0,\n1,nan,0.9\n2,NA,inf\n")
    assert frame is not None
    assert frame.columns["val_loss"].present.tolist() == [False, True, True]
    assert frame.columns["loss"].present.tolist() == [True, True, False]  # nan is a value, NA a gap
    assert small("epoch,loss\n0,1.0\n1,oops\n") is None  # text in a column: pandas names the cell
    assert small("epoch,loss\n0,1.0\nepoch,loss\n1,0.9\n") is None  # a repeated header
    assert small("epoch,loss\n0,1.0\n1,0.9\n2,1e-") is None  # a cut-off last line and its note
    assert small('epoch,"loss"\n0,1.0\n') is None  # quoting
    assert small("epoch loss\n0 1.0\n") is None  # whitespace-separated
    assert small("epoch,loss,loss\n0,1.0,2.0\n") is None  # pandas renames duplicates


def test_large_files_go_to_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lossdoc.ingest.plain_csv as plain_csv

    path = tmp_path / "run.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(200)))
    raw = open_input(str(path))
    assert read_small_frame(raw, ",") is not None
    monkeypatch.setattr(plain_csv, "SMALL_FILE_BYTES", 100)
    assert read_small_frame(raw, ",") is None
    _same_frames(read_frame(raw), read_frame_pandas(raw, ","))


def test_pandas_skips_lines_with_extra_fields_reading_clean_files_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pandas as pd

    modes: list[str] = []
    read_csv = pd.read_csv
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: modes.append(k["on_bad_lines"]) or read_csv(*a, **k))
    clean, bad = tmp_path / "clean.csv", tmp_path / "bad.csv"
    clean.write_text("step,loss\n0,1.0\n1,0.5\n2,0.25\n")
    bad.write_text("step,loss\n0,1.0\n1,0.5,oops\n2,0.25\n")
    assert read_frame_pandas(open_input(str(clean)), ",").columns["loss"].values.tolist() == [1.0, 0.5, 0.25]
    assert modes == ["error"]
    modes.clear()
    frame = read_frame_pandas(open_input(str(bad)), ",")
    assert modes == ["error", "skip"]
    assert frame.columns["step"].values.tolist() == [0.0, 2.0]
    assert frame.columns["loss"].values.tolist() == [1.0, 0.25]


# --- advice and smoothing shortcuts ---------------------------------------------------------------


@pytest.mark.parametrize("framework", ["keras", "lightning", "huggingface"])
def test_bisected_patience_matches_trying_every_patience(framework: str) -> None:
    rng = np.random.default_rng(3)
    stop = recommend.stopper_for(framework)
    for _ in range(200):
        n = int(rng.integers(3, 80))
        values = np.exp(-np.linspace(0, rng.uniform(0, 3), n)) + rng.normal(0, rng.uniform(0, 0.1), n)
        values = np.round(values, int(rng.integers(1, 4)))
        best = int(np.argmin(values))
        checks = values.tolist()
        for d in (0.0, 0.01, 0.05):
            top = int(rng.integers(1, 100))
            linear = next((p for p in range(1, top + 1) if recommend._safe(stop(checks, p, d), best)), None)
            assert recommend.smallest_safe_patience(stop, checks, d, best, top) == linear


def test_row_medians_and_quantiles_equal_numpy() -> None:
    rng = np.random.default_rng(5)
    for _ in range(500):
        rows, cols = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        a = np.round(rng.normal(size=(rows, cols)), int(rng.integers(0, 3)))
        for value in (np.nan, np.inf, -np.inf):
            a[rng.random((rows, cols)) < 0.05] = value
        with np.errstate(invalid="ignore"):  # inf - inf in a middle pair, as numpy meets it too
            assert np.array_equal(row_medians(a), np.median(a, axis=1), equal_nan=True)
            for q in (75.0, 25.0, 90.0, 10.0, 50.0, 100.0, 0.0):
                assert np.array_equal(row_quantiles(a, q), np.percentile(a, q, axis=1), equal_nan=True)


def test_percentile_of_one_array_equals_numpy_percentile() -> None:
    rng = np.random.default_rng(41)
    for size in [1, 2, 3, 10, 11, 1000, 1001]:
        a = np.round(rng.normal(size=size), int(rng.integers(0, 3)))
        for q in (25, 50, 75, 90):
            assert percentile(a, q) == np.percentile(a, q)
        a[rng.integers(size)] = np.nan
        assert np.isnan(percentile(a, 75))


def test_median_of_one_array_equals_numpy_median() -> None:
    rng = np.random.default_rng(9)
    for size in [1, 2, 3, 10, 11, 1000, 1001]:
        a = np.round(rng.normal(size=size), int(rng.integers(0, 3)))
        assert median(a) == np.median(a)
        a[rng.integers(size)] = np.nan
        assert np.isnan(median(a))
    assert np.isnan(median(np.array([])))
    assert median(np.float64(2.5)) == np.median(np.float64(2.5))  # a 0-d array: its one value
    square = rng.normal(size=(7, 6))
    assert median(square) == np.median(square)  # no axis: every value


@pytest.mark.parametrize("path", ["partition", "skiplist"])
def test_sliding_quantiles_equal_numpy_on_both_paths(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running medians and 75th percentiles, by partitions or by pandas' skiplist, are np.median's and
    np.percentile's bit for bit: odd and even windows, ties, every fractional index numpy interpolates at."""
    big = 10**18
    monkeypatch.setattr(kernels, "SKIPLIST_WORK_LOADED", big if path == "partition" else 0)
    monkeypatch.setattr(kernels, "SKIPLIST_WORK", big if path == "partition" else 0)
    rng = np.random.default_rng(17)
    for trial in range(300):
        n = int(rng.integers(1, 400))
        w = int(rng.integers(1, n + 1))
        y = rng.lognormal(0, 2, n) if trial % 3 else np.round(rng.normal(size=n), 1)  # ties
        view = np.lib.stride_tricks.sliding_window_view(y, w)
        assert np.array_equal(sliding_quantile(y, w, 50.0), np.median(view, axis=1))
        for q in (75.0, 25.0, 90.0):
            assert np.array_equal(sliding_quantile(y, w, q), np.percentile(view, q, axis=1))


@pytest.mark.parametrize("path", ["loop", "skiplist"])
def test_prefix_medians_equal_numpy(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if path == "loop":
        monkeypatch.setattr(kernels, "PREFIX_SKIPLIST_MIN", 10**18)
    else:
        import pandas  # noqa: F401  (the skiplist is used once pandas is imported)

        monkeypatch.setattr(kernels, "PREFIX_SKIPLIST_MIN", 0)
    rng = np.random.default_rng(19)
    for _ in range(100):
        a = np.round(rng.normal(size=int(rng.integers(0, 300))), int(rng.integers(0, 3)))
        assert prefix_medians(a).tolist() == [np.median(a[: i + 1]) for i in range(a.size)]


def test_a_non_finite_window_keeps_numpys_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "SKIPLIST_WORK_LOADED", 0)
    monkeypatch.setattr(kernels, "SKIPLIST_WORK", 0)
    y = np.arange(50.0)
    y[[10, 30]] = [np.nan, np.inf]
    view = np.lib.stride_tricks.sliding_window_view(y, 5)
    assert np.array_equal(sliding_quantile(y, 5, 50.0), np.median(view, axis=1), equal_nan=True)


def _first_out_of_band(t: np.ndarray, tol: float) -> list[int]:
    """For each start, the first later index whose value is more than ``tol`` from the start's (or n)."""
    n = t.size
    return [next((j for j in range(a + 1, n) if abs(t[j] - t[a]) > tol), n) for a in range(n)]


def test_flat_stretches_end_where_the_trend_first_leaves_the_band() -> None:
    rng = np.random.default_rng(11)
    for trial in range(400):
        n = int(rng.integers(0, 129) if trial // 4 % 2 else rng.integers(129, 400))  # both ways of computing them
        shape = trial % 4
        if shape == 0:
            t = np.cumsum(rng.normal(size=n)) * 0.1
        elif shape == 1:
            t = rng.integers(0, 5, size=n) * 0.25  # ties exactly at the tolerance
        elif shape == 2:
            t = np.linspace(1, 0, n) ** 2
        else:
            t = np.round(rng.normal(size=n), 1)
            t[rng.random(n) < 0.05] = rng.choice([np.nan, np.inf, -np.inf])
        tol = float(rng.choice([0.0, 1e-3, 0.1, 0.25, 0.5]))
        with np.errstate(invalid="ignore"):
            assert flat_stretches(t, tol).tolist() == _first_out_of_band(t, tol)


def test_fitted_flat_gives_the_same_pairs_whatever_the_block_and_leaves_short_pairs_out() -> None:
    rng, spans = np.random.default_rng(13), np.random.default_rng(29)
    for _ in range(60):
        n = int(rng.integers(4, 200))
        x = np.sort(rng.uniform(0, 100, n))
        z = np.cumsum(rng.normal(size=n)) * rng.choice([0.001, 0.05, 1.0])
        args = (x, z, 0.02, 2.0, 0.05, 0.03)
        whole = fitted_flat(*args, block=n * n)
        assert whole.any() or n < 8
        assert np.array_equal(fitted_flat(*args, block=1), whole)
        assert np.array_equal(fitted_flat(*args), whole)
        for span in (0.0, float(spans.uniform(0, 100)), 100.0, x[-1] - x[0]):
            longer = (x[None, :] - x[:, None]) > span
            assert np.array_equal(fitted_flat(*args, min_span=span), whole & longer)
            assert np.array_equal(fitted_flat(*args, block=7, min_span=span), whole & longer)


def test_ranges_at_pairs_equal_the_whole_range_matrix() -> None:
    rng = np.random.default_rng(31)
    for trial in range(200):
        n = int(rng.integers(1, 300))
        t = np.round(rng.normal(size=n), int(rng.integers(0, 3)))
        if trial % 5 == 0:
            t[rng.random(n) < 0.05] = np.nan
        a, b = np.nonzero(np.triu(np.ones((n, n), dtype=bool)))
        with np.errstate(invalid="ignore"):
            assert np.array_equal(ranges_at(t, a, b), trend_range(t)[a, b], equal_nan=True)


# --- many logs: the process pool ------------------------------------------------------------------


def _write_runs(folder: Path, count: int) -> tuple[list[str], set[str]]:
    """``count`` small logs, every seventh without a loss column; their paths and the bad ones."""
    folder.mkdir(exist_ok=True)
    paths, bad = [], set()
    for i in range(count):
        path = folder / f"run{i:03d}.csv"
        if i % 7 == 3:
            path.write_text("epoch,accuracy\n0,0.5\n1,0.6\n")
            bad.add(str(path))
        else:
            rows = "".join(f"{e},{(i + 1) / (e + 1):.5f},{(i + 1.5) / (e + 1):.5f}\n" for e in range(12 + i % 5))
            path.write_text("epoch,loss,val_loss\n" + rows)
        paths.append(str(path))
    return paths, bad


def _json_run(args: list[str], stdin: str | None = None) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["analyze", *args, "--format", "json"], input=stdin)
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_pool_keeps_input_order_and_errors_per_file(tmp_path: Path) -> None:
    paths, bad = _write_runs(tmp_path / "runs", 40)
    missing = str(tmp_path / "missing.csv")
    args = [*paths[:5], missing, *paths[5:]]
    serial = _json_run([*args, "--jobs", "1"])
    pooled = _json_run([*args, "--jobs", "2"])
    assert pooled == serial
    code, report, stderr = pooled
    assert [r["source"] for r in report["runs"]] == [p for p in paths if p not in bad]
    assert [e["source"] for e in report["errors"]] == [p for p in args if p in bad or p == missing]
    assert code == 2
    assert stderr.count("lossdoc: ") == len(bad) + 1


def test_pool_reads_folders_and_stdin_in_order(tmp_path: Path) -> None:
    _write_runs(tmp_path / "runs", 30)
    stdin_log = "epoch,loss\n0,1.0\n1,0.5\n2,0.25\n"
    args = ["-", str(tmp_path / "runs")]
    serial = _json_run([*args, "--jobs", "1"], stdin_log)
    pooled = _json_run([*args, "--jobs", "2"], stdin_log)
    assert pooled == serial
    runs = pooled[1]["runs"]
    assert runs[0]["source"] == "<stdin>"
    assert [r["name"] for r in runs[1:]] == [f"run{i:03d}" for i in range(30) if i % 7 != 3]
    assert not pooled[1]["errors"]  # found files without a loss column are skipped, as in a serial run


@pytest.mark.parametrize(("count", "workers"), [(0, 2), (1, 2), (20, 2), (1000, 2), (1000, 8), (37, 3)])
def test_pool_chunks_cover_every_log_once_and_shrink_to_single_logs(count: int, workers: int) -> None:
    chunks = guided_chunks(list(range(count)), workers)
    assert [i for chunk in chunks for i in chunk] == list(range(count))
    sizes = [len(chunk) for chunk in chunks]
    assert all(1 <= size <= 16 for size in sizes)
    assert sizes == sorted(sizes, reverse=True)  # large first, one round trip per chunk
    assert sizes[-workers:] == [1] * min(workers, count)  # the last ones leave nobody waiting long
    if count >= 1000:
        assert len(chunks) < count / 5  # but not one round trip per log


def test_jobs_must_be_positive(tmp_path: Path) -> None:
    paths, _ = _write_runs(tmp_path, 1)
    result = runner.invoke(app, ["analyze", *paths, "--jobs", "0"])
    assert result.exit_code == 2
    assert "--jobs" in result.stderr


def test_plot_helper_draws_what_this_process_draws(tmp_path: Path) -> None:
    paths, _ = _write_runs(tmp_path / "runs", 3)
    outputs = {}
    for jobs in ("1", "2"):
        target = tmp_path / f"plots{jobs}"
        code, report, _ = _json_run([*paths, "--plot", str(target), "--jobs", jobs])
        outputs[jobs] = (code, sorted(p.name for p in target.iterdir()), report["errors"])
        assert [p.name for p in target.iterdir()] and all(p.stat().st_size for p in target.iterdir())
    assert outputs["1"] == outputs["2"]
    # An error from writing a plot comes back from the helper process too.
    log = tmp_path / "curve.png"  # a log with a plot's name, given as the plot target
    log.write_text(Path(paths[0]).read_text())
    code, report, _ = _json_run([str(log), "--plot", str(log), "--jobs", "2"])
    assert code == 2
    assert report["errors"] == [{"source": str(log), "message": "refusing to overwrite an input file with a plot"}]


def test_plot_helper_ends_when_this_process_goes_away_without_a_job() -> None:
    from lossdoc.plot.helper import PlotHelper

    helper = PlotHelper()
    process = helper.process
    helper.conn.close()  # as when this process dies: the helper's end of the pipe must see it
    helper.conn = None
    process.join(timeout=60)
    assert not process.is_alive()


def test_plot_helper_is_sent_drawings_that_draw_the_same_pixels(tmp_path: Path) -> None:
    """The helper gets each run's curves as soon as it is read and its findings once it is analysed,
    never its points: a long run with gaps, spikes and a learning rate, and panels of loss pairs,
    must still give the same files as drawing in this process."""
    rng = np.random.default_rng(3)
    n = 30_000
    loss = 2.0 * np.exp(-np.arange(n) / 6000) + 0.2 + rng.normal(0, 0.03, n)
    loss[[5000, 17000]] *= 40  # spikes
    loss[21000:21010] = np.nan
    rows = "".join(
        f"{i},{v:.6f},{v + 0.05:.6f},{1e-3 * (1 - i / n):.3g}\n" if i % 500 == 499 else f"{i},{v:.6f},,\n"
        for i, v in enumerate(loss.tolist())
    )
    logs = tmp_path / "logs"
    (logs / "yolo").mkdir(parents=True)
    (logs / "long.csv").write_text("step,loss,val_loss,lr\n" + rows)
    yolo = "".join(
        f"{e},{1.5 / e:.4f},{2.5 / e:.4f},{1.6 / e + 0.01 * e:.4f},{2.6 / e:.4f},0.01\n" for e in range(1, 31)
    )
    (logs / "yolo" / "results.csv").write_text(
        "epoch,train/box_loss,train/cls_loss,val/box_loss,val/cls_loss,lr/pg0\n" + yolo
    )
    pngs = {}
    for jobs in ("1", "2"):
        code, report, _ = _json_run([str(logs), "--plot", str(tmp_path / f"p{jobs}"), "--jobs", jobs])
        assert code in (0, 1) and not report["errors"]
        pngs[jobs] = {p.name: p.read_bytes() for p in (tmp_path / f"p{jobs}").iterdir()}
    assert sorted(pngs["1"]) == ["long.png", "yolo.png"]
    assert pngs["1"] == pngs["2"]


def test_a_fresh_plot_helper_draws_the_same_bytes_and_leaves_this_process_alone(tmp_path: Path) -> None:
    """The helper imports matplotlib itself (without the docstring tables of its artists) when it
    starts in a process that has not: its PNG must still be the one drawn in a single process."""
    log = tmp_path / "run.csv"
    rng = np.random.default_rng(4)
    loss = np.exp(-np.arange(3000) / 700) + 0.1 + rng.normal(0, 0.01, 3000)
    log.write_text("step,loss,val_loss\n" + "".join(f"{i},{v:.5f},{v + 0.02:.5f}\n" for i, v in enumerate(loss)))
    pngs = {}
    for jobs in ("1", "2"):
        target = tmp_path / f"plot{jobs}.png"
        done = subprocess.run(
            [sys.executable, "-m", "lossdoc", "analyze", str(log), "--plot", str(target), "--jobs", jobs, "-q"],
            capture_output=True,
            timeout=120,
        )
        assert done.returncode in (0, 1), done.stderr
        pngs[jobs] = target.read_bytes()
    assert pngs["1"] == pngs["2"]
    import matplotlib.artist

    from lossdoc.plot.helper import PlotHelper

    PlotHelper().close()
    assert matplotlib.artist.kwdoc.__module__ == "matplotlib.artist"


def test_console_script_flushes_output_and_keeps_the_exit_code(tmp_path: Path) -> None:
    paths, bad = _write_runs(tmp_path / "runs", 8)
    out = subprocess.run(
        [sys.executable, "-m", "lossdoc", "analyze", *paths, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2  # a file without a loss column
    assert len(json.loads(out.stdout)["runs"]) == len(paths) - len(bad)
    assert out.stderr.count("no column looks like a loss") == len(bad)


def test_json_columns_read_as_the_item_by_item_reader_reads_them() -> None:
    from lossdoc.ingest.frame import column_from_objects
    from lossdoc.ingest.jsonlike import json_column

    rng = np.random.default_rng(23)
    pool: list[object] = [None, 0, -3, 2**60, 10**400, 1.5, float("nan"), float("inf"), True, "NaN", "0.25", "x", [1]]
    for trial in range(300):
        kinds = pool[:8] if trial % 2 else pool
        items = [kinds[int(i)] for i in rng.integers(0, len(kinds), int(rng.integers(0, 40)))]
        (fast, fast_bad), (slow, slow_bad) = json_column(items), column_from_objects(items)
        assert np.array_equal(fast.values, slow.values, equal_nan=True)
        assert np.array_equal(fast.present, slow.present)
        assert fast_bad == slow_bad


def test_jsonl_lines_the_fast_scanner_cannot_take_are_read_line_by_line(tmp_path: Path) -> None:
    """Nested records, a number too long for a float, a trailing comment-like tail and a cut-off last
    line: each read (or refused) as json.loads reads a line."""
    from lossdoc.ingest import read_one

    log = tmp_path / "run.jsonl"
    rows = [json.dumps({"step": i, "loss": 1.0 / (i + 1), "eval": {"loss": 2.0 / (i + 1)}}) for i in range(20)]
    log.write_text("\n".join(rows) + '\n{"step": 20, "loss": 1' + "0" * 400 + "}\n" + '{"step": 21, "lo')
    (run,) = read_one(str(log))
    assert any("incomplete last line" in n for n in run.notes)
    assert any("digits" in n for n in run.notes)
    assert run.val is not None and run.val.name == "eval/loss"
    assert run.train is not None and np.isinf(run.train.y[-1]) and run.train.y.size == 21
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 1, "loss": 1.0} {"step": 2}\n{"step": 3, "loss": 0.5}\n')
    with pytest.raises(LossdocError, match="line 1"):
        read_one(str(bad))


def test_the_command_line_runs_one_blas_thread_unless_the_user_chose() -> None:
    from lossdoc.cli import BLAS_THREADS, one_blas_thread

    env = {"OMP_NUM_THREADS": "4"}
    one_blas_thread(env)
    assert env == {**dict.fromkeys(BLAS_THREADS, "1"), "OMP_NUM_THREADS": "4"}
    code = "import sys, lossdoc.cli; print('numpy' in sys.modules)"  # so main() sets them before numpy starts BLAS
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("n", [3, 4, 9, 10, 57])
@pytest.mark.parametrize("window", [1, 3, 5, 9, 61])
def test_window_span_names_every_value_a_running_median_takes(n, window):
    # changing any value outside the span leaves the k-th running median as it was
    rng = np.random.default_rng(n * 100 + window)
    y = rng.normal(size=n)
    for k in range(n):
        lo, hi = kernels.window_span(n, window, k)
        assert 0 <= lo <= k < hi <= n
        other = y.copy()
        other[:lo] = rng.normal(size=lo) * 1e6
        other[hi:] = rng.normal(size=n - hi) * 1e6
        assert kernels.rolling_median(other, window)[k] == kernels.rolling_median(y, window)[k]
        # and no wider: the running minimum and maximum at k see the span's first and last values
        edge = y.copy()
        edge[lo], edge[hi - 1] = (-1e6, 1e6) if hi - 1 > lo else (-1e6, -1e6)
        assert kernels.rolling_quantile(edge, window, 0.0)[k] == -1e6
        if hi - 1 > lo:
            assert kernels.rolling_quantile(edge, window, 100.0)[k] == 1e6
