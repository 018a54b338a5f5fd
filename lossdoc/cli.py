"""The command line: wires ingest → analysis → report. Heavy imports happen inside the commands,
so ``lossdoc --help`` never loads pandas or matplotlib."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lossdoc import __version__

app = typer.Typer(
    name="lossdoc",
    help="A doctor for training-loss logs: finds divergence, NaN/Inf, spikes, plateaus, overfitting and "
    "runs stopped too early; says where, why and what to do; plots it; gates CI with its exit code.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

FORMAT_CHOICES = ("table", "json")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lossdoc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional at runtime on 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """lossdoc: a command-line doctor for training-loss histories."""


def _fail(message: str) -> typer.Exit:
    typer.echo(f"lossdoc: {message}", err=True)
    return typer.Exit(code=2)


@app.command()
def analyze(
    paths: Annotated[list[str], typer.Argument(help="Log files, folders or globs; '-' reads standard input.")],
    format: Annotated[str, typer.Option("--format", "-f", help="table, json")] = "table",
    plot: Annotated[Optional[Path], typer.Option(help="Write plots: a file for one run, a folder for many.")] = None,  # noqa: UP045
    fail_on: Annotated[
        str, typer.Option("--fail-on", help="never, info, warning, error, or rule slugs (comma-separated).")
    ] = "error",
    select: Annotated[Optional[str], typer.Option(help="Only these rules (comma-separated slugs).")] = None,  # noqa: UP045
    ignore: Annotated[Optional[str], typer.Option(help="Skip these rules (comma-separated slugs).")] = None,  # noqa: UP045
    x: Annotated[Optional[str], typer.Option("--x", help="Column to use as the x axis.")] = None,  # noqa: UP045
    train: Annotated[Optional[str], typer.Option("--train", help="Column holding the training loss.")] = None,  # noqa: UP045
    val: Annotated[Optional[str], typer.Option("--val", help="Column holding the validation loss.")] = None,  # noqa: UP045
    smoothing: Annotated[float, typer.Option(help="EMA weight for plotted curves (0-1).")] = 0.6,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary table and errors.")] = False,
) -> None:
    """Diagnose loss logs: a report, optional plots, and an exit code (0 ok, 1 findings, 2 input error)."""
    from lossdoc.analysis import RULES
    from lossdoc.errors import LossdocError
    from lossdoc.policy import FailPolicy, selected_rules, split_list

    if format not in FORMAT_CHOICES:
        raise _fail(f"--format: '{format}' is not one of {', '.join(FORMAT_CHOICES)}")
    if not 0.0 <= smoothing < 1.0:
        raise _fail("--smoothing: must be at least 0 and below 1")
    try:
        policy = FailPolicy.parse(fail_on, RULES)
        rules = selected_rules(split_list(select), split_list(ignore), RULES)
    except LossdocError as exc:
        raise _fail(f"{exc.source}: {exc.message}") from None

    report = run_analysis(paths, rules, {"x": x, "train": train, "val": val}, policy)
    if plot is not None:
        write_plots(report, plot, smoothing, set(paths))
    emit(report, format, quiet)
    raise typer.Exit(code=report.exit_code)


def run_analysis(paths: list[str], rules: list[str], overrides: dict[str, str | None], policy: object) -> object:
    from lossdoc.advice import advise
    from lossdoc.analysis import analyze as analyze_run
    from lossdoc.ingest import InputError, load_paths
    from lossdoc.policy import exit_code
    from lossdoc.report import Report

    histories, errors = load_paths(paths, overrides)
    diagnoses = []
    for h in histories:
        try:
            diagnosis = analyze_run(h, rules)
            diagnosis.advice = advise(diagnosis)
            diagnoses.append(diagnosis)
        except Exception as exc:  # a bug must cost one run, never the whole call
            errors.append(InputError(h.source, f"internal error while analysing run '{h.name}': {exc!r}"))
    return Report(diagnoses=diagnoses, errors=errors, exit_code=exit_code(diagnoses, len(errors), policy))


def write_plots(report: object, target: Path, smoothing: float, inputs: set[str]) -> None:
    from lossdoc.ingest import InputError
    from lossdoc.report import Report
    from lossdoc.report.plot import draw, safe_name

    assert isinstance(report, Report)
    protected = {Path(p).resolve() for p in inputs if p != "-"}
    protected |= {Path(d.history.source).resolve() for d in report.diagnoses if d.history.source != "<stdin>"}
    suffixes = (".png", ".svg", ".pdf")
    single_file = target.suffix.lower() in suffixes
    used: set[str] = set()
    for i, d in enumerate(report.diagnoses):
        if single_file and len(report.diagnoses) == 1:
            out = target
        else:
            folder = target.parent if single_file else target
            stem = f"{target.stem}_" if single_file else ""
            base = stem + safe_name(d.history.name)
            name, k = base, 1
            while name in used:
                k += 1
                name = f"{base}_{k}"
            used.add(name)
            out = folder / f"{name}{target.suffix.lower() if single_file else '.png'}"
        if out.resolve() in protected:
            report.errors.append(InputError(str(out), "refusing to overwrite an input file with a plot"))
            report.exit_code = 2
            continue
        try:
            draw(d, out, smoothing)
            report.plots[i] = str(out)
        except (OSError, ValueError) as exc:
            report.errors.append(InputError(str(out), f"cannot write plot ({exc})"))
            report.exit_code = 2


def emit(report: object, format: str, quiet: bool) -> None:
    from lossdoc.report import Report

    assert isinstance(report, Report)
    if format == "json":
        from lossdoc.report.json import render

        sys.stdout.write(render(report))
    else:
        from rich.console import Console

        from lossdoc.report.terminal import print_report

        print_report(report, Console(), quiet=quiet)
    for e in report.errors:
        typer.echo(f"lossdoc: {e.source}: {e.message}", err=True)


@app.command()
def explain(rule: Annotated[str, typer.Argument(help="A rule slug, e.g. overfitting.")]) -> None:
    """Print a rule's documentation: what it means, why it matters, what to do, and its parameters."""
    from lossdoc.analysis import RULES
    from lossdoc.docs import rule_text

    if rule not in RULES:
        raise _fail(f"unknown rule '{rule}'; rules are: {', '.join(RULES)}")
    typer.echo(rule_text(RULES[rule]))


@app.command("rules")
def list_rules() -> None:
    """List the rules with their default severity."""
    from lossdoc.analysis import RULES

    width = max(len(s) for s in RULES)
    for slug, rule in RULES.items():
        typer.echo(f"{slug:<{width}}  {rule.severity:<7}  {rule.summary}")


@app.command()
def formats() -> None:
    """List the log formats lossdoc reads and how each is recognised."""
    from lossdoc.docs import FORMATS_TEXT

    typer.echo(FORMATS_TEXT)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("lossdoc: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
