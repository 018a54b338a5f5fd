"""Configuration: [tool.lossdoc] in the nearest pyproject.toml, --config, CLI precedence, bad values."""

from __future__ import annotations

import json

import pytest
from curves import decay, u_shape
from test_cli import write_csv
from typer.testing import CliRunner

from lossdoc import config
from lossdoc.cli import app
from lossdoc.errors import LossdocError

runner = CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A git project folder with an overfitting log in it; the current directory is a subfolder."""
    (tmp_path / ".git").mkdir()
    sub = tmp_path / "runs" / "a"
    sub.mkdir(parents=True)
    x, tr = decay(60, rate=4)
    _, va = u_shape(60, best=20, rise=0.6)
    write_csv(sub / "log.csv", {"epoch": x, "loss": tr, "val_loss": va})
    monkeypatch.chdir(sub)
    return tmp_path


def analyze_json(*args: str):
    res = runner.invoke(app, ["analyze", "log.csv", "--format", "json", *args])
    return res, (json.loads(res.stdout) if res.stdout.startswith("{") else None)


def test_nearest_pyproject_walking_up_sets_the_gate(project):
    (project / "pyproject.toml").write_text('[tool.lossdoc]\nfail-on = ["overfitting"]\n')
    res, doc = analyze_json()
    assert res.exit_code == 1 and doc["exit_code"] == 1
    assert runner.invoke(app, ["analyze", "log.csv", "--fail-on", "never"]).exit_code == 0  # the flag wins


def test_search_stops_at_the_git_root(project):
    (project.parent / "pyproject.toml").write_text('[tool.lossdoc]\nfail-on = "info"\n')
    assert config.find_config(project / "runs" / "a") is None
    assert runner.invoke(app, ["analyze", "log.csv"]).exit_code == 0


def test_pyproject_without_a_lossdoc_table_is_skipped(project):
    (project / "runs" / "pyproject.toml").write_text("[tool.black]\nline-length = 90\n")
    (project / "pyproject.toml").write_text("[tool.lossdoc]\nignore = ['still-improving']\n")
    found = config.find_config(project / "runs" / "a")
    assert found is not None and found[0] == project / "pyproject.toml"


def test_rule_thresholds_reach_the_rules(project):
    res, doc = analyze_json("--fail-on", "never")
    assert any(f["rule"] == "overfitting" for f in doc["runs"][0]["findings"])
    (project / "pyproject.toml").write_text(
        "[tool.lossdoc.rules.overfitting]\nmin-rise = 5.0\nlong_rise_fraction = 1.0\n"
    )
    res, doc = analyze_json("--fail-on", "never")
    assert res.exit_code == 0
    assert not any(f["rule"] == "overfitting" for f in doc["runs"][0]["findings"])


def test_param_option_sets_a_threshold_on_the_command_line(project):
    res, doc = analyze_json(
        "--fail-on", "never", "--param", "overfitting.min_rise=5", "--param", "overfitting.long_rise_fraction=1.0"
    )
    assert res.exit_code == 0
    assert not any(f["rule"] == "overfitting" for f in doc["runs"][0]["findings"])
    res = runner.invoke(app, ["analyze", "log.csv", "--param", "overfitting.nope=1"])
    assert res.exit_code == 2 and "unknown key 'nope'" in res.stderr


def test_explicit_lossdoc_toml_with_top_level_keys(project, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("cfg") / "lossdoc.toml"
    cfg.write_text('format = "junit"\nselect = "overfitting"\n[rules.overfitting]\nmin_points = 5\n')
    res = runner.invoke(app, ["analyze", "log.csv", "--config", str(cfg)])
    assert res.stdout.startswith("<?xml")
    assert '<skipped message="rule not selected' in res.stdout


def test_config_plot_path_is_relative_to_the_config_file(project):
    (project / "pyproject.toml").write_text('[tool.lossdoc]\nplot = "plots/"\nquiet = true\n')
    res = runner.invoke(app, ["analyze", "log.csv"])
    assert res.exit_code == 0, res.output
    assert (project / "plots" / "log.png").is_file()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "[tool.lossdoc.rules.overfitting]\nmin_rse = 0.1\n",
            "pyproject.toml [tool.lossdoc.rules.overfitting]: unknown key 'min_rse'",
        ),
        (
            "[tool.lossdoc.rules.overfitting]\nmin_rise = 'big'\n",
            "pyproject.toml [tool.lossdoc.rules.overfitting]: 'min_rise' must be a number",
        ),
        (
            "[tool.lossdoc.rules.overfitting]\nmin_points = 2.5\n",
            "pyproject.toml [tool.lossdoc.rules.overfitting]: 'min_points' must be a whole number",
        ),
        ("[tool.lossdoc.rules.nope]\nx = 1\n", "pyproject.toml [tool.lossdoc.rules.nope]: unknown rule 'nope'"),
        ("[tool.lossdoc]\nfail_on = 'sometimes'\n", "pyproject.toml [tool.lossdoc]: 'fail_on':"),
        ("[tool.lossdoc]\nformat = 'xml'\n", "pyproject.toml [tool.lossdoc]: 'format': must be one of"),
        ("[tool.lossdoc]\nsmoothing = 1.5\n", "pyproject.toml [tool.lossdoc]: 'smoothing': must be 'auto'"),
        ("[tool.lossdoc]\ndetails = 'some'\n", "pyproject.toml [tool.lossdoc]: 'details': must be one of auto"),
        ("[tool.lossdoc]\nselect = ['overfiting']\n", "pyproject.toml [tool.lossdoc]: 'select': unknown rule"),
        ("[tool.lossdoc]\ncolour = true\n", "pyproject.toml [tool.lossdoc]: unknown key 'colour'"),
        ("[tool.lossdoc\n", "pyproject.toml: invalid TOML"),
    ],
)
def test_a_bad_setting_is_exit_2_with_one_line_naming_the_key(project, toml, message):
    (project / "pyproject.toml").write_text(toml)
    res = runner.invoke(app, ["analyze", "log.csv"])
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"lossdoc: ../../{message}"), lines
    assert res.stdout == ""


def test_missing_config_file_is_exit_2(project):
    res = runner.invoke(app, ["analyze", "log.csv", "--config", "nowhere.toml"])
    assert res.exit_code == 2 and "nowhere.toml: config file not found" in res.stderr


def test_defaults_without_any_file(tmp_path):
    (tmp_path / ".git").mkdir()
    s = config.load(start=tmp_path)
    assert s == config.Settings() and s.fail_on == "error" and s.smoothing is None


def test_values_are_normalised(tmp_path):
    s = config.from_table(
        {"fail-on": ["warning"], "ignore": "plateau, oscillation", "smoothing": "auto", "rules": {}},
        "lossdoc.toml",
        "",
        tmp_path,
    )
    assert s.fail_on == "warning" and s.ignore == ("plateau", "oscillation") and s.smoothing is None
    with pytest.raises(LossdocError, match="'min_points' must not be negative"):
        config.from_table({"rules": {"overfitting": {"min_points": -1}}}, "lossdoc.toml", "", tmp_path)


def test_merged_puts_the_options_given_over_the_settings():
    base = config.Settings(format="json", fail_on="warning", x="epoch", rules={"plateau": {"tolerance": 0.05}})
    merged = base.merged(
        {
            "format": "markdown",
            "fail_on": None,
            "select": "plateau, overfitting",
            "smoothing": "0.5",
            "param": ["overfitting.min_rise=0.1"],
            "x": None,
        }
    )
    assert merged.format == "markdown" and merged.fail_on == "warning" and merged.x == "epoch"
    assert merged.select == ("plateau", "overfitting") and merged.smoothing == 0.5
    assert merged.rules == {"plateau": {"tolerance": 0.05}, "overfitting": {"min_rise": 0.1}}
    assert base.merged({}) == base


@pytest.mark.parametrize(
    ("option", "value", "source"),
    [
        ("format", "yaml", "--format"),
        ("details", "some", "--details"),
        ("smoothing", "2", "--smoothing"),
        ("framework", "caffe", "--framework"),
        ("max_input_size", "lots", "--max-input-size"),
        ("param", ["nope"], "--param"),
    ],
)
def test_merged_names_the_bad_option(option, value, source):
    with pytest.raises(LossdocError) as err:
        config.Settings().merged({option: value})
    assert err.value.source == source
