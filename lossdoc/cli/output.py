"""Where the commands' results go: the report to standard output or a file (written atomically), the
plots, one line per error on standard error, and the exit code for an error before any log is read."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from lossdoc.errors import InputError, LossdocError, one_line
from lossdoc.outputs import FORMATTERS

if TYPE_CHECKING:
    from lossdoc.plot.helper import PlotHelper
    from lossdoc.report import Report


def fail(message: str) -> typer.Exit:
    typer.echo(f"lossdoc: {one_line(message)}", err=True)
    return typer.Exit(code=2)


def error_line(source: str, message: str) -> None:
    """One line on standard error for an input's error."""
    typer.echo(f"lossdoc: {one_line(source)}: {one_line(message)}", err=True)


def refused(exc: LossdocError) -> typer.Exit:
    """Exit code 2 for an error found before any log is read, said in one line."""
    error_line(exc.source, exc.message)
    return typer.Exit(code=2)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :mod:`lossdoc.atomic`): a reader (a CI step, an
    editor) never sees a half-written report, and a failed write leaves the old one."""
    from lossdoc.atomic import replacing  # start-up time: only when a report is written to a file

    with replacing(path, ".tmp") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def write_plots(
    report: Report, target: Path, smoothing: float | None, inputs: set[str], helper: PlotHelper | None = None
) -> None:
    if helper is not None:
        helper.write(report, target, smoothing, inputs)
    else:
        from lossdoc.plot.files import write_plots as write  # start-up time: matplotlib only when plotting

        write(report, target, smoothing, inputs)


def emit(report: Report, format: str, quiet: bool, details: str = "auto", output: Path | None = None) -> None:
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY") if format == "github" else None
    report.options.step_summary = bool(summary_file)
    if output is not None:
        if format == "table":
            # start-up time: rich's console and the table report only when a table is written
            import io

            from rich.console import Console

            from lossdoc.report.terminal import print_report

            buffer = io.StringIO()
            print_report(report, Console(file=buffer), quiet=quiet, details=details)
            text = buffer.getvalue()
        else:
            text = FORMATTERS[format].renderer().render(report)
        try:
            write_atomic(output, text)
        except OSError as exc:
            report.errors.append(InputError(str(output), f"cannot write the report ({exc.strerror or exc})"))
            report.exit_code = 2
    else:
        with contextlib.suppress(AttributeError, ValueError):
            # Whatever the terminal's encoding, a character it cannot show is written as an escape.
            sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        try:
            if format == "table":
                from lossdoc.report.terminal import QuietOnBrokenPipe, print_report  # start-up time: rich

                print_report(report, QuietOnBrokenPipe(), quiet=quiet, details=details)
            else:
                sys.stdout.write(FORMATTERS[format].renderer().render(report))
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped reading (``| head -1``): what it took is what it wanted. The exit code
            # keeps its meaning, and the error lines still go to stderr.
            drop_stdout()
        except OSError as exc:
            drop_stdout()
            typer.echo(f"lossdoc: cannot write the report to standard output ({exc.strerror or exc})", err=True)
            report.exit_code = 2
    if summary_file:
        from lossdoc.report.markdown import render as markdown

        try:
            report.options.for_step_summary = True
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(markdown(report))
        except OSError as exc:
            typer.echo(f"lossdoc: $GITHUB_STEP_SUMMARY: cannot write ({exc.strerror or exc})", err=True)
    for e in report.errors:
        error_line(e.source, e.message)


def drop_stdout() -> None:
    """Point standard output at the null device, so that nothing buffered for a closed or full
    output is written again at exit (which would print a traceback)."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` wins), at most 100 columns: prose wider than that is hard to read."""
    import shutil  # start-up time: only for the commands that print prose

    return max(40, min(100, shutil.get_terminal_size((100, 24)).columns))
