"""Signals and the plot helper (issue 15), against a real ``python -m lossdoc`` process: Ctrl-C and
SIGTERM end the call with one line (or the signal), no traceback, no temporary plot left behind,
and no helper or pool worker left running."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to find child processes")


def write_logs(folder: Path, count: int = 40, rows: int = 5000) -> None:
    folder.mkdir()
    for i in range(count):
        lines = ["step,loss,val_loss"]
        for e in range(rows):
            lines.append(f"{e},{1 / (e + 1) + 0.01 * math.sin(e + i):.6f},{0.5 + abs(e - 2000) / 4000:.6f}")
        (folder / f"r{i}.csv").write_text("\n".join(lines) + "\n")


def children(pid: int) -> set[int]:
    """Every process whose parent is ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def start(tmp_path: Path, *extra: str) -> subprocess.Popen:
    write_logs(tmp_path / "logs")
    (tmp_path / ".git").mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "lossdoc", "analyze", "logs", "--plot", "plots", *extra],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, as a shell gives a command: Ctrl-C is killpg
        # As a terminal starts it: a test run started in the background inherits an ignored SIGINT,
        # which Python (rightly) keeps ignoring.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for(condition, limit: float = 120) -> None:
    end = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < end, "lossdoc never got there"
        time.sleep(0.02)


def drawing(proc: subprocess.Popen, plots: Path) -> set[int]:
    """Wait until plots are being written; the processes lossdoc has started by then."""
    wait_for(lambda: plots.is_dir() and any(p.suffix == ".png" for p in plots.iterdir()))
    return children(proc.pid)


def after_exit(proc: subprocess.Popen, helpers: set[int], plots: Path) -> tuple[int, str]:
    _, err = proc.communicate(timeout=120)
    # The helper stops within a poll or two of its parent; on a loaded machine that can take a moment,
    # so wait for it (bounded: an orphan drawing the other plots would outlive this by far).
    wait_for(lambda: not [pid for pid in helpers if alive(pid)], limit=15)
    written = sorted(plots.iterdir())
    time.sleep(0.5)  # an orphaned helper would go on writing
    assert sorted(plots.iterdir()) == written
    assert [p.name for p in written if p.name.startswith(".lossdoc-")] == []
    return proc.returncode, err.decode()


def test_ctrl_c_while_plotting(tmp_path):
    proc = start(tmp_path)
    helpers = drawing(proc, tmp_path / "plots")
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C: to every process in the group
    code, err = after_exit(proc, helpers, tmp_path / "plots")
    assert (code, err) == (130, "lossdoc: interrupted\n")


def test_sigint_to_lossdoc_alone_while_plotting(tmp_path):
    proc = start(tmp_path)
    helpers = drawing(proc, tmp_path / "plots")
    proc.send_signal(signal.SIGINT)
    code, err = after_exit(proc, helpers, tmp_path / "plots")
    assert (code, err) == (130, "lossdoc: interrupted\n")


def test_sigterm_while_plotting_leaves_no_orphan(tmp_path):
    proc = start(tmp_path)
    helpers = drawing(proc, tmp_path / "plots")
    assert helpers  # the plot helper
    proc.send_signal(signal.SIGTERM)
    code, err = after_exit(proc, helpers, tmp_path / "plots")
    assert code == -signal.SIGTERM and "Traceback" not in err


def test_sigkill_of_lossdoc_ends_the_helper_too(tmp_path):
    proc = start(tmp_path)
    helpers = drawing(proc, tmp_path / "plots")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    # it checks for its parent ten times a second; drawing the other plots takes far longer
    wait_for(lambda: not [pid for pid in helpers if alive(pid)], limit=15)
    written = sorted((tmp_path / "plots").iterdir())
    assert [p.name for p in written if p.name.startswith(".lossdoc-")] == []
    assert len(written) < 40  # it stopped, rather than draw every plot for a parent that is gone


def test_ctrl_c_while_the_pool_analyses_stops_its_workers(tmp_path):
    proc = start(tmp_path, "-j", "2")
    wait_for(lambda: len(children(proc.pid)) >= 3)  # the plot helper and two workers
    workers = children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err.decode()) == (130, "lossdoc: interrupted\n")
    assert [pid for pid in workers if alive(pid)] == []
