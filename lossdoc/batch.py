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
from collections.abc import Callable, Iterable, Mapping
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
    framework: str | None = None
    """--framework: whose API the advice uses (None: guessed from each log)."""


def diagnose_log(
    ref: LogRef, job: Job, on_read: Callable[[list[Any]], None] | None = None
) -> tuple[list[Any], list[InputError]]:
    """One log's diagnoses (with advice) and :class:`AnalysisFailure` items, and its input errors;
    ``on_read`` is given its runs before they are analysed."""
    from lossdoc.advice import advise
    from lossdoc.analysis import analyze

    histories, errors = read_logged(ref, job.overrides)
    if on_read is not None and histories:
        on_read(histories)
    out: list[Any] = []
    for h in histories:
        try:
            diagnosis = analyze(h, job.rules, job.rule_params)
            diagnosis.advice = advise(diagnosis, job.framework)
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


def diagnose_all(
    refs: list[LogRef], job: Job, jobs: int, on_read: Callable[[list[Any]], None] | None = None
) -> Iterable[tuple[list[Any], list[InputError]]]:
    """Every log's :func:`diagnose_log` result, in the order of ``refs`` (``on_read`` only when they
    are read in this process)."""
    if not use_pool(refs, jobs):
        return [diagnose_log(ref, job, on_read) for ref in refs]
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    import lossdoc.advice
    import lossdoc.analysis  # noqa: F401 - imported once here, inherited by forked workers

    shared = [i for i, r in enumerate(refs) if r.path != "-"]
    workers = min(jobs, len(shared))
    chunks = guided_chunks(shared, workers)
    context = fork_context()
    results: list[tuple[list[Any], list[InputError]] | None] = [None] * len(refs)
    gc.freeze()  # the workers' garbage collector then leaves the inherited objects (and their pages) alone
    try:
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_signals)
        RUNNING.append(pool)
        try:
            with signals_held():  # the workers are forked by the first submit
                futures = [pool.submit(_diagnose_chunk, [refs[i] for i in chunk], job) for chunk in chunks]
            for i, ref in enumerate(refs):
                if ref.path == "-":
                    results[i] = diagnose_log(ref, job)  # standard input belongs to this process
            for chunk, future in zip(chunks, futures, strict=True):
                for i, result in zip(chunk, future.result(), strict=True):
                    results[i] = result
        except BaseException:
            _stop_pool(pool)  # interrupted: waiting for the workers' chunks took seconds
            raise
        finally:
            RUNNING.remove(pool)
        pool.shutdown()
    except BrokenProcessPool:  # a worker died (e.g. killed for memory): do the rest here
        for i, ref in enumerate(refs):
            if results[i] is None:
                results[i] = diagnose_log(ref, job)
    finally:
        gc.unfreeze()
    return [r for r in results if r is not None]


HELD_SIGNALS = ("SIGINT", "SIGTERM")


@contextlib.contextmanager
def signals_held() -> Any:
    """Ctrl-C and SIGTERM held back while child processes are forked: a child starts with them
    blocked and sets its own handlers before it takes them (a Ctrl-C in between gave a traceback
    from a worker), and this process takes one that arrived meanwhile as soon as the fork is done."""
    import signal

    held = {getattr(signal, name) for name in HELD_SIGNALS}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def unblock_signals() -> None:
    import signal

    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {getattr(signal, name) for name in HELD_SIGNALS})


def _worker_signals() -> None:
    """A pool worker: Ctrl-C (sent to the whole process group) is for the calling process, which
    stops the workers; termination is immediate (a worker writes no file)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    unblock_signals()


def _stop_pool(pool: Any) -> None:
    """End a pool's workers at once, whatever they are doing (they write nothing), and wait for them
    to be gone: none is left running when the shell's prompt comes back."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public way to end a busy worker
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            process.terminate()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError, AssertionError):
            process.join(timeout=WORKER_STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join(timeout=WORKER_STOP_SECONDS)
    pool.shutdown(wait=False, cancel_futures=True)


WORKER_STOP_SECONDS = 1.0
"""How long an interrupted call waits for each terminated pool worker to end before killing it. A
worker ends at SIGTERM's default action, within milliseconds; the wait only keeps the call from
returning while one is still on its way out."""


def guided_chunks(items: list[int], workers: int, most: int = 16) -> list[list[int]]:
    """``items`` in chunks of at most ``most``, each a quarter of a worker's share of what is left:
    one round trip per chunk, and the chunks shrink to single logs at the end, so no worker is still
    busy with a whole chunk when the others have nothing left to do."""
    chunks, i = [], 0
    while i < len(items):
        size = max(1, min(most, (len(items) - i) // (workers * 4)))
        chunks.append(items[i : i + size])
        i += size
    return chunks


def fork_context() -> Any:
    import multiprocessing

    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)


RUNNING: list[Any] = []
"""This call's plot helper and process pool while they run: what :func:`stop_children` stops."""


def stop_children() -> None:
    """Stop the plot helper and the pool's workers now (the process is being terminated)."""
    for child in list(RUNNING):
        with contextlib.suppress(Exception):
            stop = getattr(child, "abort", None)  # the plot helper (lossdoc.plot.helper.PlotHelper)
            stop() if stop is not None else _stop_pool(child)
