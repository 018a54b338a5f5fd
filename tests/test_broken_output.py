"""Output safety: plots are written atomically, only inside the folder named by --plot, never over an
input, and no input can make lossdoc run code."""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import lossdoc
from lossdoc.analysis import analyze
from lossdoc.cli import app
from lossdoc.history import LossHistory, Series
from lossdoc.plot import plan_outputs, safe_name, save_atomic, write_plots
from lossdoc.report import Report

runner = CliRunner()
HOSTILE_NAMES = ["../../escape", "/etc/passwd", "a/b\\c", "..", "", ".hidden", "~root", "x\x00y", "C:\\win", "ok", "ok",
                 "loss$\\frac{1$", "a $b$ c"]  # fmt: skip


def diagnosis(name: str, source: str):
    x = np.arange(20, dtype=float)
    h = LossHistory(
        source=source, format="csv", name=name, x_name="step", series=[Series("loss", "train", x, 1 / (x + 1))]
    )
    return analyze(h)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_safe_name_never_leaves_the_folder(name):
    safe = safe_name(name)
    assert safe and not safe.startswith(".") and safe not in ("..", ".")
    assert not {"/", "\\", "\x00"} & set(safe)
    assert len(safe.encode("utf-8", "surrogateescape")) <= 120  # room for "_2.png" within 255 bytes
    folder = Path("/tmp/plots")
    assert (folder / f"{safe}.png").resolve().parent == folder


def test_hostile_run_names_are_plotted_inside_the_target_folder(tmp_path):
    target = tmp_path / "plots"
    report = Report(
        diagnoses=[diagnosis(n, f"src{i}.csv") for i, n in enumerate(HOSTILE_NAMES)], errors=[], exit_code=0
    )
    outs = [out for _, out in plan_outputs(report.diagnoses, target)]
    assert all(out.parent == target for out in outs)
    assert len({o.name.lower() for o in outs}) == len(outs)
    write_plots(report, target, None, set())
    assert report.errors == []
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(o.relative_to(tmp_path) for o in outs)
    assert all(not p.name.startswith(".lossdoc-") for p in target.iterdir())  # no temp file left


def test_names_are_drawn_as_written_never_as_mathtext_or_missing_glyphs():
    import io
    import warnings

    from matplotlib.cbook import is_math_text

    from lossdoc.plot import figure

    x = np.arange(30, dtype=float)
    series = [Series("lo$s\x01s", "train", x, 1 / (x + 1)), Series("val_$loss$", "val", x, 1 / (x + 1) + x / 100)]
    d = analyze(LossHistory(source="r.csv", format="csv", name="run$\\frac{1$", x_name="st$ep$", series=series))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font is a warning
        fig = figure([d])
        fig.savefig(io.BytesIO(), format="png")
    texts = [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    shown = [t for t in texts if "$" in t or "\\x01" in t]
    assert {r"run\$\frac{1\$", r"st\$ep\$", r"train (lo\$s\x01s)", r"validation (val_\$loss\$)"} <= set(shown)
    assert not any(is_math_text(t) for t in shown)


class FailingFigure:
    """A figure whose save dies half-way (a full disk, a kill): the target must not be touched."""

    def savefig(self, path, format, metadata):
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")


def test_failed_save_leaves_the_old_plot_and_no_temp_file(tmp_path):
    out = tmp_path / "run.png"
    out.write_bytes(b"the previous plot")
    with pytest.raises(OSError):
        save_atomic(FailingFigure(), out)
    assert out.read_bytes() == b"the previous plot"
    assert [p.name for p in tmp_path.iterdir()] == ["run.png"]


class Stopped(BaseException):
    """What the plot helper's SIGTERM handler amounts to: remove the partial plot, then exit."""


def test_a_stop_just_after_the_temp_file_is_created_leaves_no_temp_file(tmp_path, monkeypatch):
    # A signal's handler runs between any two bytecodes: here at the first one after the temporary
    # file exists, the worst moment (the helper's handler removes what ``writing`` names, then exits).
    import lossdoc.atomic as atomic

    real_open = os.open

    def open_then_stopped(path, flags, mode=0o777, **kw):
        fd = real_open(path, flags, mode, **kw)
        if Path(path).name.startswith(".lossdoc-"):
            os.close(fd)
            atomic.remove_partial()
            raise Stopped
        return fd

    monkeypatch.setattr(os, "open", open_then_stopped)
    with pytest.raises(Stopped):
        save_atomic(FailingFigure(), tmp_path / "run.png")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    assert atomic.writing is None


def test_plot_is_as_readable_as_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        runner.invoke(app, ["analyze", str(write_log(tmp_path / "run.csv")), "--plot", str(tmp_path / "p.png")])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "p.png").stat().st_mode) == 0o644


def write_log(path: Path) -> Path:
    path.write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1):.5f}\n" for i in range(20)))
    return path


def test_plot_over_the_input_itself_is_refused(tmp_path):
    log = write_log(tmp_path / "run.png")  # a log that happens to be named like a plot
    before = log.read_bytes()
    res = runner.invoke(app, ["analyze", str(log), "--plot", str(log)])
    assert res.exit_code == 2
    assert res.stderr == f"lossdoc: {log}: refusing to overwrite an input file with a plot\n"
    assert log.read_bytes() == before


def test_links_planted_in_the_plot_folder_never_redirect_a_write(tmp_path):
    plots = tmp_path / "plots"
    plots.mkdir()
    log = write_log(tmp_path / "run.csv")
    other = write_log(tmp_path / "other.csv")
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (plots / "run.png").symlink_to(log)  # would overwrite the input through the link
    (plots / "other.png").symlink_to(precious)  # would overwrite a file outside the folder
    before = log.read_bytes()
    res = runner.invoke(app, ["analyze", str(log), str(other), "--plot", str(plots)])
    assert res.exit_code == 2
    assert res.stderr == f"lossdoc: {plots / 'run.png'}: refusing to overwrite an input file with a plot\n"
    assert log.read_bytes() == before and precious.read_text() == "keep me"
    assert not (plots / "other.png").is_symlink() and (plots / "other.png").read_bytes()[:4] == b"\x89PNG"


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}


def test_no_input_can_make_lossdoc_run_code():
    """No pickle-family loader, eval/exec, unsafe YAML or numpy/torch pickles anywhere in the package."""
    problems = []
    for path in Path(lossdoc.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                if any((n or "").split(".")[0] in FORBIDDEN_MODULES for n in names):
                    problems.append(f"{where} imports {names}")
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Name) and f.id in FORBIDDEN_CALLS:
                    problems.append(f"{where} calls {f.id}")
                if isinstance(f, ast.Attribute):
                    owner = f.value.id if isinstance(f.value, ast.Name) else ""
                    if f.attr in ("load", "load_all", "unsafe_load") and owner in ("yaml", "torch"):
                        problems.append(f"{where} calls {owner}.{f.attr}")
                    if f.attr == "read_pickle":
                        problems.append(f"{where} calls read_pickle")
                for kw in node.keywords:
                    if kw.arg == "allow_pickle" and not (
                        isinstance(kw.value, ast.Constant) and kw.value.value is False
                    ):
                        problems.append(f"{where} passes allow_pickle")
    assert problems == []
