"""``lossdoc analyze``: read the logs, diagnose them, write the report and plots, exit with the policy's code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from lossdoc.cli.options import Train, Val, X, format_option, output_option, plot_option, rules_option
from lossdoc.cli.output import emit, fail, write_plots
from lossdoc.errors import LossdocError
from lossdoc.outputs import formats_help

if TYPE_CHECKING:
    from lossdoc.history import LossHistory
    from lossdoc.plot.helper import PlotHelper
    from lossdoc.policy import FailPolicy
    from lossdoc.report import Report


def analyze(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH...", help="Log files, folders or globs; '-' reads standard input.")
    ],
    format: Annotated[Optional[str], format_option(formats_help())] = None,
    output: Annotated[Optional[Path], output_option("Write the report to FILE (atomically) instead of stdout.")] = None,
    plot: Annotated[
        Optional[str],  # a str: typer would make '' the current folder
        plot_option("Write plots: a .png/.svg/.pdf file for one run, a folder for many."),
    ] = None,
    fail_on: Annotated[
        Optional[str],
        typer.Option(
            "--fail-on",
            metavar="POLICY",
            help="never, info, warning, error (default), or rule slugs (comma-separated).",
        ),
    ] = None,
    select: Annotated[Optional[str], rules_option("--select", "Only these rules (comma-separated slugs).")] = None,
    ignore: Annotated[Optional[str], rules_option("--ignore", "Skip these rules (comma-separated slugs).")] = None,
    x: X = None,
    train: Train = None,
    val: Val = None,
    min_confidence: Annotated[
        Optional[str],
        typer.Option(
            "--min-confidence",
            metavar="LEVEL",
            help="Findings --fail-on counts: high, medium (default) or low (every finding).",
        ),
    ] = None,
    smoothing: Annotated[
        Optional[str],
        typer.Option(
            metavar="WEIGHT", help="EMA weight of the plotted smooth curves, 0 to below 1, or 'auto' (default)."
        ),
    ] = None,
    quiet: Annotated[
        Optional[bool],
        typer.Option("--quiet/--no-quiet", "-q", help="Only the summary table and errors."),
    ] = None,
    details: Annotated[
        Optional[str],
        typer.Option(
            metavar="WHICH",
            help="Runs the table prints in full: auto (every run up to 10, else those with a warning or error), "
            "all, or problems.",
        ),
    ] = None,
    framework: Annotated[
        Optional[str],
        typer.Option(
            metavar="NAME",
            help="Write advice and snippets for this framework instead of the one guessed from each log: "
            "keras, lightning, pytorch, huggingface, xgboost, lightgbm, sklearn or generic.",
        ),
    ] = None,
    param: Annotated[
        Optional[list[str]],
        typer.Option(
            "--param",
            metavar="RULE.KEY=VALUE",
            help="A rule threshold, RULE.KEY=VALUE (e.g. overfitting.min_rise=0.1); repeatable.",
        ),
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option(
            "--config", metavar="FILE", help="Settings file: a pyproject.toml ([tool.lossdoc]) or a lossdoc.toml."
        ),
    ] = None,
    jobs: Annotated[
        Optional[str],
        typer.Option("--jobs", "-j", metavar="N", help="Processes for many logs (default: one per CPU; 1 = no pool)."),
    ] = None,
    max_input_size: Annotated[
        Optional[str],
        typer.Option(
            "--max-input-size", metavar="SIZE", help="Refuse an input larger than this (default 1 GiB), e.g. '4 GiB'."
        ),
    ] = None,
    group_by: Annotated[
        Optional[str],
        typer.Option(
            "--group-by",
            metavar="PARAMS",
            help="Summarise the runs as a sweep by these hyperparameters (comma-separated); default: those "
            "that vary among the runs, when they carry any; 'none' turns it off.",
        ),
    ] = None,
    experiment: Annotated[
        Optional[str],
        typer.Option(metavar="NAME", help="MLflow store or server: only the runs of this experiment."),
    ] = None,
) -> None:
    """Diagnose loss logs: a report, optional plots, and an exit code (0 ok, 1 findings, 2 input error).

    Every option can also be set in [tool.lossdoc] of the nearest pyproject.toml (or --config FILE);
    options given here win.
    """
    # With --plot, a helper process imports matplotlib from now on, while this one reads and analyses.
    early = _plot_helper() if plot is not None and (jobs or "").strip() != "1" else None
    # start-up time: the settings, the rules and the policy import numpy; only when a command runs
    from lossdoc import config as cfg
    from lossdoc.analysis import RULES
    from lossdoc.policy import FailPolicy, selected_rules

    given = {
        "format": format,
        "details": details,
        "smoothing": smoothing,
        "fail_on": fail_on,
        "min_confidence": min_confidence,
        "select": select,
        "ignore": ignore,
        "framework": framework,
        "param": param,
        "max_input_size": max_input_size,
        "plot": plot,
        "quiet": quiet,
        "x": x or None,  # an empty column name is no override: the settings' one stands
        "train": train or None,
        "val": val or None,
    }
    try:
        if "" in paths:
            raise LossdocError("''", "an empty path is not a log (the current folder is '.')")
        if plot == "":
            raise LossdocError("--plot", "an empty path is not a place for plots (the current folder is '.')")
        settings = cfg.load(config).merged(given)
        policy = FailPolicy.parse(settings.fail_on, RULES, settings.min_confidence)
        rules = selected_rules(settings.select, settings.ignore, RULES)
        policy.check_rules(rules)
        workers = _jobs(jobs)
        plot_to = Path(settings.plot) if settings.plot else None
        if plot_to is not None:
            from lossdoc.plot.files import check_target  # start-up time: the plot package only with --plot

            check_target(plot_to, set(paths))
        if output is not None:
            _check_output(output, paths)
    except LossdocError as exc:
        if early is not None:
            early.close()
        raise fail(f"{exc.source}: {exc.message}") from None
    if settings.max_input_size is not None:
        from lossdoc.ingest.source import set_max_input_bytes

        set_max_input_bytes(settings.max_input_size)  # before the pool forks: its workers inherit it
    overrides = {"x": settings.x, "train": settings.train, "val": settings.val}
    if experiment is not None:
        overrides["experiment"] = experiment  # read by the MLflow store and server readers only

    helper = early or (_plot_helper() if plot_to is not None and workers > 1 else None)
    smooth = settings.smoothing
    # each log's curves go to the helper as soon as it is read: drawn there while the log is analysed
    on_read = (lambda histories: helper.ahead(histories, smooth)) if helper is not None else None
    try:
        report = run_analysis(
            paths, rules, overrides, policy, settings.rules, jobs=workers, on_read=on_read, framework=settings.framework
        )
        report.options.rules, report.options.fail_on, report.options.smoothing = rules, policy, smooth
        _add_sweep(report, group_by)
        if plot_to is not None:
            write_plots(report, plot_to, smooth, set(paths), helper)
            _plot_sweep(report, plot_to)
    except BaseException:
        if helper is not None:
            helper.close(abort=True)
        raise
    finally:
        if helper is not None:
            helper.close()
    emit(report, settings.format, settings.quiet, settings.details, output)
    raise typer.Exit(code=report.exit_code)


def _add_sweep(report: Report, group_by: str | None) -> None:
    """A ``sweep`` summary (lossdoc.compare.sweep) when the runs carry hyperparameters or --group-by asks."""
    if (group_by or "").strip().lower() == "none" or len(report.diagnoses) < 2:
        return
    from lossdoc.compare.params import forget, run_params
    from lossdoc.compare.sweep import summarize
    from lossdoc.policy import split_list

    forget()
    params = [run_params(d.history.source) for d in report.diagnoses]
    report.options.sweep = summarize(report.diagnoses, params, split_list(group_by) if group_by else None)


def _plot_sweep(report: Report, target: Path) -> None:
    if report.options.sweep is not None and target.is_dir():
        from lossdoc.compare.sweep import plot_sweep

        plot_sweep(report.options.sweep, str(target / "sweep.png"))


def _check_output(output: Path, paths: list[str]) -> None:
    if output.is_dir():
        raise LossdocError("--output", f"'{output}' is a folder; name a file")
    if output.exists() and output.resolve() in {Path(p).resolve() for p in paths if p != "-"}:
        raise LossdocError("--output", f"'{output}' is an input; refusing to overwrite it with the report")


def _jobs(value: str | None) -> int:
    from lossdoc.batch import default_jobs

    if value is None:
        return default_jobs()
    if not (value.strip().isascii() and value.strip().isdigit()) or int(value) < 1:
        raise LossdocError("--jobs", f"'{value}' is not a number of processes (1 or more)")
    return int(value)


def run_analysis(
    paths: list[str],
    rules: list[str],
    overrides: dict[str, str | None],
    policy: FailPolicy,
    rule_params: dict[str, dict[str, object]] | None = None,
    jobs: int = 1,
    on_read: Callable[[list[LossHistory]], None] | None = None,
    framework: str | None = None,
) -> Report:
    """Read, analyse and advise on every log (in ``jobs`` processes when there are many), in input
    order; ``on_read`` is given each log's runs read in this process before they are analysed."""
    # start-up time: the pool, the readers and the report import numpy; only when a command runs
    from lossdoc.batch import AnalysisFailure, Job, diagnose_all
    from lossdoc.ingest import load_paths
    from lossdoc.policy import exit_code
    from lossdoc.report import Report

    job = Job(overrides, rules, rule_params, framework)
    results, errors = load_paths(paths, overrides, read_all=lambda refs, _: diagnose_all(refs, job, jobs, on_read))
    diagnoses = [r for r in results if not isinstance(r, AnalysisFailure)]
    errors += [r.error for r in results if isinstance(r, AnalysisFailure)]
    return Report(diagnoses=diagnoses, errors=errors, exit_code=exit_code(diagnoses, len(errors), policy))


def _plot_helper() -> PlotHelper:
    from lossdoc.plot.helper import PlotHelper  # start-up time: the helper process imports matplotlib

    return PlotHelper()


__all__ = ["analyze", "run_analysis"]
