"""The command line: wires ingest → analysis → report. Heavy imports happen inside the commands,
so ``lossdoc --help`` never loads pandas or matplotlib."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from lossdoc import __version__
from lossdoc.errors import one_line
from lossdoc.lean_typer import LeanCommand, LeanGroup, only_the_invoked_command
from lossdoc.outputs import formats_help

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


def _fail(message: str) -> typer.Exit:
    typer.echo(f"lossdoc: {one_line(message)}", err=True)
    return typer.Exit(code=2)


@app.command(cls=LeanCommand)
def analyze(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH...", help="Log files, folders or globs; '-' reads standard input.")
    ],
    format: Annotated[
        Optional[str],
        typer.Option("--format", "-f", metavar="FORMAT", help=formats_help()),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", metavar="FILE", help="Write the report to FILE (atomically) instead of stdout."),
    ] = None,
    plot: Annotated[
        Optional[str],  # a str: typer would make '' the current folder
        typer.Option(metavar="PATH", help="Write plots: a .png/.svg/.pdf file for one run, a folder for many."),
    ] = None,
    fail_on: Annotated[
        Optional[str],
        typer.Option(
            "--fail-on",
            metavar="POLICY",
            help="never, info, warning, error (default), or rule slugs (comma-separated).",
        ),
    ] = None,
    select: Annotated[
        Optional[str],
        typer.Option(metavar="RULES", help="Only these rules (comma-separated slugs)."),
    ] = None,
    ignore: Annotated[
        Optional[str],
        typer.Option(metavar="RULES", help="Skip these rules (comma-separated slugs)."),
    ] = None,
    x: Annotated[
        Optional[str],
        typer.Option("--x", metavar="COLUMN", help="Column holding the x axis (step, epoch, ...)."),
    ] = None,
    train: Annotated[
        Optional[str],
        typer.Option("--train", metavar="COLUMN", help="Column holding the training loss."),
    ] = None,
    val: Annotated[
        Optional[str],
        typer.Option("--val", metavar="COLUMN", help="Column holding the validation loss."),
    ] = None,
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
    from lossdoc import config as cfg
    from lossdoc.analysis import RULES
    from lossdoc.errors import LossdocError
    from lossdoc.policy import FailPolicy, selected_rules, split_list

    try:
        if "" in paths:
            raise LossdocError("''", "an empty path is not a log (the current folder is '.')")
        if plot == "":
            raise LossdocError("--plot", "an empty path is not a place for plots (the current folder is '.')")
        settings = cfg.load(config)
        format = format if format is not None else settings.format
        if format not in cfg.FORMATS:
            raise LossdocError("--format", f"'{format}' is not one of {', '.join(cfg.FORMATS)}")
        details = details if details is not None else settings.details
        if details not in cfg.DETAILS:
            raise LossdocError("--details", f"'{details}' is not one of {', '.join(cfg.DETAILS)}")
        smooth = (
            cfg.parse_smoothing(smoothing, lambda what: LossdocError("--smoothing", what))
            if smoothing is not None
            else settings.smoothing
        )
        policy = FailPolicy.parse(
            fail_on if fail_on is not None else settings.fail_on,
            RULES,
            min_confidence if min_confidence is not None else settings.min_confidence,
        )
        rules = selected_rules(
            split_list(select) if select is not None else settings.select,
            split_list(ignore) if ignore is not None else settings.ignore,
            RULES,
        )
        policy.check_rules(rules)
        framework = (
            cfg.parse_framework(framework, lambda what: LossdocError("--framework", what))
            if framework is not None
            else settings.framework
        )
        rule_params = cfg.merged_rules(settings.rules, [cfg.parse_param_option(p) for p in param or []])
        workers = _jobs(jobs)
        size_limit = (
            cfg.parse_size_setting(max_input_size, lambda what: LossdocError("--max-input-size", what))
            if max_input_size is not None
            else settings.max_input_size
        )
        plot_to = Path(plot) if plot is not None else (Path(settings.plot) if settings.plot else None)
        if plot_to is not None:
            from lossdoc.plot.files import check_target

            check_target(plot_to, set(paths))
        if output is not None:
            _check_output(output, paths)
    except LossdocError as exc:
        if early is not None:
            early.close()
        raise _fail(f"{exc.source}: {exc.message}") from None
    if size_limit is not None:
        from lossdoc.ingest.source import set_max_input_bytes

        set_max_input_bytes(size_limit)  # before the pool forks: its workers inherit it
    quiet = quiet if quiet is not None else settings.quiet
    overrides = {"x": x or settings.x, "train": train or settings.train, "val": val or settings.val}
    if experiment is not None:
        overrides["experiment"] = experiment  # read by the MLflow store and server readers only

    helper = early or (_plot_helper() if plot_to is not None and workers > 1 else None)
    # each log's curves go to the helper as soon as it is read: drawn there while the log is analysed
    on_read = (lambda histories: helper.ahead(histories, smooth)) if helper is not None else None
    try:
        report = run_analysis(
            paths, rules, overrides, policy, rule_params, jobs=workers, on_read=on_read, framework=framework
        )
        report.options.update(rules=rules, fail_on=policy, smoothing=smooth)
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
    emit(report, format, quiet, details, output)
    raise typer.Exit(code=report.exit_code)


def _add_sweep(report: Any, group_by: str | None) -> None:
    """A ``sweep`` summary (lossdoc.compare.sweep) when the runs carry hyperparameters or --group-by asks."""
    if (group_by or "").strip().lower() == "none" or len(report.diagnoses) < 2:
        return
    from lossdoc.compare.params import forget, run_params
    from lossdoc.compare.sweep import summarize
    from lossdoc.policy import split_list

    forget()
    params = [run_params(d.history.source) for d in report.diagnoses]
    sweep = summarize(report.diagnoses, params, split_list(group_by) if group_by else None)
    if sweep is not None:
        report.options["sweep"] = sweep


def _plot_sweep(report: Any, target: Path) -> None:
    if "sweep" in report.options and target.is_dir():
        from lossdoc.compare.sweep import plot_sweep

        plot_sweep(report.options["sweep"], str(target / "sweep.png"))


def _check_output(output: Path, paths: list[str]) -> None:
    from lossdoc.errors import LossdocError

    if output.is_dir():
        raise LossdocError("--output", f"'{output}' is a folder; name a file")
    if output.exists() and output.resolve() in {Path(p).resolve() for p in paths if p != "-"}:
        raise LossdocError("--output", f"'{output}' is an input; refusing to overwrite it with the report")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temp file beside ``path`` and rename it into place: a reader (a CI step,
    an editor) never sees a half-written report, and a failed write leaves the old one."""
    import os
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=".lossdoc-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes 0600; a report is as readable as any new file
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _jobs(value: str | None) -> int:
    from lossdoc.batch import default_jobs
    from lossdoc.errors import LossdocError

    if value is None:
        return default_jobs()
    if not (value.strip().isascii() and value.strip().isdigit()) or int(value) < 1:
        raise LossdocError("--jobs", f"'{value}' is not a number of processes (1 or more)")
    return int(value)


def run_analysis(
    paths: list[str],
    rules: list[str],
    overrides: dict[str, str | None],
    policy: object,
    rule_params: dict[str, dict[str, object]] | None = None,
    jobs: int = 1,
    on_read: Any = None,
    framework: str | None = None,
) -> object:
    """Read, analyse and advise on every log (in ``jobs`` processes when there are many), in input
    order; ``on_read`` is given each log's runs read in this process before they are analysed."""
    from lossdoc.batch import AnalysisFailure, Job, diagnose_all
    from lossdoc.ingest import load_paths
    from lossdoc.policy import exit_code
    from lossdoc.report import Report

    job = Job(overrides, rules, rule_params, framework)
    results, errors = load_paths(paths, overrides, read_all=lambda refs, _: diagnose_all(refs, job, jobs, on_read))
    diagnoses = [r for r in results if not isinstance(r, AnalysisFailure)]
    errors += [r.error for r in results if isinstance(r, AnalysisFailure)]
    return Report(diagnoses=diagnoses, errors=errors, exit_code=exit_code(diagnoses, len(errors), policy))


def _input_error(source: str, message: str) -> Any:
    from lossdoc.errors import InputError

    return InputError(source, message)


def _plot_helper() -> Any:
    from lossdoc.plot.helper import PlotHelper

    return PlotHelper()


def write_plots(
    report: object, target: Path, smoothing: float | None, inputs: set[str], helper: object | None = None
) -> None:
    from lossdoc.plot.files import write_plots as write
    from lossdoc.plot.helper import PlotHelper

    if isinstance(helper, PlotHelper):
        helper.write(report, target, smoothing, inputs)
    else:
        write(report, target, smoothing, inputs)


def emit(report: object, format: str, quiet: bool, details: str = "auto", output: Path | None = None) -> None:
    import contextlib
    import os

    from lossdoc.outputs import FORMATTERS
    from lossdoc.report import Report

    assert isinstance(report, Report)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY") if format == "github" else None
    report.options["step_summary"] = bool(summary_file)
    if output is not None:
        if format == "table":
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
            report.errors.append(_input_error(str(output), f"cannot write the report ({exc.strerror or exc})"))
            report.exit_code = 2
    else:
        with contextlib.suppress(AttributeError, ValueError):
            # Whatever the terminal's encoding, a character it cannot show is written as an escape.
            sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        try:
            if format == "table":
                from lossdoc.report.terminal import QuietOnBrokenPipe, print_report

                print_report(report, QuietOnBrokenPipe(), quiet=quiet, details=details)
            else:
                sys.stdout.write(FORMATTERS[format].renderer().render(report))
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped reading (``| head -1``): what it took is what it wanted. The exit code
            # keeps its meaning, and the error lines still go to stderr.
            _drop_stdout()
        except OSError as exc:
            _drop_stdout()
            typer.echo(f"lossdoc: cannot write the report to standard output ({exc.strerror or exc})", err=True)
            report.exit_code = 2
    if summary_file:
        from lossdoc.report.markdown import render as markdown

        try:
            report.options["for_step_summary"] = True
            with open(summary_file, "a", encoding="utf-8") as fh:
                fh.write(markdown(report))
        except OSError as exc:
            typer.echo(f"lossdoc: $GITHUB_STEP_SUMMARY: cannot write ({exc.strerror or exc})", err=True)
    for e in report.errors:
        typer.echo(f"lossdoc: {one_line(e.source)}: {one_line(e.message)}", err=True)


def _drop_stdout() -> None:
    """Point standard output at the null device, so that nothing buffered for a closed or full
    output is written again at exit (which would print a traceback)."""
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _terminal_width() -> int:
    """The terminal's width (``COLUMNS`` wins), at most 100 columns: prose wider than that is hard to read."""
    import shutil

    return max(40, min(100, shutil.get_terminal_size((100, 24)).columns))


@app.command(cls=LeanCommand)
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
    format: Annotated[
        Optional[str],
        typer.Option("--format", "-f", metavar="FORMAT", help="The final report: table (default), json, markdown, ..."),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", metavar="FILE", help="Write the final report to FILE."),
    ] = None,
    plot: Annotated[
        Optional[str],
        typer.Option(metavar="PATH", help="Write plots at the end: a .png/.svg/.pdf file, or a folder for many."),
    ] = None,
    select: Annotated[Optional[str], typer.Option(metavar="RULES", help="Only these rules.")] = None,
    ignore: Annotated[Optional[str], typer.Option(metavar="RULES", help="Skip these rules.")] = None,
    x: Annotated[Optional[str], typer.Option("--x", metavar="COLUMN", help="The x column.")] = None,
    train: Annotated[
        Optional[str],
        typer.Option("--train", metavar="COLUMN", help="The training-loss column."),
    ] = None,
    val: Annotated[
        Optional[str],
        typer.Option("--val", metavar="COLUMN", help="The validation-loss column."),
    ] = None,
    min_confidence: Annotated[
        str, typer.Option("--min-confidence", metavar="LEVEL", help="Alert on findings this sure: high, medium, low.")
    ] = "medium",
    quiet: Annotated[bool, typer.Option("--quiet/--no-quiet", "-q", help="Only the summary table.")] = False,
) -> None:
    """Follow logs while a run writes them: alert on standard error as findings appear, then report.

    Exit codes: 1 when --until fires, 0 when the stream ends (standard input closes, --timeout,
    --idle-exit, Ctrl-C), 2 on input errors.
    """
    from lossdoc import config as cfg
    from lossdoc import watch as live
    from lossdoc.analysis import RULES
    from lossdoc.errors import LossdocError
    from lossdoc.policy import FailPolicy, selected_rules, split_list

    try:
        if format is not None and format not in cfg.FORMATS:
            raise LossdocError("--format", f"'{format}' is not one of {', '.join(cfg.FORMATS)}")
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
        raise _fail(f"{exc.source}: {exc.message}") from None
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


@app.command(cls=LeanCommand)
def explain(
    rule: Annotated[
        Optional[str],
        typer.Argument(metavar="RULE", help="A rule slug, e.g. overfitting; none lists the rules."),
    ] = None,
) -> None:
    """Print a rule's documentation: what it means, why it matters, what to do, and its parameters."""
    from lossdoc.analysis import RULES
    from lossdoc.docs import rule_text

    if rule is None:
        list_rules()
        typer.echo("\nlossdoc explain RULE prints a rule's documentation.")
        return
    if rule not in RULES:
        raise _fail(f"unknown rule '{rule}'; rules are: {', '.join(RULES)}")
    typer.echo(rule_text(RULES[rule], _terminal_width()))


@app.command("rules", cls=LeanCommand)
def list_rules() -> None:
    """List the rules with their default severity."""
    from lossdoc.analysis import RULES

    width = max(len(s) for s in RULES)
    for slug, rule in RULES.items():
        typer.echo(f"{slug:<{width}}  {rule.severity:<7}  {rule.summary}")


@app.command(cls=LeanCommand)
def formats() -> None:
    """List the log formats lossdoc reads and how each is recognised."""
    from lossdoc.docs import formats_text

    typer.echo(formats_text(_terminal_width()))


def _register_compare() -> None:
    """``compare`` and ``golden`` live in lossdoc.compare (their modules import only typer here)."""
    from lossdoc.compare.command import compare, golden_app, golden_check, golden_save

    app.command("compare", cls=LeanCommand)(compare)
    golden_app.command("save", cls=LeanCommand)(golden_save)
    golden_app.command("write", cls=LeanCommand, hidden=True)(golden_save)  # the name the design notes use
    golden_app.command("check", cls=LeanCommand)(golden_check)
    app.add_typer(golden_app, name="golden", cls=LeanGroup)


_register_compare()


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
    the plot being written, then end as a terminated process does. Done here, not by raising an
    exception, which a finaliser running at that moment would swallow."""
    import signal

    if "lossdoc.batch" in sys.modules:
        sys.modules["lossdoc.batch"].stop_children()
    if "lossdoc.plot.files" in sys.modules:
        sys.modules["lossdoc.plot.files"].remove_partial()
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
    module object by object costs a tenth of a second, more than analysing a small log. All output
    is flushed first; lossdoc leaves no other work for exit time (its process pools are shut down).
    Output that cannot be written (a full disk) is exit code 2 with one line; a closed pipe keeps the
    exit code (the reader took what it wanted)."""
    import contextlib
    import os

    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _drop_stdout()
    except (OSError, ValueError):
        _drop_stdout()
        code = 2
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write("lossdoc: cannot write to standard output\n")
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
