"""``lossdoc watch``: the command; following the logs is :mod:`lossdoc.watch`."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lossdoc.cli.options import ShortX, column_option, format_option, output_option, plot_option, rules_option
from lossdoc.cli.output import emit, fail, write_plots
from lossdoc.errors import LossdocError, one_line


def watch(
    paths: Annotated[
        list[str],
        typer.Argument(
            metavar="PATH...",
            help="Logs being written (CSV, JSON lines, trainer_state.json, a TensorBoard folder); "
            "'-' reads a piped training log and passes it through to standard output.",
        ),
    ],
    until: Annotated[
        Optional[str],
        typer.Option(
            metavar="POLICY", help="Exit 1 as soon as a finding meets this: error, warning, info, or rule slugs."
        ),
    ] = None,
    on_finding: Annotated[
        Optional[str],
        typer.Option("--on-finding", metavar="CMD", help="Run CMD per new finding, with its JSON on standard input."),
    ] = None,
    interval: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds between polls of the files.")] = 1.0,
    timeout: Annotated[
        Optional[float],
        typer.Option(metavar="SECONDS", help="Stop watching after this long."),
    ] = None,
    idle_exit: Annotated[
        Optional[float],
        typer.Option("--idle-exit", metavar="SECONDS", help="Stop after this long without new data."),
    ] = None,
    format: Annotated[Optional[str], format_option("The final report: table (default), json, markdown, ...")] = None,
    output: Annotated[Optional[Path], output_option("Write the final report to FILE.")] = None,
    plot: Annotated[
        Optional[str], plot_option("Write plots at the end: a .png/.svg/.pdf file, or a folder for many.")
    ] = None,
    select: Annotated[Optional[str], rules_option("--select", "Only these rules.")] = None,
    ignore: Annotated[Optional[str], rules_option("--ignore", "Skip these rules.")] = None,
    x: ShortX = None,
    train: Annotated[Optional[str], column_option("--train", "The training-loss column.")] = None,
    val: Annotated[Optional[str], column_option("--val", "The validation-loss column.")] = None,
    min_confidence: Annotated[
        str, typer.Option("--min-confidence", metavar="LEVEL", help="Alert on findings this sure: high, medium, low.")
    ] = "medium",
    quiet: Annotated[bool, typer.Option("--quiet/--no-quiet", "-q", help="Only the summary table.")] = False,
) -> None:
    """Follow logs while a run writes them: alert on standard error as findings appear, then report.

    Exit codes: 1 when --until fires, 0 when the stream ends (standard input closes, --timeout,
    --idle-exit, Ctrl-C), 2 on input errors.
    """
    # start-up time: the follower, the rules and the policy import numpy; only when the command runs
    from lossdoc import watch as live
    from lossdoc.analysis import RULES
    from lossdoc.config import FORMATS
    from lossdoc.policy import FailPolicy, selected_rules, split_list

    try:
        if format is not None and format not in FORMATS:
            raise LossdocError("--format", f"'{format}' is not one of {', '.join(FORMATS)}")
        rules = selected_rules(split_list(select), split_list(ignore), RULES)
        policy = FailPolicy.parse(until or "never", RULES, min_confidence)
        if until:
            policy.check_rules(rules)
        for name, value in (("--interval", interval), ("--timeout", timeout), ("--idle-exit", idle_exit)):
            if value is not None and not value > 0:
                raise LossdocError(name, f"'{value}' is not a positive number of seconds")
        if paths.count("-") > 1 or "" in paths:
            raise LossdocError("PATH", "name standard input ('-') at most once, and no empty path")
    except LossdocError as exc:
        raise fail(f"{exc.source}: {exc.message}") from None
    options = live.Options(
        until=until,
        on_finding=on_finding,
        interval=interval,
        timeout=timeout,
        idle_exit=idle_exit,
        rules=rules,
        min_confidence=min_confidence,
        overrides={"x": x, "train": train, "val": val},
    )
    outcome = live.follow(paths, options, lambda line: typer.echo(f"lossdoc: {one_line(line)}", err=True))
    result = live.report(outcome, rules, policy, None, None, options.overrides)
    if plot:
        write_plots(result, Path(plot), None, set(paths))
    piped = "-" in paths and output is None
    with contextlib.redirect_stdout(sys.stderr) if piped else contextlib.nullcontext():
        emit(result, format or "table", quiet, "auto", output)
    raise typer.Exit(code=result.exit_code)
