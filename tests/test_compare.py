"""lossdoc compare on synthetic curves: alignment, deltas, time to target, departure, the gate."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from curves import decay, history, u_shape
from typer.testing import CliRunner

from lossdoc.analysis import analyze
from lossdoc.cli import app
from lossdoc.compare.align import align
from lossdoc.compare.gate import Gate
from lossdoc.compare.metrics import compare
from lossdoc.history import Series

runner = CliRunner()


def write(path: Path, x: np.ndarray, train: np.ndarray, val: np.ndarray | None = None) -> Path:
    head = "epoch,loss" + (",val_loss" if val is not None else "")
    rows = [
        f"{xi:g},{t:.6g}" + (f",{v:.6g}" if val is not None else "")
        for xi, t, v in zip(x, train, val if val is not None else train, strict=True)
    ]
    path.write_text(head + "\n" + "\n".join(rows) + "\n")
    return path


def pair_of(base_y: np.ndarray, cand_y: np.ndarray, x: np.ndarray | None = None, cand_x: np.ndarray | None = None):
    x = np.arange(base_y.size, dtype=float) if x is None else x
    cx = x if cand_x is None else cand_x
    base = analyze(history((x, base_y * 0.9), (x, base_y), name="base"))
    cand = analyze(history((cx, cand_y * 0.9), (cx, cand_y), name="cand"))
    return base, cand


def test_identical_runs_pass_and_never_part() -> None:
    _, y = decay(100, noise=0.03, seed=1)
    c = compare(*pair_of(y, y))
    assert c.deltas["best_val"].relative == 0
    assert c.departures == {"train": None, "val": None}
    assert Gate().check(c) == []


def test_another_seed_stays_inside_the_noise_band() -> None:
    _, a = decay(200, noise=0.05, seed=1)
    _, b = decay(200, noise=0.05, seed=2)
    c = compare(*pair_of(a, b))
    assert c.departures["val"] is None


def test_departure_is_the_first_x_the_candidate_leaves_the_band_and_its_direction() -> None:
    _, y = decay(200, noise=0.02, seed=1)
    worse = np.where(np.arange(200) >= 120, y * 1.3, y)
    dep = compare(*pair_of(y, worse)).departures["val"]
    assert dep is not None and dep.direction == "above"
    assert 115 <= dep.x <= 125
    better = np.where(np.arange(200) >= 80, y * 0.7, y)
    dep = compare(*pair_of(y, better)).departures["val"]
    assert dep is not None and dep.direction == "below" and 75 <= dep.x <= 85


def test_deltas_are_absolute_and_relative() -> None:
    _, y = decay(100, start=2.0, floor=0.5)
    c = compare(*pair_of(y, y * 1.2))
    d = c.deltas["best_val"]
    assert d.baseline is not None and d.candidate is not None
    assert abs(d.relative - 0.2) < 1e-3
    assert abs(d.absolute - 0.2 * d.baseline) < 1e-6
    assert abs(c.deltas["final_train"].relative - 0.2) < 1e-3


def test_a_run_twice_as_slow_reaches_the_baseline_best_at_twice_the_steps() -> None:
    x = np.arange(1, 201, dtype=float)
    y = 0.2 + 2.0 * np.exp(-x / 20)
    long_x = np.arange(1, 401, dtype=float)
    slow = 0.2 + 2.0 * np.exp(-long_x / 40)
    r = compare(*pair_of(y, slow, x, long_x)).reach
    assert r is not None and r.baseline_x is not None and r.candidate_x is not None
    assert 0.4 < r.speedup < 0.6
    r = compare(*pair_of(y, slow, x, long_x), target=0.5).reach
    assert r is not None and r.explicit and r.target == 0.5
    assert abs(r.baseline_x - 20 * np.log(2 / 0.3)) <= 2 and abs(r.candidate_x - 40 * np.log(2 / 0.3)) <= 2


def test_different_cadences_are_interpolated_and_different_ranges_said() -> None:
    x = np.arange(0, 1000, 10, dtype=float)
    y = 0.2 + 2.0 * np.exp(-x / 200)
    cx = np.arange(3, 2000, 25, dtype=float)
    cy = 0.2 + 2.0 * np.exp(-cx / 200)
    c = compare(*pair_of(y, cy, x, cx))
    assert any("interpolated" in n for n in c.notes)
    assert any("x ranges differ" in n and "compared on 3–990" in n for n in c.notes)
    assert c.departures["val"] is None
    a = align(Series("v", "val", x, y), Series("v", "val", cx, cy))
    assert a is not None and a.x.min() == 3 and a.x.max() == 978 and a.x.size == 40  # the sparser run's x


def test_a_finding_only_the_candidate_has_is_new_and_gates_at_its_severity() -> None:
    x, train = decay(60, noise=0.01)
    base = analyze(history((x, train), decay(60, noise=0.01, seed=3, floor=0.3), name="base"))
    cand = analyze(history((x, train), u_shape(60, best=20, bottom=0.3, rise=0.8, noise=0.01), name="cand"))
    c = compare(base, cand)
    assert [ch.rule for ch in c.new] == ["overfitting"]
    assert "candidate: overfitting from epoch" in c.new[0].text
    assert Gate(max_regression=None, fail_on_new="warning").check(c)
    assert not Gate(max_regression=None, fail_on_new="error").check(c)


# --- the command -----------------------------------------------------------------------------------


def runs(tmp_path: Path, worse: float = 1.2) -> tuple[str, str]:
    x, y = decay(60, noise=0.02, seed=4, floor=0.3)
    b = write(tmp_path / "base.csv", x, y * 0.9, y)
    c = write(tmp_path / "cand.csv", x, y * 0.9 * worse, y * worse)
    return str(b), str(c)


def test_gate_exit_codes(tmp_path: Path) -> None:
    b, c = runs(tmp_path, worse=1.2)
    assert runner.invoke(app, ["compare", b, b]).exit_code == 0
    assert runner.invoke(app, ["compare", b, c]).exit_code == 1
    assert runner.invoke(app, ["compare", b, c, "--max-regression", "25%"]).exit_code == 0
    assert runner.invoke(app, ["compare", b, c, "--max-regression", "off"]).exit_code == 0
    assert runner.invoke(app, ["compare", c, b]).exit_code == 0  # better is never a regression
    assert runner.invoke(app, ["compare", b, c, "--metric", "final_train", "--max-regression", "10"]).exit_code == 1


def test_input_errors_exit_2_with_one_line_naming_the_file(tmp_path: Path) -> None:
    b, _ = runs(tmp_path)
    for args, named in (
        (["compare", str(tmp_path / "missing.csv"), b], "missing.csv"),
        (["compare", b, str(tmp_path / "gone.csv")], "gone.csv"),
        (["compare", b, b, "--metric", "best_loss"], "--metric"),
        (["compare", b, b, "--max-regression", "lots"], "--max-regression"),
        (["compare", b, b, "--fail-on-new", "sometimes"], "--fail-on-new"),
        (["compare", b, b, "--target", "low"], "--target"),
        (["compare", b, b, "--format", "yaml"], "--format"),
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, args
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and named in lines[0], res.stderr
    only_train = tmp_path / "train_only.csv"
    write(only_train, np.arange(10.0), np.linspace(1, 0.5, 10))
    res = runner.invoke(app, ["compare", str(only_train), b])
    assert res.exit_code == 2 and "--metric best_train" in res.stderr
    assert runner.invoke(app, ["compare", str(only_train), str(only_train), "--metric", "best_train"]).exit_code == 0


def test_every_format_says_the_verdict_and_the_delta(tmp_path: Path) -> None:
    b, c = runs(tmp_path, worse=1.2)
    table = runner.invoke(app, ["compare", b, c])
    assert table.stdout.startswith("FAIL") and "+20.0%" in table.stdout and "baseline" in table.stdout

    md = runner.invoke(app, ["compare", b, c, "--format", "markdown"]).stdout
    assert md.splitlines()[0].startswith("## ❌ lossdoc compare: FAIL")
    assert "| `cand` | ❌ fail |" in md and "+20.0%" in md

    doc = json.loads(runner.invoke(app, ["compare", b, c, "--format", "json"]).stdout)
    assert doc["schema"] == "lossdoc.compare" and doc["schema_version"] == 1
    assert doc["verdict"] == "fail" and doc["exit_code"] == 1
    comp = doc["comparisons"][0]
    assert comp["passed"] is False and abs(comp["metrics"]["best_val"]["delta_pct"] - 20.0) < 0.1
    assert comp["departure"]["val"]["direction"] == "above"

    gh = runner.invoke(app, ["compare", b, c, "--format", "github"]).stdout
    assert gh.startswith("::error file=") and "best validation loss +20.0%" in gh

    root = ET.fromstring(runner.invoke(app, ["compare", b, c, "--format", "junit"]).stdout.split("\n", 1)[1])
    assert root.get("failures") == "1"
    assert root.find(".//testcase[@name='regression:best_val']/failure") is not None

    page = runner.invoke(app, ["compare", b, c, "--format", "html"]).stdout
    assert page.startswith("<!DOCTYPE html>") and "FAIL" in page

    out = tmp_path / "comment.md"
    assert runner.invoke(app, ["compare", b, c, "-f", "markdown", "-o", str(out)]).exit_code == 1
    assert out.read_text() == md


def test_github_format_also_fills_the_job_summary(tmp_path: Path, monkeypatch) -> None:
    b, c = runs(tmp_path, worse=1.2)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert runner.invoke(app, ["compare", b, c, "--format", "github"]).exit_code == 1
    assert summary.read_text().startswith("## ❌ lossdoc compare: FAIL")


def test_a_new_finding_is_annotated_at_its_severity_and_gated_in_junit(tmp_path: Path) -> None:
    x, train = decay(60, noise=0.01)
    b = write(tmp_path / "b.csv", x, train, decay(60, noise=0.01, seed=3, floor=0.3)[1])
    c = write(tmp_path / "c.csv", x, train, u_shape(60, best=20, bottom=0.3, rise=0.8, noise=0.01)[1])
    args = ["compare", str(b), str(c), "--max-regression", "off"]
    gh = runner.invoke(app, [*args, "--format", "github"])
    assert (
        gh.exit_code == 0 and gh.stdout.startswith("::warning ") and "new finding, candidate: overfitting" in gh.stdout
    )
    res = runner.invoke(app, [*args, "--fail-on-new", "warning", "--format", "junit"])
    assert res.exit_code == 1
    root = ET.fromstring(res.stdout.split("\n", 1)[1])
    assert root.find(".//testcase[@name='new-findings']/failure") is not None
    assert root.find(".//testcase[@name='regression:best_val']/failure") is None


def test_losses_below_zero_are_compared_by_difference_not_ratio() -> None:
    x = np.arange(50, dtype=float)
    y = -1 - np.exp(-x / 10)
    base = analyze(history((x, y), (x, y), name="base"))
    cand = analyze(history((x, y + np.where(x >= 20, 0.5, 0.0)), (x, y + np.where(x >= 20, 0.5, 0.0)), name="c"))
    dep = compare(base, cand).departures["val"]
    assert dep is not None and dep.ratio is None and dep.direction == "above" and dep.x == 20
    assert abs(dep.difference - 0.5) < 0.05 and dep.text() == f"{dep.difference:+.4g}"
