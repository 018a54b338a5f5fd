"""The command line: wires ingest → analysis → report. The commands live in their own modules
(:mod:`lossdoc.cli.analyze`, :mod:`lossdoc.cli.watch`, :mod:`lossdoc.cli.compare`), the options
they share in :mod:`lossdoc.cli.options`, where their output goes in :mod:`lossdoc.cli.output`; this
module is the app and the process's start and end. Heavy imports happen inside the commands, so
``lossdoc --help`` never loads pandas or matplotlib."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import MutableMapping
from typing import Annotated, Any, Optional

import typer

from lossdoc import __version__
from lossdoc.cli.analyze import analyze, run_analysis
from lossdoc.cli.compare import compare, golden_app, golden_check, golden_save
from lossdoc.cli.output import drop_stdout, emit, fail, terminal_width, write_atomic, write_plots
from lossdoc.cli.watch import watch
from lossdoc.lean_typer import LeanCommand, LeanGroup, only_the_invoked_command

__all__ = ["app", "emit", "main", "run_analysis", "write_atomic", "write_plots"]

app = typer.Typer(
    name="lossdoc",
    help="A doctor for training-loss logs: finds divergence, NaN/Inf, spikes, plateaus, overfitting and "
    "runs stopped too early; says where, why and what to do; plots it; gates CI with its exit code.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    cls=LeanGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lossdoc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],  # typer needs Optional at runtime on 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
) -> None:
    """lossdoc: a command-line doctor for training-loss histories."""


app.command(cls=LeanCommand)(analyze)
app.command(cls=LeanCommand)(watch)


@app.command(cls=LeanCommand)
def explain(
    rule: Annotated[
        Optional[str],
        typer.Argument(metavar="RULE", help="A rule slug, e.g. overfitting; none lists the rules."),
    ] = None,
) -> None:
    """Print a rule's documentation: what it means, why it matters, what to do, and its parameters."""
    from lossdoc.analysis import RULES  # start-up time: the rules import numpy; only when a command runs
    from lossdoc.docs import rule_text

    if rule is None:
        list_rules()
        typer.echo("\nlossdoc explain RULE prints a rule's documentation.")
        return
    if rule not in RULES:
        raise fail(f"unknown rule '{rule}'; rules are: {', '.join(RULES)}")
    typer.echo(rule_text(RULES[rule], terminal_width()))


@app.command("rules", cls=LeanCommand)
def list_rules() -> None:
    """List the rules with their default severity."""
    from lossdoc.analysis import RULES  # start-up time, as above

    width = max(len(s) for s in RULES)
    for slug, rule in RULES.items():
        typer.echo(f"{slug:<{width}}  {rule.severity:<7}  {rule.summary}")


@app.command(cls=LeanCommand)
def formats() -> None:
    """List the log formats lossdoc reads and how each is recognised."""
    from lossdoc.docs import formats_text  # start-up time: the reader table only when listed

    typer.echo(formats_text(terminal_width()))


app.command("compare", cls=LeanCommand)(compare)
golden_app.command("save", cls=LeanCommand)(golden_save)
golden_app.command("write", cls=LeanCommand, hidden=True)(golden_save)  # the name the design notes use
golden_app.command("check", cls=LeanCommand)(golden_check)
app.add_typer(golden_app, name="golden", cls=LeanGroup)


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
"""Set to 1 for the command line (unless the user set them): lossdoc's matrix products are tiny, and the
pool of threads OpenBLAS starts when numpy is imported costs more CPU than analysing a small log."""


def one_blas_thread(environ: MutableMapping[str, str]) -> None:
    """One BLAS thread, unless the user chose a number (see BLAS_THREADS); before numpy is imported."""
    for var in BLAS_THREADS:
        environ.setdefault(var, "1")


def main() -> None:
    one_blas_thread(os.environ)  # lossdoc.cli does not import numpy: nothing has started BLAS yet
    if not sys.warnoptions:
        import warnings

        # A library's warning (numpy overflow while matplotlib picks ticks for 1e308) is not the
        # user's business and would break "one stderr line per bad file"; -W still shows them.
        warnings.simplefilter("ignore")
    import signal

    with contextlib.suppress(ValueError):  # not the main thread (lossdoc called from a program)
        signal.signal(signal.SIGTERM, _terminated)
    try:
        with only_the_invoked_command(app, sys.argv[1:]):
            app()
    except KeyboardInterrupt:  # (Typer turns one into exit code 130, below)
        _interrupted(130)
    except SystemExit as done:
        if done.code == 130 and _from_interrupt(done):
            _interrupted(130)
        if isinstance(done.code, int) or done.code is None:
            _exit_now(done.code or 0)
        raise


def _terminated(signum: int, frame: Any) -> None:
    """SIGTERM: stop the plot helper and the pool's workers (no orphan goes on writing plots), remove
    the plot or report being written, then end as a terminated process does. Done here, not by raising an
    exception, which a finaliser running at that moment would swallow."""
    import signal

    if "lossdoc.batch" in sys.modules:
        sys.modules["lossdoc.batch"].stop_children()
    if "lossdoc.atomic" in sys.modules:
        sys.modules["lossdoc.atomic"].remove_partial()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _from_interrupt(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _interrupted(code: int) -> None:
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write("lossdoc: interrupted\n")
    _exit_now(code)


def _exit_now(code: int) -> None:
    """End the process without tearing the interpreter down: freeing a long run's arrays and every
    module object by object costs more than analysing a small log (benchmarks/README.md). All output
    is flushed first; lossdoc leaves no other work for exit time (its process pools are shut down).
    Output that cannot be written (a full disk) is exit code 2 with one line; a closed pipe keeps the
    exit code (the reader took what it wanted)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        drop_stdout()
    except (OSError, ValueError):
        drop_stdout()
        code = 2
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("lossdoc: cannot write to standard output\n")
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
