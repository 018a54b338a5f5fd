"""README's "Compare runs" GitHub Actions example: its lossdoc lines run as written, on a baseline and a
candidate written by Keras (tests/fixtures/compare), and gate as the README says."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lossdoc.cli import app

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "compare"
runner = CliRunner()


def example_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- compare-ci-example -->\n```yaml\n(.*?)```", text, re.S)
    assert block, "README lost its compare CI example"
    lines = [line.strip() for line in block.group(1).splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("lossdoc ")]


def workspace(tmp_path: Path, candidate: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in ("baseline", "logs", "ci"):
        (tmp_path / folder).mkdir()
    shutil.copy(FIXTURES / "baseline.csv", tmp_path / "baseline" / "metrics.csv")
    shutil.copy(FIXTURES / f"{candidate}.csv", tmp_path / "logs" / "metrics.csv")
    monkeypatch.chdir(tmp_path)
    # the golden file is committed once, from the baseline run, as README says
    assert runner.invoke(app, ["golden", "save", "baseline/metrics.csv", "ci/golden-loss.json"]).exit_code == 0


def test_the_example_has_the_three_commands() -> None:
    assert [c[0] for c in example_commands()] == ["compare", "compare", "golden"]


def test_a_rerun_passes_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace(tmp_path, "baseline_rerun", monkeypatch)
    for args in example_commands():
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
    assert (tmp_path / "compare.md").read_text().startswith("## ✅ lossdoc compare: PASS")


def test_a_shuffled_label_run_fails_every_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspace(tmp_path, "shuffled", monkeypatch)
    for args in example_commands():
        res = runner.invoke(app, args)
        assert res.exit_code == 1, (args, res.output)
    comment = (tmp_path / "compare.md").read_text()
    assert comment.startswith("## ❌ lossdoc compare: FAIL") and "| ❌ fail |" in comment
