"""lossdoc compare on runs written by Keras's own CSVLogger (tests/fixtures/compare/make_runs.py):
a healthy baseline, a rerun with another seed, a slower candidate, and a label-shuffled candidate
that every single-run rule lets through and the comparison fails."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lossdoc.cli import app

FIXTURES = Path(__file__).parent / "fixtures" / "compare"
BASELINE, RERUN, SLOWER, SHUFFLED = (
    str(FIXTURES / f"{n}.csv") for n in ("baseline", "baseline_rerun", "slower", "shuffled")
)
runner = CliRunner()


def compared(*args: str) -> tuple[int, dict]:
    res = runner.invoke(app, ["compare", BASELINE, *args, "--format", "json"])
    return res.exit_code, json.loads(res.stdout)


def test_the_shuffled_run_passes_every_single_run_rule() -> None:
    res = runner.invoke(app, ["analyze", SHUFFLED, "--format", "json", "--fail-on", "warning"])
    assert res.exit_code == 0
    (run,) = json.loads(res.stdout)["runs"]
    assert run["verdict"] in ("healthy", "info")
    assert not [f for f in run["findings"] if f["severity"] != "info"]


def test_compare_fails_the_shuffled_run_on_its_validation_loss() -> None:
    code, doc = compared(SHUFFLED)
    assert code == 1 and doc["verdict"] == "fail"
    (c,) = doc["comparisons"]
    best = c["metrics"]["best_val"]
    assert best["delta_pct"] > 100  # never near the baseline's best: about three times it
    assert abs(best["delta"] - (best["candidate"] - best["baseline"])) < 1e-9
    assert c["reach"]["candidate_x"] is None and c["reach"]["baseline_x"] is not None
    dep = c["departure"]["val"]
    assert dep["x"] == 0 and dep["direction"] == "above" and dep["ratio"] > 1.2 and dep["difference"] > 0
    assert c["violations"] == [f"best validation loss {best['delta_pct']:+.1f}% against the baseline (allowed: +5%)"]


def test_a_rerun_with_another_seed_passes_and_stays_in_the_band() -> None:
    code, doc = compared(RERUN)
    assert code == 0
    (c,) = doc["comparisons"]
    assert abs(c["metrics"]["best_val"]["delta_pct"]) < 5
    assert c["departure"] == {"train": None, "val": None}
    assert c["new_findings"] == [] and c["gone_findings"] == []


def test_the_slower_run_is_slower_and_its_longer_range_is_said() -> None:
    code, doc = compared(SLOWER, "--max-regression", "20%")
    (c,) = doc["comparisons"]
    assert code == 0 and c["passed"]
    assert 10 < c["metrics"]["best_val"]["delta_pct"] < 20
    assert c["departure"]["val"]["direction"] == "above"
    assert any("x ranges differ: baseline 0–39, candidate 0–79" in n for n in c["notes"])
    # timed to a loss both reach: the slower run takes longer
    code, doc = compared(SLOWER, "--target", "0.4", "--max-regression", "20%")
    reach = doc["comparisons"][0]["reach"]
    assert reach["target"] == 0.4 and reach["candidate_x"] > reach["baseline_x"] and reach["speedup"] < 1


def test_several_candidates_fail_the_call_if_one_fails() -> None:
    code, doc = compared(RERUN, SHUFFLED)
    assert code == 1
    assert [c["passed"] for c in doc["comparisons"]] == [True, False]
    md = runner.invoke(app, ["compare", BASELINE, RERUN, SHUFFLED, "--format", "markdown"]).stdout
    assert md.startswith("## ❌ lossdoc compare: FAIL: 1 of 2 candidates worse than the baseline")
    assert "| `baseline_rerun` | ✅ pass |" in md and "| `shuffled` | ❌ fail |" in md


def test_plot_overlays_the_runs_and_markdown_links_it(tmp_path: Path) -> None:
    png = tmp_path / "compare.png"
    res = runner.invoke(app, ["compare", BASELINE, SHUFFLED, "--plot", str(png), "--format", "markdown"])
    assert res.exit_code == 1
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"]({png})" in res.stdout
