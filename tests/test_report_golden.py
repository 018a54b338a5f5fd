"""Golden files: every output format of every real sample log, compared exactly.

The inputs are the real logs in ``sample_logs/`` (written by the frameworks' own loggers); the
expected outputs are ``tests/golden/<sample>.<format>.<ext>``. When a rule or a report changes on
purpose, regenerate them and review the diff::

    LOSSDOC_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_golden.py
    git diff tests/golden/

Outputs are made stable before comparing: the run happens in a scratch folder holding a copy of
``sample_logs/`` so every path is relative, the terminal is 100 columns without colour, the tool
version reads ``<version>`` and embedded images read ``<image>`` (their pixels depend on the
matplotlib version; the plots are checked separately).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lossdoc import __version__
from lossdoc.analysis import RULES
from lossdoc.cli import app
from lossdoc.ingest import load_paths
from lossdoc.plot import safe_name

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_DIR = ROOT / "sample_logs"
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("LOSSDOC_UPDATE_GOLDEN") == "1"


def sample_sources() -> list[str]:
    """Every log lossdoc itself finds under sample_logs/, as a path relative to the project."""
    if not SAMPLES_DIR.is_dir():
        return []
    histories, _ = load_paths([str(SAMPLES_DIR)], {})
    return list(dict.fromkeys(Path(os.path.relpath(h.source, ROOT)).as_posix() for h in histories))


SAMPLES = sample_sources()
EXT = {"table": "txt", "json": "json", "markdown": "md", "html": "html", "github": "txt", "junit": "xml"}
ALL = "all_samples"
CONFIG = 'fail-on = "warning"\n'
"""Golden runs read their settings from this file only (never a pyproject.toml above them)."""

CASES = [(s, fmt) for s in SAMPLES for fmt in EXT] + [(ALL, fmt) for fmt in ("table", "markdown", "github", "junit")]


def golden_path(sample: str, fmt: str) -> Path:
    return GOLDEN / f"{safe_name(sample.removeprefix('sample_logs/'))}.{fmt}.{EXT[fmt]}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch copy of sample_logs/ with the golden config beside it."""
    work = tmp_path_factory.mktemp("golden")
    shutil.copytree(SAMPLES_DIR, work / "sample_logs", ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (work / "lossdoc.toml").write_text(CONFIG)
    (work / ".git").mkdir()
    return work


def run(workdir: Path, sample: str, fmt: str, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(workdir)
    paths = ["sample_logs"] if sample == ALL else [sample]
    args = ["analyze", *paths, "--format", fmt, "--config", "lossdoc.toml"]
    if fmt in ("markdown", "json"):
        args += ["--plot", "plots"]
    env = {"COLUMNS": "100", "LINES": "50", "NO_COLOR": "1", "TERM": "dumb", "GITHUB_STEP_SUMMARY": None}
    res = CliRunner().invoke(app, args, env=env)
    return res.exit_code, normalise(res.stdout)


def normalise(text: str) -> str:
    text = text.replace(f'"version": "{__version__}"', '"version": "<version>"')
    return re.sub(r"data:image/(png|svg\+xml);base64,[A-Za-z0-9+/=]+", r"data:image/\1;base64,<image>", text)


def test_there_are_real_sample_logs_to_compare():
    assert len(SAMPLES) >= 4, f"expected the real sample logs in {SAMPLES_DIR}"


@pytest.mark.parametrize(("sample", "fmt"), CASES, ids=[f"{s}-{f}" for s, f in CASES])
def test_golden_output(workdir, sample, fmt, monkeypatch):
    code, out = run(workdir, sample, fmt, monkeypatch)
    assert code in (0, 1), out
    path = golden_path(sample, fmt)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(out, encoding="utf-8")
    assert path.is_file(), f"no golden file {path.name}; create it with LOSSDOC_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert out == expected, f"{path.name} differs; if the change is intended, regenerate with LOSSDOC_UPDATE_GOLDEN=1"


def test_no_stale_golden_files():
    wanted = {golden_path(s, f).name for s, f in CASES}
    present = {p.name for p in GOLDEN.iterdir() if p.is_file()} if GOLDEN.is_dir() else set()
    assert present <= wanted, f"golden files for no current case: {sorted(present - wanted)}"


def test_golden_junit_is_xml_with_one_case_per_run_and_rule(workdir, monkeypatch):
    _, doc = run(workdir, ALL, "json", monkeypatch)
    runs = json.loads(doc)["runs"]
    root = ET.fromstring(golden_path(ALL, "junit").read_text(encoding="utf-8"))
    cases = root.findall("testsuite/testcase")
    ids = {(c.get("classname"), c.get("name")) for c in cases}
    assert len(cases) == len(ids) == len(runs) * len(RULES)
    assert int(root.get("tests")) == len(cases)
    failing = {(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None}
    assert int(root.get("failures")) == len(failing)
    # warnings and errors fail the golden config's gate; info does not
    gated = sum(1 for r in runs for rule in {f["rule"] for f in r["findings"] if f["severity"] != "info"})
    assert len(failing) == gated


def test_golden_json_matches_the_contract(workdir, monkeypatch):
    for sample in SAMPLES:
        doc = json.loads(golden_path(sample, "json").read_text(encoding="utf-8"))
        assert doc["schema_version"] == 1 and doc["errors"] == []
        for r in doc["runs"]:
            assert r["source"] == sample and r["plot"].startswith("plots/") and r["plot"].endswith(".png")
            assert set(r["summary"]) >= {"points", "x_min", "x_max", "best_val_x", "best_val", "final_train"}


def test_every_sample_plot_is_a_png(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    res = CliRunner().invoke(app, ["analyze", "sample_logs", "--plot", "plots", "-q", "--config", "lossdoc.toml"])
    assert res.exit_code in (0, 1), res.output
    pngs = sorted((workdir / "plots").glob("*.png"))
    assert len(pngs) >= len(SAMPLES) // 2 and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)
