"""Many logs in one call: each log read, analysed and advised on its own, in a process pool when
there are enough of them to pay for starting one.

A log's result is the same wherever it is computed: :func:`diagnose_log` is the whole per-log
pipeline, and the pool only decides which process runs it. Results come back in input order and a
log's errors stay with it; standard input is read by the calling process, as are all logs when
``jobs`` is 1 or there are too few to share out.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lossdoc.ingest import InputError, LogRef, Overrides, read_logged

POOL_MIN_LOGS = 16
"""Fewer logs than this are read in the calling process (a pool costs tens of milliseconds to start)…"""
POOL_MIN_BYTES = 16 * 1024 * 1024
"""…unless, together, they are at least this large."""


@dataclass(frozen=True)
class AnalysisFailure:
    """A run that was read but could not be analysed (a bug): reported after the input errors."""

    error: InputError


@dataclass(frozen=True)
class Job:
    overrides: Overrides | None
    rules: list[str]
    rule_params: Mapping[str, Mapping[str, Any]] | None


def diagnose_log(ref: LogRef, job: Job) -> tuple[list[Any], list[InputError]]:
    """One log's diagnoses (with advice) and :class:`AnalysisFailure` items, and its input errors."""
    from lossdoc.advice import advise
    from lossdoc.analysis import analyze

    histories, errors = read_logged(ref, job.overrides)
    out: list[Any] = []
    for h in histories:
        try:
            diagnosis = analyze(h, job.rules, job.rule_params)
            diagnosis.advice = advise(diagnosis)
            out.append(diagnosis)
        except Exception as exc:  # a bug must cost one run, never the whole call
            out.append(AnalysisFailure(InputError(h.source, f"internal error while analysing run '{h.name}': {exc!r}")))
    return out, errors


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _size(ref: LogRef) -> int:
    try:
        return os.stat(ref.path).st_size if ref.kind == "file" else 0
    except OSError:
        return 0


def use_pool(refs: list[LogRef], jobs: int) -> bool:
    shared = [r for r in refs if r.path != "-"]
    if jobs < 2 or len(shared) < 2:
        return False
    return len(shared) >= POOL_MIN_LOGS or sum(_size(r) for r in shared) >= POOL_MIN_BYTES


def _diagnose_chunk(refs: list[LogRef], job: Job) -> list[tuple[list[Any], list[InputError]]]:
    return [diagnose_log(ref, job) for ref in refs]


def diagnose_all(refs: list[LogRef], job: Job, jobs: int) -> Iterable[tuple[list[Any], list[InputError]]]:
    """Every log's :func:`diagnose_log` result, in the order of ``refs``."""
    if not use_pool(refs, jobs):
        return [diagnose_log(ref, job) for ref in refs]
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    import lossdoc.advice
    import lossdoc.analysis  # noqa: F401 - imported once here, inherited by forked workers

    shared = [i for i, r in enumerate(refs) if r.path != "-"]
    workers = min(jobs, len(shared))
    # Small chunks keep every worker busy to the end; each costs one round trip.
    size = max(1, min(16, len(shared) // (workers * 16)))
    chunks = [shared[i : i + size] for i in range(0, len(shared), size)]
    context = _fork_context()
    results: list[tuple[list[Any], list[InputError]] | None] = [None] * len(refs)
    gc.freeze()  # the workers' garbage collector then leaves the inherited objects (and their pages) alone
    try:
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_diagnose_chunk, [refs[i] for i in chunk], job) for chunk in chunks]
            for i, ref in enumerate(refs):
                if ref.path == "-":
                    results[i] = diagnose_log(ref, job)  # standard input belongs to this process
            for chunk, future in zip(chunks, futures, strict=True):
                for i, result in zip(chunk, future.result(), strict=True):
                    results[i] = result
    except BrokenProcessPool:  # a worker died (e.g. killed for memory): do the rest here
        for i, ref in enumerate(refs):
            if results[i] is None:
                results[i] = diagnose_log(ref, job)
    finally:
        gc.unfreeze()
    return [r for r in results if r is not None]


def _fork_context() -> Any:
    import multiprocessing

    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)


def _import_matplotlib() -> None:
    import matplotlib.backends.backend_agg
    import matplotlib.figure  # noqa: F401
    from PIL import Image

    import lossdoc.report.plot  # noqa: F401

    Image.preinit()  # the image plugins a PNG save would load


def _write_plots(report: Any, target: Any, smoothing: float | None, inputs: set[str]) -> tuple[list, int, dict]:
    from lossdoc.report.plot import write_plots

    write_plots(report, target, smoothing, inputs)
    return report.errors, report.exit_code, report.plots


class PlotHelper:
    """A second process that imports matplotlib (half a second) while the logs are read and analysed,
    then draws the plots: on two cores a plot costs little more than drawing it.

    The plots, and the errors and exit code that writing them gives, are exactly those of
    :func:`lossdoc.report.plot.write_plots` in this process, which is also the fallback when the
    helper cannot run. A plain process and pipe, no executor: no threads in this process, so the
    pool for many logs still forks a single-threaded process.
    """

    def __init__(self) -> None:
        self.conn: Any = None
        self.process: Any = None
        try:
            context = _fork_context()
            self.conn, child = context.Pipe()
            self.process = context.Process(target=_plot_server, args=(child,), daemon=True)
            self.process.start()
            child.close()
        except (OSError, ValueError):
            self.close()

    def write(self, report: Any, target: Any, smoothing: float | None, inputs: set[str]) -> None:
        if self.conn is not None:
            try:
                self.conn.send((report, target, smoothing, inputs))
                report.errors, report.exit_code, report.plots = self.conn.recv()
                return
            except (OSError, EOFError):
                pass  # the helper died: draw here
            finally:
                self.close()
        _write_plots(report, target, smoothing, inputs)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.process is not None:
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
            self.process = None


def _plot_server(conn: Any) -> None:
    with contextlib.suppress(Exception):  # an import that fails here fails again, and is reported, when drawing
        _import_matplotlib()
    try:
        job = conn.recv()
    except (EOFError, OSError):
        return  # nothing to draw after all
    conn.send(_write_plots(*job))
