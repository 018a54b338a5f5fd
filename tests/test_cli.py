"""The command line end to end through typer's CliRunner and a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from curves import decay, u_shape
from typer.testing import CliRunner

from lossdoc.cli import app

runner = CliRunner()


def write_csv(path, cols):
    names = list(cols)
    rows = zip(*cols.values(), strict=True)
    path.write_text(",".join(names) + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in rows) + "\n")
    return path


def overfit_csv(tmp_path):
    x, tr = decay(60, rate=4)
    _, va = u_shape(60, best=20, rise=0.6)
    return write_csv(tmp_path / "overfit.csv", {"epoch": x, "loss": tr, "val_loss": va})


def test_json_output_follows_the_contract(tmp_path):
    f = overfit_csv(tmp_path)
    res = runner.invoke(app, ["analyze", str(f), "--format", "json", "--fail-on", "never"])
    assert res.exit_code == 0
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1 and doc["tool"]["name"] == "lossdoc"
    run = doc["runs"][0]
    assert run["series"] == {"train": "loss", "val": "val_loss"}
    assert run["x"] == "epoch" and run["format"] == "keras_csv"
    assert set(run["summary"]) >= {"points", "x_min", "x_max", "best_val_x", "best_val", "final_train", "final_val"}
    f0 = next(f for f in run["findings"] if f["rule"] == "overfitting")
    assert set(f0) >= {"rule", "severity", "series", "start", "end", "message", "advice", "evidence"}
    assert doc["errors"] == [] and doc["exit_code"] == 0


def test_fail_on_rule_gates_the_exit_code(tmp_path):
    f = overfit_csv(tmp_path)
    assert runner.invoke(app, ["analyze", str(f), "--fail-on", "overfitting"]).exit_code == 1
    assert runner.invoke(app, ["analyze", str(f), "--fail-on", "error"]).exit_code == 0
    assert runner.invoke(app, ["analyze", str(f), "--fail-on", "warning"]).exit_code == 1


def test_fail_on_a_rule_that_does_not_run_is_a_usage_error(tmp_path):
    f = overfit_csv(tmp_path)
    for extra in (["--ignore", "overfitting"], ["--select", "plateau"]):
        res = runner.invoke(app, ["analyze", str(f), "--fail-on", "overfitting", *extra])
        assert res.exit_code == 2, res.output
        assert len(res.stderr.strip().splitlines()) == 1
        assert "'overfitting' is turned off by --select/--ignore" in res.stderr


def test_an_empty_rule_set_is_a_usage_error(tmp_path):
    f = overfit_csv(tmp_path)
    res = runner.invoke(app, ["analyze", str(f), "--select", "plateau", "--ignore", "plateau"])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        "lossdoc: --select/--ignore: no rule is left to run; select at least one rule that is not ignored"
    ]


def test_bad_file_is_one_error_line_and_others_still_analysed(tmp_path):
    good = overfit_csv(tmp_path)
    bad = tmp_path / "acc_only.csv"
    bad.write_text("epoch,acc\n0,0.5\n1,0.6\n")
    res = runner.invoke(app, ["analyze", str(good), str(bad), str(tmp_path / "missing.csv"), "--format", "json"])
    assert res.exit_code == 2
    doc = json.loads(res.stdout)
    assert len(doc["runs"]) == 1
    msgs = {e["source"]: e["message"] for e in doc["errors"]}
    assert msgs[str(tmp_path / "missing.csv")] == "file not found"
    assert "no column looks like a loss; columns are: epoch, acc" in msgs[str(bad)]
    assert "Traceback" not in res.stderr
    assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 2


def test_plot_writes_a_png(tmp_path):
    f = overfit_csv(tmp_path)
    out = tmp_path / "plot.png"
    res = runner.invoke(app, ["analyze", str(f), "--plot", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_never_overwrites_an_input(tmp_path):
    f = overfit_csv(tmp_path)
    before = f.read_bytes()
    res = runner.invoke(app, ["analyze", str(f), "--plot", str(f.with_suffix(".png"))])
    assert res.exit_code == 0
    x, y = decay(10)
    g = write_csv(tmp_path / "g.png", {"epoch": x, "loss": y})
    res = runner.invoke(app, ["analyze", str(g), "--plot", str(g)])
    assert res.exit_code == 2 and "refusing to overwrite" in res.stderr
    assert f.read_bytes() == before


def test_overrides_pick_columns(tmp_path):
    x, y = decay(30)
    f = write_csv(tmp_path / "odd.csv", {"it": x, "objective_value": y, "holdout": y * 1.1})
    res = runner.invoke(
        app,
        [
            "analyze",
            str(f),
            "--format",
            "json",
            "--x",
            "it",
            "--train",
            "objective_value",
            "--val",
            "holdout",
            "--fail-on",
            "never",
        ],
    )
    run = json.loads(res.stdout)["runs"][0]
    assert run["series"] == {"train": "objective_value", "val": "holdout"} and run["x"] == "it"
    res = runner.invoke(app, ["analyze", str(f), "--train", "nope"])
    assert res.exit_code == 2 and "no column named 'nope'" in res.stderr


def test_explain_prints_rule_doc_and_parameters():
    res = runner.invoke(app, ["explain", "overfitting"])
    assert res.exit_code == 0
    assert "validation loss bottoms out" in res.stdout and "min_rise = 0.05" in res.stdout
    assert runner.invoke(app, ["explain", "nope"]).exit_code == 2


def test_help_does_not_import_pandas_or_matplotlib():
    code = (
        "import sys\nfrom lossdoc.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('pandas','matplotlib','numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pandas" not in out and "matplotlib" not in out


def test_stdin_and_nan_text(tmp_path):
    text = "step,loss\n0,1.0\n1,0.9\n2,nan\n3,NaN\n"
    res = runner.invoke(app, ["analyze", "-", "--format", "json"], input=text)
    doc = json.loads(res.stdout)
    assert res.exit_code == 1
    f = next(f for f in doc["runs"][0]["findings"] if f["rule"] == "non-finite")
    assert f["start"] == 2 and f["evidence"]["nan_count"] == 2
    assert np.isclose(doc["runs"][0]["summary"]["x_max"], 3)


def test_details_option_is_checked_and_picks_the_runs_in_full(tmp_path):
    for i in range(11):
        x, y = decay(30, rate=8 + i)
        write_csv(tmp_path / f"ok{i:02d}.csv", {"epoch": x, "loss": y})
    overfit_csv(tmp_path)
    auto = runner.invoke(app, ["analyze", str(tmp_path)])
    assert auto.exit_code == 0 and auto.stdout.count("source ") == 1
    assert "11 runs without a warning or error are in the table only" in auto.stdout
    full = runner.invoke(app, ["analyze", str(tmp_path), "--details", "all"])
    assert full.stdout.count("source ") == 12
    bad = runner.invoke(app, ["analyze", str(tmp_path), "--details", "some"])
    assert bad.exit_code == 2 and bad.stderr.strip() == "lossdoc: --details: 'some' is not one of auto, all, problems"


def _lightning_version(folder):
    x, tr = decay(30, rate=3)
    return write_csv(
        folder / "lightning_logs" / "version_0" / "metrics.csv", {"epoch": x, "step": x * 10, "train_loss": tr}
    )


def test_runs_from_different_arguments_never_share_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for exp in ("exp_a", "exp_b"):
        (tmp_path / exp / "lightning_logs" / "version_0").mkdir(parents=True)
        _lightning_version(tmp_path / exp)
    expected = ["exp_a/lightning_logs/version_0", "exp_b/lightning_logs/version_0"]
    for args in (
        ["exp_a/lightning_logs/version_0", "exp_b/lightning_logs/version_0"],
        ["exp_a/lightning_logs/version_0/metrics.csv", "exp_b/lightning_logs/version_0/metrics.csv"],
        ["exp_a", "exp_b"],
    ):
        doc = json.loads(runner.invoke(app, ["analyze", *args, "-f", "json", "--fail-on", "never"]).stdout)
        assert [r["name"] for r in doc["runs"]] == expected, args
    junit = runner.invoke(app, ["analyze", "exp_a", "exp_b", "-f", "junit", "--fail-on", "never"]).stdout
    assert (
        'classname="lossdoc.exp_a/lightning_logs/version_0"' in junit
        and 'classname="lossdoc.exp_b/lightning_logs/version_0"' in junit
    )
    res = runner.invoke(app, ["analyze", "exp_a", "exp_b", "--plot", "plots", "--fail-on", "never"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "exp_a_lightning_logs_version_0.png",
        "exp_b_lightning_logs_version_0.png",
    ]


def test_distinct_names_takes_the_shortest_telling_suffix():
    from types import SimpleNamespace

    from lossdoc.ingest.names import distinct_names

    runs = [SimpleNamespace(name=n) for n in ("run", "run", "results [train/box_loss]", "results [train/box_loss]")]
    distinct_names([("a/x/run.csv", runs[0]), ("b/x/run.csv", runs[1]), ("m/p/y1", runs[2]), ("m/q/y1", runs[3])])
    assert [r.name for r in runs] == [
        "a/x/run",
        "b/x/run",
        "p/y1/results [train/box_loss]",
        "q/y1/results [train/box_loss]",
    ]
    same = [SimpleNamespace(name="run"), SimpleNamespace(name="run")]
    distinct_names([("a.csv", same[0]), ("a.csv", same[1])])  # one argument twice: nothing to tell apart
    assert [r.name for r in same] == ["run", "run"]


def test_plot_target_of_an_unsupported_type_is_a_usage_error(tmp_path):
    f = overfit_csv(tmp_path)
    res = runner.invoke(app, ["analyze", str(f), "--plot", str(tmp_path / "x.jpg")])
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"lossdoc: --plot: '{tmp_path / 'x.jpg'}': .jpg is not a plot type; use .png, .svg, .pdf, or a folder"
    ]
    assert not (tmp_path / "x.jpg").exists()


def test_plot_target_that_is_an_existing_non_plot_file_is_refused(tmp_path):
    f = overfit_csv(tmp_path)
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture\n")
    readme = tmp_path / "README"
    readme.write_text("hello\n")
    res = runner.invoke(app, ["analyze", str(f), "--plot", str(notes)])
    assert res.exit_code == 2 and "exists and is not a PNG plot; refusing to overwrite it" in res.stderr
    assert notes.read_text() == "not a picture\n"
    res = runner.invoke(app, ["analyze", str(f), "--plot", str(readme)])
    assert res.exit_code == 2 and "is a file, not a folder" in res.stderr
    # a plot written before is overwritten, as a re-run should
    good = tmp_path / "plot.png"
    assert runner.invoke(app, ["analyze", str(f), "--plot", str(good), "--fail-on", "never"]).exit_code == 0
    assert runner.invoke(app, ["analyze", str(f), "--plot", str(good), "--fail-on", "never"]).exit_code == 0


def test_output_writes_the_report_to_a_file_atomically(tmp_path, monkeypatch):
    import os

    f = overfit_csv(tmp_path)
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (replaced.append((a, b)), real_replace(a, b))[1])
    for fmt, name in (("json", "r.json"), ("table", "r.txt"), ("junit", "r.xml"), ("markdown", "r.md")):
        out = tmp_path / name
        res = runner.invoke(app, ["analyze", str(f), "-f", fmt, "-o", str(out), "--fail-on", "never"])
        assert res.exit_code == 0, res.output
        assert res.stdout == "" and out.stat().st_size > 0
        src, dst = replaced[-1]
        assert dst == out and os.path.dirname(src) == str(tmp_path)  # a temp file in the same folder, renamed
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["name"] == "overfit"
    assert "overfit" in (tmp_path / "r.txt").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".lossdoc-")] == []
    res = runner.invoke(app, ["analyze", str(f), "-o", str(tmp_path / "missing" / "r.txt")])
    assert res.exit_code == 2 and "cannot write the report" in res.stderr
    res = runner.invoke(app, ["analyze", str(f), "-o", str(f)])
    assert res.exit_code == 2 and "is an input; refusing to overwrite it" in res.stderr


def test_dash_h_is_help_everywhere_and_help_has_no_type_noise():
    for cmd in ([], ["analyze"], ["explain"], ["rules"], ["formats"]):
        short, long = runner.invoke(app, [*cmd, "-h"]), runner.invoke(app, [*cmd, "--help"])
        assert short.exit_code == 0 and short.stdout == long.stdout, cmd
    text = runner.invoke(app, ["analyze", "-h"], env={"COLUMNS": "100"}).stdout
    for noise in ("<str>", "<list[str]>", "<path>", "{paths}", "{PATH"):
        assert noise not in text
    assert "Usage: lossdoc analyze [OPTIONS] PATH..." in text
    assert "--x COLUMN" in text and "--param RULE.KEY=VALUE" in text and "-o, --output FILE" in text


def test_explain_without_a_rule_lists_the_rules():
    from lossdoc.analysis import RULES

    res = runner.invoke(app, ["explain"])
    assert res.exit_code == 0
    assert [line.split()[0] for line in res.stdout.splitlines()[: len(RULES)]] == list(RULES)


def test_explain_and_formats_follow_the_terminal_width_without_rst_backticks():
    for cmd in (["explain", "overfitting"], ["explain", "plateau"], ["formats"]):
        for width in (60, 100):
            out = runner.invoke(app, cmd, env={"COLUMNS": str(width)}).stdout
            assert max(len(line) for line in out.splitlines()) <= width, (cmd, width)
            assert "``" not in out
    wide = runner.invoke(app, ["explain", "overfitting"], env={"COLUMNS": "200"}).stdout
    assert "restore_best_weights/load_best_model_at_end" in wide


def test_formats_lists_every_format_a_reader_reports():
    from lossdoc.docs import FORMAT_DOCS, reader_formats

    formats = reader_formats()
    assert "llamafactory_jsonl" in formats and "tensorboard" in formats and "wandb_csv" in formats
    assert set(formats) == set(FORMAT_DOCS)  # a new format is described, and nothing is described that is not read
    out = runner.invoke(app, ["formats"]).stdout
    listed = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    for name in formats:
        assert name in listed


def test_a_validation_only_log_is_validation_everywhere(tmp_path):
    f = tmp_path / "eval.csv"
    f.write_text(
        "step,eval_loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate([0.9, 0.7, 0.6, 0.62, 0.66, 0.7, 0.75, 0.8]))
    )
    doc = json.loads(runner.invoke(app, ["analyze", str(f), "--format", "json"]).stdout)
    (run,) = doc["runs"]
    assert run["series"] == {"val": "eval_loss"} and run["summary"]["points"] == 8
    f_ = {x["rule"]: x for x in run["findings"]}["overfitting"]
    assert f_["start"] == run["summary"]["best_val_x"] and "no training loss is logged" in f_["message"]
    for fmt in ("table", "markdown", "github", "junit"):
        text = runner.invoke(app, ["analyze", str(f), "--format", fmt], env={"COLUMNS": "200"}).stdout
        text = " ".join(text.replace("│", " ").split())
        assert "training loss" not in text.replace("no training loss is logged", ""), fmt
        assert "train " not in text and "train:" not in text, fmt


def test_val_alone_names_the_validation_loss(tmp_path):
    f = tmp_path / "m.csv"
    f.write_text(
        "step,loss_a,metric\n" + "".join(f"{i},{v},1\n" for i, v in enumerate([0.9, 0.7, 0.6, 0.62, 0.66, 0.7]))
    )
    run = json.loads(runner.invoke(app, ["analyze", str(f), "--val", "loss_a", "--format", "json"]).stdout)["runs"][0]
    assert run["series"] == {"val": "loss_a"}
