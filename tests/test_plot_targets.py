"""--plot never replaces a file the command line named or matched, even one that failed to parse;
an empty path is a usage error, never the current folder (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lossdoc.cli import app

runner = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def log_text() -> str:
    return "epoch,loss,val_loss\n" + "".join(f"{i},{1 / (i + 1)},{0.5 + 0.01 * abs(i - 10)}\n" for i in range(40))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_matched_input_that_failed_to_parse_is_not_overwritten(tmp_path, monkeypatch, jobs):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    folder = tmp_path / "gl"
    folder.mkdir()
    (folder / "a.csv").write_text(log_text())
    (folder / "a.png").write_bytes(PNG)  # matched by the pattern; not a log
    res = runner.invoke(app, ["analyze", "gl/a.*", "--plot", "gl", "-j", jobs])
    assert (folder / "a.png").read_bytes() == PNG
    assert res.exit_code == 2
    assert "lossdoc: gl/a.png: refusing to overwrite an input file with a plot\n" in res.stderr


def test_a_named_input_in_the_plot_folder_is_not_overwritten(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.csv").write_text(log_text())
    (tmp_path / "a.png").write_bytes(PNG)
    res = runner.invoke(app, ["analyze", "a.csv", "a.png", "--plot", "."])
    assert (tmp_path / "a.png").read_bytes() == PNG
    assert res.exit_code == 2


def test_an_empty_path_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    (tmp_path / "a.csv").write_text(log_text())
    res = runner.invoke(app, ["analyze", ""])
    assert res.exit_code == 2
    assert res.stderr == "lossdoc: '': an empty path is not a log (the current folder is '.')\n"
    res = runner.invoke(app, ["analyze", "a.csv", "--plot", ""])
    assert res.exit_code == 2
    assert res.stderr == "lossdoc: --plot: an empty path is not a place for plots (the current folder is '.')\n"
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == [".git", "a.csv"]  # no plot written
