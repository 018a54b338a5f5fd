"""No injection into outputs, no traceback on output errors or odd settings (issue 15).

Names, paths and notes come from the logs: whatever bytes they hold, every format writes them as
escapes, never as terminal control sequences, markup, links or invalid XML; and an output that
cannot be written, or a reader that stops reading, keeps the documented exit codes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

FORMATS = ["table", "json", "markdown", "html", "github", "junit"]
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # everything but tab and newline
HOSTILE_FILE = (
    b"run\x1b[2J\x1b]8;;https:evil.example\x07x\x1b]8;;\x07\xff`` ](x)<img src=x onerror=alert(1)>|[bold]B.csv"
)
HOSTILE_COLUMN = "train/x](https://evil.example/login)_loss\x1b]52;c;aGk=\x07[bold]B[/bold][link=https://e.x]L[/link]"


def outside_code(markdown: str) -> str:
    """Markdown with its code spans and code blocks taken out: what is read as markup."""
    markdown = re.sub(r"(?ms)^ *(`{3,})text$.*?^ *\1$", "", markdown)
    return re.sub(r"(`+)(.+?)\1", "", markdown)


def lossdoc(*args: str, cwd: Path, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    (cwd / ".git").mkdir(exist_ok=True)  # no settings file from a folder above (another test's) applies
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "lossdoc", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict", "COLUMNS": "200", **(env or {})},
        timeout=120,
        **kw,
    )


def overfitting_rows(n: int = 40) -> list[str]:
    return [f"{i},{1 / (i + 1):.6f},{0.5 + 0.01 * abs(i - 10):.4f}" for i in range(n)]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A folder with a log whose file name and loss column are hostile, and a JSON Lines log whose
    loss key holds a lone surrogate, a NUL and an escape sequence, and a note with HTML."""
    folder = tmp_path / "logs"
    folder.mkdir()
    rows = [f"epoch,{HOSTILE_COLUMN},val_loss", *overfitting_rows()]
    (folder / os.fsdecode(HOSTILE_FILE)).write_bytes(("\n".join(rows) + "\n").encode())
    key = "loss\ud800\u0000\u001b[31m"
    recs = [{"step": i, key: 1 / (i + 1)} for i in range(30)]
    recs[5][key] = "<img src=x onerror=alert(1)>"
    (folder / "sur.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    return folder


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_names_through_every_format(hostile, fmt):
    res = lossdoc("analyze", str(hostile), "--format", fmt, "-j", "1", cwd=hostile.parent)
    out, err = res.stdout.decode("utf-8"), res.stderr.decode("utf-8")  # valid UTF-8, or this raises
    assert "Traceback" not in err
    assert res.returncode == 0, err  # two runs read, nothing fails the default --fail-on error
    assert not CONTROL.search(out) and not CONTROL.search(err)
    assert ("\\u001b" if fmt == "json" else "\\x1b") in out  # written as an escape
    if fmt == "json":
        doc = json.loads(out)
        assert {r["series"]["train"] for r in doc["runs"]} == {HOSTILE_COLUMN, "loss\ud800\u0000\u001b[31m"}
    if fmt == "junit":
        ET.fromstring(out)  # well-formed XML
    if fmt == "table":
        assert "[bold]B[/bold][link=https://e.x]L[/link]" in out  # rich markup printed literally
    if fmt == "html":
        assert "<img src" not in out and "onerror=alert(1)&gt;" in out
    if fmt == "markdown":
        markup = outside_code(out)
        assert "<img" not in markup
        assert re.search(r"(?<!\\)\]\(https://evil", markup) is None  # no live link


def test_markdown_escapes_links_html_and_code_spans():
    import numpy as np

    from lossdoc.analysis import analyze
    from lossdoc.history import LossHistory, Series
    from lossdoc.report import Report
    from lossdoc.report.markdown import render

    x = np.arange(30.0)
    h = LossHistory(
        source="logs/a`` b ``c|d.csv",
        format="csv",
        name="x](https://evil.example/login)",
        x_name="step",
        series=[Series("t](https://evil.example)_loss", "train", x, 1 / (x + 1))],
        notes=["<img src=x onerror=alert(1)> [a](https://evil.example)"],
    )
    md = render(Report(diagnoses=[analyze(h)], errors=[], exit_code=0))
    markup = outside_code(md)
    assert "<img" not in markup and "&lt;img src=x onerror=alert(1)&gt;" in markup
    assert re.search(r"(?<!\\)\]\(https://evil", markup) is None  # no live link
    assert "x\\](https://evil.example/login)" in markup  # the name, shown as it is
    source = next(line for line in md.splitlines() if line.startswith("**source**"))
    assert "``` logs/a`` b ``c|d.csv ```" in source  # the fence outlasts every backtick run in the name


def test_output_to_a_full_device_is_one_line_and_exit_2(tmp_path):
    log = tmp_path / "run.csv"
    log.write_text("\n".join(["epoch,loss,val_loss", *overfitting_rows()]) + "\n")
    for fmt in ("table", "json", "markdown"):
        with open("/dev/full", "wb") as full:
            res = lossdoc("analyze", str(log), "--format", fmt, cwd=tmp_path, stdout=full, stderr=subprocess.PIPE)
        err = res.stderr.decode()
        assert res.returncode == 2
        assert err == "lossdoc: cannot write the report to standard output (No space left on device)\n"


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_closed_pipe_keeps_the_exit_code_and_the_error_lines(tmp_path, fmt):
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(150):  # well over what a pipe holds, so lossdoc is still writing when it closes
        (logs / f"r{i}.csv").write_text("\n".join(["epoch,loss,val_loss", *overfitting_rows()]) + "\n")
    (tmp_path / ".git").mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lossdoc", "analyze", str(logs), "missing.csv", "-f", fmt, "--details", "all"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2  # an input error, as documented
    assert err == "lossdoc: missing.csv: file not found\n"


CONFIGS = {
    "tool = 1": "lossdoc: pyproject.toml: 'tool' must be a table, not 1",
    "[tool]\nlossdoc = 5": "lossdoc: pyproject.toml [tool.lossdoc]: must be a table, not 5",
    "[tool.lossdoc]\nselect = " + "[" * 10_000 + "]" * 10_000: (
        "lossdoc: pyproject.toml: invalid TOML (nested too deeply)"
    ),
    '[tool.lossdoc]\nselect = [[[[[["a"]]]]]]': (
        "lossdoc: pyproject.toml [tool.lossdoc]: 'select': must be a string or a list of strings, not [[[[...]]]]"
    ),
}


@pytest.mark.parametrize("text", sorted(CONFIGS))
def test_bad_config_files_give_one_line_and_exit_2(tmp_path, text):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(text + "\n")
    (tmp_path / "run.csv").write_text("\n".join(["epoch,loss", *[f"{i},{1 / (i + 1)}" for i in range(20)]]) + "\n")
    res = lossdoc("analyze", "run.csv", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.decode() == CONFIGS[text] + "\n"


def test_a_config_file_that_is_not_utf8(tmp_path):
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_bytes(b'[tool.lossdoc]\nformat = "t\xffable"\n')
    (tmp_path / "run.csv").write_text("\n".join(["epoch,loss", *[f"{i},{1 / (i + 1)}" for i in range(20)]]) + "\n")
    res = lossdoc("analyze", "run.csv", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.decode() == "lossdoc: pyproject.toml: not UTF-8 text (bad byte at offset 26)\n"


def test_a_param_value_of_100000_brackets(tmp_path):
    (tmp_path / "run.csv").write_text("\n".join(["epoch,loss", *[f"{i},{1 / (i + 1)}" for i in range(20)]]) + "\n")
    res = lossdoc("analyze", "run.csv", "--param", "overfitting.min_rise=" + "[" * 100_000, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.decode() == "lossdoc: --param: overfitting.min_rise: value nested too deeply\n"


def test_the_table_shows_names_exactly_even_with_backslashes_and_brackets():
    import numpy as np
    from rich.console import Console

    from lossdoc.analysis import analyze
    from lossdoc.history import LossHistory, Series
    from lossdoc.report import Report
    from lossdoc.report.terminal import print_report

    x = np.arange(30.0)
    runs = [
        analyze(LossHistory(f"logs/{name}", "csv", name, "step", [Series("loss", "train", x, 1 / (x + 1))]))
        for name in ("run\\", "[x]\\[bold]y")
    ]
    console = Console(width=200, record=True, color_system=None)
    print_report(Report(diagnoses=runs, errors=[], exit_code=0), console)
    text = console.export_text()
    assert re.search(r"│ source +logs/run\\  \(csv\)", text)  # one backslash, as in the name
    assert re.search(r"│ source +logs/\[x\]\\\[bold\]y  \(csv\)", text)
