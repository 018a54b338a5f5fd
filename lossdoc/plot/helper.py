"""The plot helper: a second process that imports matplotlib while the logs are read and analysed,
then draws the plots (see :class:`PlotHelper`)."""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import replace
from typing import Any

from lossdoc.atomic import remove_partial
from lossdoc.batch import RUNNING, fork_context, signals_held, unblock_signals
from lossdoc.plot.draw import sketch
from lossdoc.plot.files import write_plots
from lossdoc.plot.prepare import prepare, prepare_curves

HELPER_STOP_SECONDS = 1.0
"""How long an interrupted call waits for the plot helper to remove its temporary file and exit
before killing it (it stops within milliseconds unless matplotlib is inside one long C call)."""
PARENT_CHECK_SECONDS = 0.1
"""How often the plot helper checks that its parent is still alive (see _helper_signals)."""
AHEAD_BYTES = 256 * 1024
"""Runs' curves sent to the plot helper ahead of their analysis, at most this much in all (a
million-point run's are 100-130 KB), and at most three quarters of what the pipe holds without being
read: the helper may still be importing, and sending must never wait for it (a socket pair holds
about 200 KB on Linux, 8 KB on macOS)."""


def _import_matplotlib() -> None:
    """What the plot helper needs, imported while the parent reads and analyses.

    matplotlib writes a table of every artist class's properties into the docstring of its ``set()``
    (and of methods documented with ``%(Line2D:kwdoc)s``) as the class is defined: a quarter of
    importing it. This process only draws and never shows a docstring, so ``kwdoc`` here returns
    nothing; drawing does not use it (the helper's plots are pixel-identical to this process's).
    """
    # start-up time: matplotlib only when plotting
    import matplotlib.artist

    matplotlib.artist.kwdoc = _no_kwdoc
    # start-up time: matplotlib only when plotting
    import matplotlib.figure

    import lossdoc.plot.canvas  # noqa: F401


def _no_kwdoc(artist: Any) -> str:
    return ""


def _write_plots(
    report: Any,
    target: Any,
    smoothing: float | None,
    inputs: set[str],
    drawings: list | None = None,
    sketches: dict | None = None,
) -> tuple[list, int, dict]:
    write_plots(report, target, smoothing, inputs, drawings, sketches)
    return report.errors, report.exit_code, report.plots


def _prepared(report: Any, smoothing: float | None, curves: dict[int, Any]) -> tuple[Any, list]:
    """The report as the helper needs it: each run without its points, and its prepared drawing
    (with the ``curves`` already sent ahead, by id of the run's history).

    A million-row run is 16 MB through the pipe, which cost more than drawing it; its drawing is a
    few thousand points, and preparing it costs the same here as there. A run that cannot be prepared
    is sent whole: the helper fails on it again and reports it as drawing in this process would.
    """
    drawings: list = []
    for d in report.diagnoses:
        ahead = curves.get(id(d.history))
        if ahead is not None and ahead.name != d.history.name:
            ahead = None  # renamed since (two runs shared a name): its title would be the old one
        try:
            drawings.append(prepare(d, smoothing, ahead))
        except Exception:
            drawings.append(None)
    runs = [dr.run if dr is not None else d for d, dr in zip(report.diagnoses, drawings, strict=True)]
    return replace(report, diagnoses=runs), drawings


class PlotHelper:
    """A second process that imports matplotlib (slow, see benchmarks/README.md) while the logs are read and analysed,
    then draws the plots: on two cores a plot costs little more than drawing it.

    The plots, and the errors and exit code that writing them gives, are exactly those of
    :func:`lossdoc.plot.files.write_plots` in this process, which is also the fallback when the
    helper cannot run. It is sent each run's prepared drawing, not its points, and, as soon as a log
    is read, its runs' curves (:meth:`ahead`): the helper draws those while the runs are analysed,
    and once they are it only adds the findings. A plain process and pipe, no executor: no threads
    in this process, so the pool for many logs still forks a single-threaded process.
    """

    def __init__(self) -> None:
        self.conn: Any = None
        self.process: Any = None
        self.sent = False
        self.frozen = False
        self.ahead_bytes = 0
        self.curves: dict[int, Any] = {}
        """Curves sent ahead, by id of their run's history (kept alive in ``self.read``)..."""
        self.smoothing: float | None = None
        """...and the smoothing they were made with."""
        self.read: list[Any] = []
        self.room = 0
        """Bytes that may be sent ahead (see :data:`AHEAD_BYTES`)."""
        try:
            context = fork_context()
            self.conn, child = context.Pipe()
            process = context.Process(target=_plot_server, args=(child, self.conn, os.getpid()), daemon=True)
            # Until close(), neither garbage collector walks the objects both processes share: a walk
            # writes to every object, and each page written is then copied (the analysis beside the
            # helper ran measurably slower without this).
            gc.freeze()
            self.frozen = True
            with signals_held():
                process.start()
            self.process = process
            RUNNING.append(self)
            child.close()
            self.room = min(AHEAD_BYTES, _buffered(self.conn) * 3 // 4)
        except (OSError, ValueError):
            self.close()

    def ahead(self, histories: list[Any], smoothing: float | None) -> None:
        """Send runs' curves (see :func:`lossdoc.plot.draw.sketch`) before they are analysed, if
        the pipe holds them without waiting (:data:`AHEAD_BYTES`); nothing is lost when it does not."""
        from multiprocessing.reduction import ForkingPickler  # what Connection.send uses, to know the size

        if self.conn is None or (self.curves and smoothing != self.smoothing):
            return
        try:
            curves = [prepare_curves(h, smoothing) for h in histories]
        except Exception:  # prepared again with the rest, and reported as drawing them reports it
            return
        data = ForkingPickler.dumps(("sketch", tuple(id(h) for h in histories), curves))
        if self.ahead_bytes + len(data) + 1024 > self.room:  # and a little for the socket's own bookkeeping
            return
        try:
            self.conn.send_bytes(data)
        except OSError:
            return  # the helper died: write() finds out
        self.ahead_bytes += len(data)
        self.read.extend(histories)  # alive until the plots are drawn, so no other run takes their ids
        self.curves.update(zip(map(id, histories), curves, strict=True))
        self.smoothing = smoothing

    def write(self, report: Any, target: Any, smoothing: float | None, inputs: set[str]) -> None:
        if self.conn is not None:
            try:
                light, drawings = _prepared(report, smoothing, self.curves if smoothing == self.smoothing else {})
                self.sent = True
                job = (light, target, smoothing, inputs, drawings)
                self.conn.send(("draw", job))
                report.errors, report.exit_code, report.plots = self.conn.recv()
                return
            except (OSError, EOFError):
                pass  # the helper died: draw here
            except BaseException:
                self.close(abort=True)  # interrupted: stop it now, not once it has drawn everything
                raise
            finally:
                self.close()
        _write_plots(report, target, smoothing, inputs)

    def abort(self) -> None:
        """Stop the helper now (the call is being terminated: see :func:`lossdoc.batch.stop_children`)."""
        self.close(abort=True)

    def close(self, abort: bool = False) -> None:
        """End the helper: once it has written what it was sent, or at once when it was sent nothing
        (it may still be importing matplotlib, which would only delay the exit) or when ``abort``
        (the call was interrupted: it is asked to stop, and removes the plot it was writing)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.process is not None:
            if abort:
                self.process.terminate()
                self.process.join(timeout=HELPER_STOP_SECONDS)
            elif self.sent:
                self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
            self.process.join()
            self.process = None
            with contextlib.suppress(ValueError):
                RUNNING.remove(self)
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
        self.read, self.curves = [], {}


def _buffered(conn: Any) -> int:
    """Bytes the pipe behind ``conn`` holds without a reader (0 when that cannot be told)."""
    import socket

    try:
        with socket.socket(fileno=os.dup(conn.fileno())) as s:
            return min(s.getsockopt(socket.SOL_SOCKET, opt) for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF))
    except (OSError, ValueError):
        return 0


def _helper_signals(parent: int) -> None:
    """The plot helper's signals: Ctrl-C (sent to the whole process group) is for the parent, which
    then stops the helper; SIGTERM (the parent stopping it, or the helper noticing that the parent
    is gone) ends it through its ``finally`` clauses, so the plot it was writing leaves no temporary
    file. A parent that dies without a word (SIGKILL, SIGTERM) is noticed within PARENT_CHECK_SECONDS:
    the helper must not go on writing plots after lossdoc has exited."""
    import signal
    import threading
    import time

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_helper)
    unblock_signals()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="lossdoc-parent-watch", daemon=True).start()


def _stop_helper(signum: int, frame: Any) -> None:
    # Not an exception: raised inside a finaliser it would be ignored, and the helper would go on.
    remove_partial()
    os._exit(0)


def _plot_server(conn: Any, parent_end: Any, parent: int) -> None:
    _helper_signals(parent)
    # The fork copied this process's end of the pipe too: closed here, so that when the other process
    # closes it (or dies) without sending a job, recv() ends instead of waiting for ever (close()
    # then waited 5 s, e.g. after a bad --format).
    parent_end.close()
    with contextlib.suppress(Exception):  # an import that fails here fails again, and is reported, when drawing
        _import_matplotlib()
    sketches: dict[tuple[int, ...], Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # nothing to draw after all
        if message[0] == "draw":
            conn.send(_write_plots(*message[1], sketches))
            return
        if conn.poll():  # behind already (the job may be waiting): drawn with it, laid out once not twice
            continue
        with contextlib.suppress(Exception):  # then drawn from the start, and reported there if it fails
            sketches[message[1]] = sketch(message[2])
