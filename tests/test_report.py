"""Report formats: each one read as its consumer reads it (a terminal, GitHub, a JUnit reader, a browser)."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
import pytest
from curves import decay, history, rule_marks, u_shape
from rich.console import Console
from test_cli import write_csv
from typer.testing import CliRunner

from lossdoc.advice.model import Advice, BestPoint
from lossdoc.analysis import RULES
from lossdoc.analysis.types import Diagnosis, Finding
from lossdoc.cli import app
from lossdoc.history import LossHistory, Series
from lossdoc.ingest import InputError
from lossdoc.plot import groups, minmax_downsample, plan_outputs, safe_name
from lossdoc.policy import FailPolicy
from lossdoc.report import Report, by_severity, github, html, junit, markdown
from lossdoc.report.terminal import print_report

runner = CliRunner()


def finding(rule: str, severity: str, start: float = 3.0, message: str = "it happened", **evidence) -> Finding:
    return Finding(
        rule,
        severity,
        "loss",
        start,
        start + 5,
        message,
        "do something",
        evidence,
        marks=rule_marks(rule, start, evidence),
    )


def diag(name: str = "run", findings: list[Finding] | None = None, source: str | None = None) -> Diagnosis:
    h = history(decay(40), u_shape(40, best=15), name=name)
    if source:
        h.source = source
    summary = {"points": 40, "x_min": 0.0, "x_max": 39.0, "best_val_x": 15.0, "best_val": 0.5,
               "final_train": 0.2, "final_val": 0.6}  # fmt: skip
    return Diagnosis(h, list(findings or []), summary)


def report(diags: list[Diagnosis], fail_on: str = "warning", errors: list[InputError] | None = None, **opts) -> Report:
    policy = FailPolicy.parse(fail_on, RULES)
    code = 1 if any(policy.fails(f) for d in diags for f in d.findings) else 0
    r = Report(diags, list(errors or []), 2 if errors else code)
    r.options = replace(r.options, fail_on=policy, rules=list(RULES), **opts)
    return r


ADVICE = Advice(
    x_name="epoch",
    monitor="val_loss",
    best=BestPoint(x=15, value=0.5, saved_fraction=0.6, after=24, final_value=0.6, rise_pct=20.0),
    replay=[],
    recommendation=None,
    notes=["a note about the learning rate"],
)


# --- json ---------------------------------------------------------------------------------------


def _reference_clean(v):
    """What --format json promised before it had its own encoder: NaN/Inf to null, integral floats
    to integers, other floats rounded to 8 decimals, then ``json.dumps(indent=2)``."""
    if isinstance(v, float):
        if not np.isfinite(v):
            return None
        return int(v) if v.is_integer() and abs(v) < 2**53 else round(v, 8)
    if isinstance(v, dict):
        return {k: _reference_clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_reference_clean(x) for x in v]
    return v


@dataclasses.dataclass
class _Point:
    x: object
    n: object
    more: object


def _random_value(rng, depth: int = 0):
    kind = rng.integers(0, 9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return int(rng.integers(-(2**62), 2**62)) if rng.random() < 0.5 else int(rng.integers(-5, 5))
    if kind == 2:
        special = [float("nan"), float("inf"), -float("inf"), -0.0, 0.1 + 0.2, 2.0**53, 1e-12, 3.0, 1e300]
        return (
            special[rng.integers(len(special))]
            if rng.random() < 0.4
            else float(rng.normal() * 10.0 ** rng.integers(-9, 9))
        )
    if kind in (3, 4, 5):
        return "".join(rng.choice(list('ab "\\/\n\t\x00\x1féü€😀\u2028'), size=rng.integers(0, 8)))
    if kind == 6:
        return {str(k): _random_value(rng, depth + 1) for k in rng.integers(0, 1000, size=rng.integers(0, 5))}
    if kind == 7:
        return [_random_value(rng, depth + 1) for _ in range(rng.integers(0, 5))]
    return tuple(_random_value(rng, depth + 1) for _ in range(rng.integers(0, 3)))


def test_json_text_is_byte_for_byte_the_standard_librarys():
    from lossdoc.plain import plain
    from lossdoc.report.json import dumps

    rng = np.random.default_rng(7)
    for _ in range(400):
        value = {"runs": [_random_value(rng) for _ in range(3)], "nested": _random_value(rng)}
        assert dumps(value) == json.dumps(_reference_clean(value), indent=2, allow_nan=False)
        assert dumps(value) == json.dumps(plain(value), indent=2)  # the one cleaning pass, then the stdlib
    typed = {"point": _Point(np.float64(2.0), np.int64(3), [np.float32(0.5), np.bool_(True)]), "nan": np.float64("nan")}
    assert dumps(typed) == json.dumps(plain(typed), indent=2)
    odd_keys = {3: "int", True: "bool", None: "none", 2.5: "float"}
    assert dumps(odd_keys) == json.dumps(odd_keys, indent=2)
    with pytest.raises(TypeError):
        dumps({"x": object()})


# --- ordering -----------------------------------------------------------------------------------


def test_findings_are_ordered_error_warning_info_then_by_place():
    fs = [finding("still-improving", "info", 1), finding("overfitting", "warning", 9),
          finding("divergence", "error", 20), finding("loss-spike", "warning", 2)]  # fmt: skip
    assert [f.rule for f in by_severity(fs)] == ["divergence", "loss-spike", "overfitting", "still-improving"]


# --- terminal -----------------------------------------------------------------------------------


def console(width: int = 100) -> Console:
    return Console(width=width, record=True, force_terminal=False, color_system=None)


def test_terminal_many_runs_summary_first_then_details_sorted():
    d1 = diag("alpha", [finding("still-improving", "info"), finding("divergence", "error", 10, "blows up: here")])
    d2 = diag("beta")
    c = console()
    print_report(report([d1, d2]), c)
    out = c.export_text()
    assert out.index("worst finding") < out.index("source")
    assert re.search(r"alpha\s+│\s+error: divergence\s+│\s+blows up\s", out)
    assert re.search(r"beta\s+│\s+healthy", out)
    assert out.index("error ") < out.index("info ")  # in the details table too
    assert "best val" in out and "final" in out and "▁" in out


def test_terminal_quiet_prints_only_the_summary():
    c = console()
    print_report(report([diag("alpha", [finding("overfitting", "warning")])]), c, quiet=True)
    out = c.export_text()
    assert "alpha" in out and "warning: overfitting" in out and "source" not in out and "do something" not in out


def test_terminal_many_runs_detail_only_the_ones_that_need_a_look():
    healthy = [diag(f"ok{i:02d}", [finding("still-improving", "info")]) for i in range(11)]
    runs = [*healthy, diag("sick", [finding("overfitting", "warning", message="val went up")])]
    c = console()
    print_report(report(runs), c)
    out = c.export_text()
    assert out.count("source ") == 1 and "val went up" in out  # one panel: the run with a warning
    assert "ok00" in out and "ok10" in out  # every run is still in the summary table
    assert "11 runs without a warning or error are in the table only; --details all" in out

    c = console()
    print_report(report(runs), c, details="all")
    assert c.export_text().count("source ") == 12

    c = console()
    print_report(report(runs[:2]), c)  # few runs: every one in full
    assert c.export_text().count("source ") == 2
    c = console()
    print_report(report(runs[:2]), c, details="problems")
    out = c.export_text()
    assert out.count("source ") == 0 and "2 runs without" in out


def test_terminal_details_count_a_run_that_fails_the_policy_as_a_problem():
    runs = [diag(f"r{i:02d}", [finding("still-improving", "info")]) for i in range(12)]
    c = console()
    print_report(report(runs, fail_on="info"), c)
    assert c.export_text().count("source ") == 12


def test_terminal_honours_width():
    c = console(60)
    print_report(report([diag("alpha", [finding("overfitting", "warning", message="word " * 40)])]), c)
    assert max(len(line) for line in c.export_text().splitlines()) <= 60


def test_terminal_no_color_has_no_escape_codes(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    x, y = decay(30)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        f = write_csv(Path(tmp) / "a.csv", {"epoch": x, "loss": y})
        res = runner.invoke(app, ["analyze", str(f)], color=True, env={"NO_COLOR": "1", "FORCE_COLOR": None})
    assert "\x1b[" not in res.stdout and "a.csv" in res.stdout


def test_next_run_section_from_the_advice():
    d = diag("alpha", [finding("overfitting", "warning")])
    d.advice = ADVICE
    c = console()
    print_report(report([d]), c)
    out = c.export_text()
    assert "Next run" in out and "Best point: epoch 15" in out and "a note about the learning rate" in out
    md = markdown.render(report([d]))
    assert "**Next run**" in md and "- Best point: epoch 15" in md
    page = html.render(report([d]))
    assert "<strong>Next run</strong>" in page and "Best point: epoch 15" in page


def test_no_next_run_section_without_advice():
    d = diag("alpha", [finding("overfitting", "warning")])
    assert "Next run" not in markdown.render(report([d]))


# --- markdown -----------------------------------------------------------------------------------


def test_markdown_tables_escape_pipes_and_link_plots():
    d = diag("a|b", [finding("overfitting", "warning", message="val | train <b>bold</b>\nnext")])
    r = report([d])
    r.plots[0] = "plots/a_b.png"
    md = markdown.render(r)
    row = next(line for line in md.splitlines() if line.startswith("| 🟠 warning"))
    assert "val \\| train &lt;b&gt;bold&lt;/b&gt; next" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # five cells, nothing leaked out
    assert "![a\\|b](plots/a_b.png)" in md
    assert "❌" in row  # it fails --fail-on warning


# --- github -------------------------------------------------------------------------------------


def test_github_annotations_are_escaped():
    d = diag("r,un:1", [finding("overfitting", "warning", message="100% sure:\nline two, really")])
    d.history.source = "logs/a,b:c.csv"
    out = github.render(report([d], fail_on="never"))
    line = out.splitlines()[0]
    assert line.startswith("::warning file=logs/a%2Cb%3Ac.csv,title=lossdoc overfitting (warning) in r%2Cun%3A1 at")
    assert line.endswith("::100%25 sure: line two, really%0A→ do something")  # a message is one line


def test_github_failing_findings_are_errors_and_levels_are_capped():
    fs = [finding("loss-spike", "warning", i) for i in range(15)] + [finding("plateau", "info", i) for i in range(12)]
    fs += [finding("overfitting", "warning", 99)]
    r = report([diag("run", fs)], fail_on="overfitting", step_summary=True)
    lines = github.render(r).splitlines()
    levels = [m.group(1) for m in (re.match(r"::(\w+) ", ln) for ln in lines) if m]
    assert levels.count("error") == 1 and lines[0].startswith("::error ")  # the gate's finding, first
    assert levels.count("warning") == 10 and levels.count("notice") == 10
    assert "::notice title=lossdoc%3A more findings::" in lines[-2]
    # 5 warnings over the cap, and 3 notices: 9 are shown to keep a slot for this one
    assert "8 more findings not shown" in lines[-2] and "job summary" in lines[-2]
    assert lines[-1].startswith("lossdoc: 1 run analysed, 1 fails the --fail-on policy")


def test_github_writes_the_step_summary(tmp_path, monkeypatch):
    x, tr = decay(60, rate=4)
    _, va = u_shape(60, best=20, rise=0.6)
    f = write_csv(tmp_path / "log.csv", {"epoch": x, "loss": tr, "val_loss": va})
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    res = runner.invoke(app, ["analyze", str(f), "--format", "github", "--fail-on", "overfitting"],
                        env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert res.exit_code == 1
    assert res.stdout.startswith("::error file=") and "see the job summary" in res.stdout
    text = summary.read_text()
    assert text.startswith("earlier step\n## lossdoc report") and "`overfitting`" in text


# --- junit --------------------------------------------------------------------------------------


def test_junit_one_case_per_run_and_rule():
    d1 = diag("a.b", [finding("overfitting", "warning"), finding("plateau", "info")])
    d2 = diag("a b", [finding("divergence", "error"), finding("divergence", "error", 30)])
    r = report([d1, d2], errors=[InputError("bad.csv", "no column looks like a loss")])
    r.options.rules = [s for s in RULES if s != "oscillation"]
    root = ET.fromstring(junit.render(r))
    assert root.tag == "testsuites"
    cases = root.findall("testsuite/testcase")
    ids = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(ids) == len(set(ids)) == 2 * len(RULES) + 1
    assert {c for c, _ in ids} == {"lossdoc.a_b", "lossdoc.a_b_2", "lossdoc.bad_csv"}
    by_id = {(c.get("classname"), c.get("name")): c for c in cases}
    assert by_id["lossdoc.a_b", "overfitting"].find("failure").get("type") == "warning"
    plateau = by_id["lossdoc.a_b", "plateau"]
    assert plateau.find("failure") is None and "info" in plateau.find("system-out").text
    div = by_id["lossdoc.a_b_2", "divergence"].find("failure")
    assert div.text.count("→ do something") == 2
    assert by_id["lossdoc.a_b", "oscillation"].find("skipped") is not None
    assert by_id["lossdoc.bad_csv", "read"].find("error").get("message") == "no column looks like a loss"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("15", "2", "1", "2")
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))


def test_junit_strips_characters_xml_cannot_carry():
    d = diag("bad\x00name\x1b", [finding("overfitting", "warning", message="nul \x00 here")])
    root = ET.fromstring(junit.render(report([d])))
    assert root.find("testsuite/testcase").get("classname") == "lossdoc.bad\\x00name\\x1b"  # written as escapes


# --- html ---------------------------------------------------------------------------------------


def test_html_is_self_contained_with_embedded_plots():
    d = diag("<script>", [finding("overfitting", "warning", message="a < b & c")])
    page = html.render(report([d]))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<script>" not in page and "&lt;script&gt;" in page and "a &lt; b &amp; c" in page
    assert re.search(r'<img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}">', page)
    assert not re.search(r'(src|href)="(https?:)?//', page)


# --- plots --------------------------------------------------------------------------------------


def test_minmax_downsample_keeps_every_extreme():
    rng = np.random.default_rng(0)
    y = rng.normal(size=1_000_000)
    y[123_457] = 50.0
    y[765_433] = -50.0
    y[500_001] = np.nan
    x = np.arange(y.size, dtype=float)
    xs, ys = minmax_downsample(x, y)
    assert xs.size <= 4100 and np.all(np.diff(xs) > 0)
    assert np.nanmax(ys) == 50.0 and np.nanmin(ys) == -50.0 and np.isnan(ys).any()


@pytest.mark.parametrize("alpha", [255, 128])
def test_png_written_without_pillow_decodes_to_the_drawn_pixels(alpha):
    import io

    from PIL import Image

    from lossdoc.plot.canvas import png_bytes

    rgba = np.random.default_rng(0).integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    rgba[5, 7, 3] = 255  # partly transparent: an alpha channel is kept
    image = Image.open(io.BytesIO(png_bytes(rgba, 150, {"Title": "run"})))
    assert image.mode == ("RGB" if alpha == 255 else "RGBA")
    assert np.array_equal(np.asarray(image.convert("RGBA")), rgba)
    assert round(image.info["dpi"][0]) == 150 and image.info["Title"] == "run"


def test_several_loss_pairs_from_one_source_become_one_figure(tmp_path):
    runs = [diag(f"results [train/{k}_loss]", source="results.csv") for k in ("box", "cls", "dfl")]
    runs.append(diag("other"))
    assert groups(runs) == [[0, 1, 2], [3]]
    plans = plan_outputs(runs, tmp_path / "plots")
    assert [(idx, p.name) for idx, p in plans] == [([0, 1, 2], "results.png"), ([3], "other.png")]


def test_yolo_results_csv_plots_as_one_png_with_panels(tmp_path):
    header = "epoch, train/box_loss, train/cls_loss, val/box_loss, val/cls_loss, metrics/mAP50(B), lr/pg0"
    rows = [f"{e}, {1.5 / e:.4f}, {2.5 / e:.4f}, {1.6 / e + 0.01 * e:.4f}, {2.6 / e:.4f}, {0.1 * e:.3f}, 0.01"
            for e in range(1, 31)]  # fmt: skip
    f = tmp_path / "exp" / "results.csv"
    f.parent.mkdir()
    f.write_text(header + "\n" + "\n".join(rows) + "\n")
    res = runner.invoke(app, ["analyze", str(f), "--plot", str(tmp_path / "plots"), "--format", "json"])
    assert res.exit_code in (0, 1), res.output
    assert len(json.loads(res.stdout)["runs"]) == 2
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["exp.png"]


@pytest.mark.parametrize(
    ("name", "safe"),
    [("../../etc/passwd", "etc_passwd"), ("..", "run"), (".hidden", "hidden"), ("a/b\\c:d", "a_b_c_d"), ("", "run")],
)
def test_safe_names_never_leave_the_folder(name, safe):
    assert safe_name(name) == safe


def test_plots_for_runs_with_hostile_names_stay_inside_the_folder(tmp_path):
    runs = [diag(n, source=f"{i}.csv") for i, n in enumerate(["../escape", "..", "a/b", "A/B", "x"])]
    out = tmp_path / "plots"
    plans = plan_outputs(runs, out)
    names = [p.name for _, p in plans]
    assert len(set(n.lower() for n in names)) == len(names)
    assert all(p.parent == out for _, p in plans)


@pytest.mark.parametrize(("suffix", "magic"), [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_plot_format_follows_the_extension(tmp_path, suffix, magic):
    x, y = decay(50)
    f = write_csv(tmp_path / "a.csv", {"epoch": x, "loss": y})
    out = tmp_path / f"a{suffix}"
    assert runner.invoke(app, ["analyze", str(f), "--plot", str(out)]).exit_code == 0
    assert out.read_bytes().startswith(magic)


def test_plot_folder_never_overwrites_an_input(tmp_path):
    x, y = decay(50)
    f = write_csv(tmp_path / "b.png", {"epoch": x, "loss": y})  # a log named like the plot of b.csv
    g = write_csv(tmp_path / "b.csv", {"epoch": x, "loss": y})
    before = f.read_bytes()
    res = runner.invoke(app, ["analyze", str(f), str(g), "--plot", str(tmp_path)])
    assert res.exit_code == 2 and "b.png: refusing to overwrite an input file" in res.stderr
    assert f.read_bytes() == before and (tmp_path / "b.png.png").is_file()


def test_nan_positions_and_markers_do_not_break_a_plot(tmp_path):
    x, y = decay(400, noise=0.05)
    y[200:210] = np.nan
    y[100] *= 20
    h = LossHistory("n.csv", "csv", "n", "step", [Series("loss", "train", x, y)])
    from lossdoc.analysis import analyze
    from lossdoc.plot import draw

    d = analyze(h)
    assert {"non-finite", "loss-spike"} <= {f.rule for f in d.findings}
    out = draw(d, tmp_path / "n.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_sparklines_share_a_scale_and_draw_a_flat_curve_flat():
    from lossdoc.report.terminal import spark_scale, sparkline

    flat = 0.6931 + 0.0001 * np.sin(np.arange(60))  # a 0.03% wiggle next to "never learned"
    assert set(sparkline(flat)) == {"▄"}
    train, val = np.linspace(2.0, 0.2, 60), np.linspace(2.2, 1.0, 60)
    scale = spark_scale([train, val])
    # on the shared scale validation ends higher than training does, as it does in the log
    assert sparkline(val, scale=scale)[-1] > sparkline(train, scale=scale)[-1]


def test_terminal_prints_the_snippet_unwrapped_so_it_pastes():
    from lossdoc.advice import advise
    from lossdoc.analysis import analyze

    x, tr = decay(60, rate=4)
    _, va = u_shape(60, best=20, rise=0.6)
    h = history((x, tr), (x, va))
    h.format = "keras_csv"
    d = analyze(h)
    d.advice = advise(d)
    code = d.advice.recommendation.snippet.splitlines()
    assert max(len(line) for line in code) > 60
    c = console(width=60)
    print_report(report([d]), c)
    out = c.export_text().splitlines()
    for line in code:
        assert line in out  # whole, on one line of its own: not wrapped, cut or framed


def test_counts_agree_with_their_nouns_and_carry_thousands_separators():
    from lossdoc.advice.render import next_run_lines
    from lossdoc.words import count, fail_count

    assert count(1, "loss spike") == "1 loss spike" and count(2, "loss spike") == "2 loss spikes"
    assert count(1, "check") == "1 check" and count(12500, "check") == "12,500 checks"
    assert [fail_count(n) for n in (0, 1, 2, 1500)] == ["0 fail", "1 fails", "2 fail", "1,500 fail"]
    replay = [{"callback": "x", "params": {}, "stop_x": None}]
    assert "(1 check):" in next_run_lines(Advice(x_name="epoch", monitor="val_loss", checks=1, replay=replay))[0]
    assert "(2,000 checks):" in next_run_lines(Advice(x_name="epoch", monitor="m", checks=2000, replay=replay))[0]
    many = report([diag(f"r{i}") for i in range(1200)])
    assert "1,200 runs analysed · 0 fail the" in markdown.render(many)


def test_terminal_summary_at_80_columns_breaks_run_names_between_words():
    names = ["exp_a/lightning_logs/version_0", "a_very_long_experiment_name_for_sweeps/lightning_logs/version_0"]
    ds = [diag(n, [finding("plateau", "warning", message="the training loss never learned")]) for n in names]
    c = console(width=80)
    print_report(report(ds), c, quiet=True)
    lines = c.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    for word in ("lightning_logs/", "version_0", "exp_a/", "name_for_sweeps/"):
        assert any(word in cell for cell in cells), word


def test_step_summary_never_links_an_image_on_the_runners_disk(tmp_path):
    x, tr = decay(60, rate=4)
    _, va = u_shape(60, best=20, rise=0.6)
    f = write_csv(tmp_path / "overfit.csv", {"epoch": x, "loss": tr, "val_loss": va})
    summary = tmp_path / "summary.md"
    res = CliRunner().invoke(app, ["analyze", str(f), "-f", "github", "--plot", str(tmp_path / "plots")],
                             env={"GITHUB_STEP_SUMMARY": str(summary)})  # fmt: skip
    assert res.exit_code == 0, res.output
    text = summary.read_text()
    assert "![" not in text
    assert str(tmp_path / "plots" / "overfit.png") in text and "actions/upload-artifact" in text
    # a markdown document written with -f markdown still shows the image beside it
    doc = CliRunner().invoke(app, ["analyze", str(f), "-f", "markdown", "--plot", str(tmp_path / "plots")]).stdout
    assert f"]({tmp_path / 'plots' / 'overfit.png'})" in doc


def test_a_run_that_ends_non_finite_says_so_where_its_final_losses_are_shown(tmp_path):
    # final_train / final_val stay the last finite values (the JSON contract); every report says the run
    # ended NaN/Inf, as the advice does ("ended with a non-finite value"), instead of a number it did not end at
    x, tr = decay(40)
    va = tr * 1.2
    tr[-5:], va[-3:] = np.nan, np.inf
    f = write_csv(tmp_path / "nan.csv", {"epoch": x, "loss": tr, "val_loss": va})
    run = json.loads(runner.invoke(app, ["analyze", str(f), "--format", "json"]).stdout)["runs"][0]
    s = run["summary"]
    assert s["final_non_finite"] == ["train", "val"]
    assert s["final_train"] == pytest.approx(tr[-6]) and s["final_val"] == pytest.approx(va[-4])
    table = runner.invoke(app, ["analyze", str(f)], env={"COLUMNS": "160"}).stdout
    assert re.search(r"final +train non-finite \(last finite [0-9.]+\) · val non-finite \(last finite [0-9.]+\)", table)
    md = runner.invoke(app, ["analyze", str(f), "--format", "markdown"]).stdout
    assert "**final** train non-finite (last finite" in md
    f = write_csv(tmp_path / "ok.csv", {"epoch": x, "loss": decay(40)[1]})
    run = json.loads(runner.invoke(app, ["analyze", str(f), "--format", "json"]).stdout)["runs"][0]
    assert run["summary"]["final_non_finite"] == []
    assert "non-finite" not in runner.invoke(app, ["analyze", str(f)]).stdout
