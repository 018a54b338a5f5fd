"""Golden curves: a file that round-trips, a rerun inside the band, a perturbed run outside it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from lossdoc.cli import app
from lossdoc.compare.golden import GOLDEN_POINTS, SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures" / "compare"
BASELINE = FIXTURES / "baseline.csv"
runner = CliRunner()


def perturbed(tmp_path: Path, factor: float, from_epoch: int, column: str = "val_loss") -> Path:
    lines = BASELINE.read_text().splitlines()
    head = lines[0].split(",")
    col = head.index(column)
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if int(cells[0]) >= from_epoch:
            cells[col] = repr(float(cells[col]) * factor)
        out.append(",".join(cells))
    path = tmp_path / f"perturbed_{factor}_{from_epoch}.csv"
    path.write_text("\n".join(out) + "\n")
    return path


def save(tmp_path: Path) -> Path:
    golden = tmp_path / "golden.json"
    res = runner.invoke(app, ["golden", "save", str(BASELINE), str(golden)])
    assert res.exit_code == 0, res.output
    return golden


def test_golden_file_holds_the_curves_band_best_point_and_schema(tmp_path: Path) -> None:
    doc = json.loads(save(tmp_path).read_text())
    assert doc["schema"] == "lossdoc.golden" and doc["schema_version"] == SCHEMA_VERSION
    val = doc["series"]["val"]
    assert len(val["x"]) == 40 <= GOLDEN_POINTS
    assert all(lo <= s <= hi for lo, s, hi in zip(val["lower"], val["smoothed"], val["upper"], strict=True))
    logged = np.genfromtxt(BASELINE, delimiter=",", names=True)
    assert abs(val["best"]["value"] - float(logged["val_loss"].min())) < 1e-8  # JSON keeps 8 decimals
    assert val["best"]["x"] == float(logged["epoch"][logged["val_loss"].argmin()])
    assert doc["findings"] == []


def test_round_trip_passes_auto_percent_and_exact(tmp_path: Path) -> None:
    golden = save(tmp_path)
    for extra in ([], ["--tolerance", "5%"], ["--exact"]):
        res = runner.invoke(app, ["golden", "check", str(BASELINE), str(golden), *extra])
        assert res.exit_code == 0, res.output
        assert res.stdout.startswith("PASS")
    again = tmp_path / "again.json"
    runner.invoke(app, ["golden", "write", str(BASELINE), "--out", str(again)])
    assert again.read_text() == golden.read_text()


def test_a_rerun_with_another_seed_passes_auto_but_not_exact(tmp_path: Path) -> None:
    golden = save(tmp_path)
    rerun = str(FIXTURES / "baseline_rerun.csv")
    assert runner.invoke(app, ["golden", "check", rerun, str(golden)]).exit_code == 0
    res = runner.invoke(app, ["golden", "check", rerun, str(golden), "--exact"])
    assert res.exit_code == 1 and "differs from the golden run's values" in res.stdout


def test_a_run_perturbed_beyond_its_noise_fails_where_it_leaves_the_band(tmp_path: Path) -> None:
    golden = save(tmp_path)
    worse = perturbed(tmp_path, 1.15, from_epoch=20)
    res = runner.invoke(app, ["golden", "check", str(worse), str(golden)])
    assert res.exit_code == 1
    assert "validation loss leaves the golden band" in res.stdout and "above it at epoch 2" in res.stdout
    doc = json.loads(runner.invoke(app, ["golden", "check", str(worse), str(golden), "-f", "json"]).stdout)
    val = next(s for s in doc["series"] if s["series"] == "val")
    assert doc["passed"] is False and val["direction"] == "above" and 19 <= val["departure_x"] <= 21
    # within a wide enough explicit tolerance it passes; one bit off fails --exact
    assert runner.invoke(app, ["golden", "check", str(worse), str(golden), "--tolerance", "25%"]).exit_code == 0
    tiny = perturbed(tmp_path, 1.0 + 1e-12, from_epoch=39)
    assert runner.invoke(app, ["golden", "check", str(tiny), str(golden)]).exit_code == 0
    assert runner.invoke(app, ["golden", "check", str(tiny), str(golden), "--exact"]).exit_code == 1


def test_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    for args, named in (
        (["golden", "check", str(BASELINE), str(tmp_path / "none.json")], "none.json"),
        (["golden", "check", str(BASELINE), str(bad)], "bad.json"),
        (["golden", "check", str(tmp_path / "no.csv"), str(bad)], "bad.json"),
        (["golden", "check", str(BASELINE), str(save(tmp_path)), "--tolerance", "wide"], "--tolerance"),
        (["golden", "save", str(tmp_path / "no.csv"), str(tmp_path / "g.json")], "no.csv"),
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1 and named in res.stderr
