"""``lossdoc compare`` and ``lossdoc golden``: the typer commands (the comparison itself is
:mod:`lossdoc.compare`). Imports nothing heavy until they run (``lossdoc --help`` stays fast);
:mod:`lossdoc.cli` registers them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lossdoc.cli.options import ShortX, Train, Val, X, column_option, format_option, output_option, plot_option
from lossdoc.cli.output import error_line, refused, write_atomic
from lossdoc.errors import InputError, LossdocError, one_line

FORMATS = ("table", "json", "markdown", "html", "github", "junit")


def compare(
    baseline: Annotated[str, typer.Argument(metavar="BASELINE", help="The reference run's log (one run).")],
    candidates: Annotated[
        list[str], typer.Argument(metavar="CANDIDATE...", help="Logs, folders or globs of the runs to judge.")
    ],
    max_regression: Annotated[
        Optional[str],
        typer.Option(
            "--max-regression",
            metavar="PCT",
            help="Fail when the metric is more than PCT above the baseline's (default 5%; 'off' disables).",
        ),
    ] = None,
    metric: Annotated[
        Optional[str],
        typer.Option(metavar="METRIC", help="best_val (default), final_val, best_train or final_train."),
    ] = None,
    fail_on_new: Annotated[
        Optional[str],
        typer.Option(
            "--fail-on-new",
            metavar="SEVERITY",
            help="Fail on a finding the baseline has not, at or above: never, info, warning, error (default).",
        ),
    ] = None,
    target: Annotated[
        Optional[str],
        typer.Option(metavar="LOSS", help="Time each run to this loss (default: the baseline's best, smoothed)."),
    ] = None,
    format: Annotated[Optional[str], format_option("table (default), json, markdown, html, github, junit.")] = None,
    output: Annotated[Optional[Path], output_option("Write the report to FILE instead of stdout.")] = None,
    plot: Annotated[
        Optional[str], plot_option("Overlay the runs in a .png/.svg/.pdf (baseline grey, departures marked).", "FILE")
    ] = None,
    x: X = None,
    train: Train = None,
    val: Val = None,
) -> None:
    """Compare candidate runs with a baseline: deltas, speed, where the curves part, new findings.

    Exit 0 when every candidate is within the gate, 1 when one regresses (--max-regression on
    --metric, or a new finding at --fail-on-new), 2 on an input or usage error.
    """
    # start-up time: the comparison reads and analyses logs (numpy); only when the command runs
    from lossdoc.compare.gate import Gate
    from lossdoc.compare.load import diagnose_paths
    from lossdoc.compare.report import build

    try:
        gate = Gate.parse(metric, max_regression, fail_on_new)
        fmt = (format or "table").strip().lower()
        if fmt not in FORMATS:
            raise LossdocError("--format", f"'{format}' is not one of {', '.join(FORMATS)}")
        goal = _target(target)
    except LossdocError as exc:
        raise refused(exc) from None
    overrides = {"x": x, "train": train, "val": val}
    base_runs, errors = diagnose_paths([baseline], overrides)
    base = None
    if len(base_runs) > 1:
        errors.append(InputError(baseline, f"holds {len(base_runs)} runs; a baseline is one run (name one log)"))
    elif base_runs:
        base = base_runs[0]
        role, words = gate.needs()
        if base.history.get(role) is None:  # type: ignore[arg-type]
            other = "train" if role == "val" else "val"
            errors.append(InputError(baseline, f"has no {words.split(' ', 1)[1]}; use --metric best_{other}"))
            base = None
    cand_runs, cand_errors = diagnose_paths(candidates, overrides)
    errors += cand_errors
    report = build(base, cand_runs, gate, errors, goal)
    if plot and report.baseline is not None:
        from lossdoc.compare.plot import write_plot

        try:
            write_plot(report, plot)
            report.plot = plot
        except (OSError, ValueError) as exc:
            report.errors.append(InputError(plot, f"cannot write the plot ({exc})"))
    _emit(report, fmt, output)
    for e in report.errors:
        error_line(e.source, e.message)
    raise typer.Exit(code=report.exit_code)


def _target(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise LossdocError("--target", f"'{text}' is not a loss value") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise LossdocError("--target", f"'{text}' is not a finite loss value")
    return value


def _emit(report: object, fmt: str, output: Path | None) -> None:
    from lossdoc.compare.render import RENDERERS, print_table  # start-up time: rich

    if fmt == "table":
        import io

        from rich.console import Console

        if output is None:
            print_table(report, Console(highlight=False))  # type: ignore[arg-type]
            return
        buffer = io.StringIO()
        print_table(report, Console(file=buffer, highlight=False, width=100))  # type: ignore[arg-type]
        text = buffer.getvalue()
    else:
        text = RENDERERS[fmt](report)  # type: ignore[arg-type]
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY") if fmt == "github" else None
    if summary_file:  # the annotations say what failed; the job summary shows the whole table
        try:
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(RENDERERS["markdown"](report))  # type: ignore[arg-type]
        except OSError as exc:
            typer.echo(f"lossdoc: $GITHUB_STEP_SUMMARY: cannot write ({exc.strerror or exc})", err=True)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(output, text)


GoldenTrain = Annotated[Optional[str], column_option("--train", "The training loss column.")]
GoldenVal = Annotated[Optional[str], column_option("--val", "The validation loss column.")]

golden_app = typer.Typer(
    name="golden",
    help="Golden curves: keep a run's smoothed curve and noise band in the repository; check new runs against it.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _one_run(path: str, overrides: dict[str, str | None]) -> object:
    from lossdoc.compare.load import diagnose_paths

    runs, errors = diagnose_paths([path], overrides)
    if errors:
        raise LossdocError(errors[0].source, errors[0].message)
    if len(runs) != 1:
        raise LossdocError(path, f"holds {len(runs)} runs; name one log")
    return runs[0]


def golden_save(
    run: Annotated[str, typer.Argument(metavar="RUN", help="The run's log (one run).")],
    file: Annotated[
        Optional[Path],
        typer.Argument(metavar="[FILE]", help="Where to write the golden file (or --out)."),
    ] = None,
    out: Annotated[
        Optional[Path],
        typer.Option("--out", metavar="FILE", help="Where to write the golden file."),
    ] = None,
    x: ShortX = None,
    train: GoldenTrain = None,
    val: GoldenVal = None,
) -> None:
    """Write a golden file: the run's smoothed curves, noise band, best point, findings (exit 2 on errors)."""
    try:
        target = file or out
        if target is None:
            raise LossdocError("golden save", "name the golden file: lossdoc golden save RUN FILE")
        from lossdoc.compare.golden import golden_document
        from lossdoc.report.json import dumps

        doc = golden_document(_one_run(run, {"x": x, "train": train, "val": val}))  # type: ignore[arg-type]
        try:
            write_atomic(target, dumps(doc) + "\n")
        except OSError as exc:
            raise LossdocError(str(target), f"cannot write ({exc.strerror or exc})") from None
    except LossdocError as exc:
        raise refused(exc) from None
    typer.echo(f"wrote {target} ({', '.join(doc['series'])} of {one_line(doc['name'])})")


def golden_check(
    run: Annotated[str, typer.Argument(metavar="RUN", help="The new run's log (one run).")],
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The golden file.")],
    tolerance: Annotated[
        Optional[str],
        typer.Option(metavar="TOL", help="auto (default: the wider of the two runs' noise bands) or a percentage."),
    ] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Require bit-identical logged values (deterministic training).")
    ] = False,
    format: Annotated[Optional[str], format_option("table (default) or json.")] = None,
    x: ShortX = None,
    train: GoldenTrain = None,
    val: GoldenVal = None,
) -> None:
    """Check a run against a golden file: exit 0 inside the band, 1 when it leaves it, 2 on errors."""
    from lossdoc.compare.golden import check, parse_tolerance, read_golden  # start-up time: numpy

    try:
        fmt = (format or "table").strip().lower()
        if fmt not in ("table", "json"):
            raise LossdocError("--format", f"'{format}' is not one of table, json")
        tol = parse_tolerance(tolerance)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise LossdocError(str(file), "file not found" if not file.exists() else str(exc.strerror)) from None
        golden = read_golden(text, str(file))
        result = check(_one_run(run, {"x": x, "train": train, "val": val}), golden, tol, exact)  # type: ignore[arg-type]
    except LossdocError as exc:
        raise refused(exc) from None
    code = 0 if result.passed else 1
    if fmt == "json":
        from lossdoc.report.json import dumps

        doc = {
            "schema": "lossdoc.golden-check",
            "schema_version": 1,
            "golden": str(file),
            "run": run,
            "tolerance": result.tolerance,
            "passed": result.passed,
            "series": [
                {
                    "series": s.role,
                    "passed": s.passed,
                    "message": s.message,
                    "departure_x": s.departure_x,
                    "direction": s.direction,
                }
                for s in result.series
            ],
            "notes": result.notes,
            "exit_code": code,
        }
        typer.echo(dumps(doc))
    else:
        typer.echo(
            f"{'PASS' if result.passed else 'FAIL'}: {one_line(run)} against {one_line(str(file))} "
            f"(tolerance {result.tolerance})"
        )
        for s in result.series:
            typer.echo(f"  {'✓' if s.passed else '✗'} {one_line(s.message)}")
        for n in result.notes:
            typer.echo(f"  note: {one_line(n)}")
    raise typer.Exit(code=code)
