"""How close lossdoc's cost is to the unavoidable cost of reading the data (issue 7).

Run by hand, never in the test suite:

    PATH=.venv/bin:$PATH python benchmarks/speed.py                  # every figure, 9 runs each (as in README)
    PATH=.venv/bin:$PATH python benchmarks/speed.py --markdown        # and the table README shows
    PATH=.venv/bin:$PATH python benchmarks/speed.py --only help,keras  # a subset

It writes its own inputs (a 100-epoch Keras CSVLogger log, 1,000,000- and 10,000,000-row step
logs with validation every 100 rows, 1,000 small logs) under a temporary folder (or ``--out``),
written to disk (so the kernel is not still writing them back while they are timed),
then times fresh processes. Every figure is a ratio against a baseline measured in the same run,
A and B interleaved after one untimed round, each the median of ``--runs`` runs, so a busy machine
slows both sides. lossdoc's bytecode is compiled first, as ``pip install`` leaves it:

1. ``lossdoc --help`` / ``python -c "import typer"``                                  at most 1.5
2. ``lossdoc analyze keras.csv`` (table) / ``python -c "import pandas; pandas.read_csv(F)"``  at most 1.0
3. ``lossdoc analyze --format json`` on 1M rows / the fastest pandas read of that file   at most 1.5;
   10M rows: completes with peak RSS under 3x the raw float64 data plus 200 MB
4. the same 1M-row call with ``--plot`` / without                                      at most 1.5
5. 1,000 small logs in one call / the same with ``--jobs 1``                          at least 1.6x faster,
   and / 1,000 separate ``lossdoc analyze`` calls                                    at least 20x faster

The separate calls are timed on ``--separate`` of the logs (default 100, one after the other) and
scaled to 1,000; ``--separate 1000`` times them all. The exit status is 0 when every figure holds.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ITEMS = ("help", "keras", "big", "huge", "plot", "many")
PYTHON = str(Path(sys.executable).absolute())  # commands run in the inputs' folder
# Installed packages carry compiled bytecode (pip compiles at install); a shell with
# PYTHONDONTWRITEBYTECODE=1 and an editable install would otherwise recompile lossdoc's own
# modules on every call (about 0.08 s). Both sides of every ratio run in this environment.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Figure:
    name: str
    measured: str
    ratio: float
    limit: str
    holds: bool


def lossdoc_command() -> list[str]:
    script = Path(PYTHON).with_name("lossdoc")
    if script.exists():
        return [str(script)]
    found = shutil.which("lossdoc")
    return [str(Path(found).absolute())] if found else [PYTHON, "-m", "lossdoc"]


def compile_lossdoc() -> None:
    """Write lossdoc's bytecode as ``pip install`` does, so no timed call compiles it."""
    import compileall

    import lossdoc

    compileall.compile_dir(str(Path(lossdoc.__file__).parent), quiet=1)


def run(cmd: list[str], cwd: Path) -> float:
    """Wall time of one fresh process (output discarded); exit codes 0 and 1 (findings) are fine."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr.decode()[-2000:]}")
    return took


def peak_rss(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall time and peak resident memory (bytes) of ``cmd``, measured by a fresh parent process."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "t = time.perf_counter() - t\n"
        "print(r.returncode, t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([PYTHON, "-c", probe, *cmd], cwd=cwd, env=ENV, capture_output=True, text=True, check=True)
    code, took, kib = out.stdout.split()
    if int(code) not in (0, 1):
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}")
    return float(took), int(kib) * 1024


def medians(commands: dict[str, list[str]], runs: int, cwd: Path) -> dict[str, float]:
    """Median wall time of each command, the commands interleaved round by round."""
    times: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():
        run(cmd, cwd)  # untimed: file cache warm, bytecode written
    for _ in range(runs):
        for key, cmd in commands.items():
            times[key].append(run(cmd, cwd))
    return {k: statistics.median(v) for k, v in times.items()}


def cpu_seconds(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system, all processes) of one run of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run(cmd, cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# --- inputs ---------------------------------------------------------------------------------------


def write_keras(path: Path, epochs: int = 100) -> None:
    rng = np.random.default_rng(1)
    e = np.arange(epochs)
    loss = 2.0 * np.exp(-e / 25) + 0.2 + rng.normal(0, 0.01, epochs)
    val = 2.0 * np.exp(-e / 25) + 0.25 + 0.004 * np.maximum(e - 60, 0) + rng.normal(0, 0.01, epochs)
    acc = 1 - loss / 3
    rows = [f"{i},{acc[i]:.6f},{loss[i]:.6f},{0.001:.6g},{acc[i] - 0.02:.6f},{val[i]:.6f}\n" for i in range(epochs)]
    path.write_text("epoch,accuracy,loss,learning_rate,val_accuracy,val_loss\n" + "".join(rows))


def write_step_log(path: Path, rows: int, val_every: int = 100, chunk: int = 500_000) -> None:
    """``step,train_loss,val_loss``: a training loss every row, a validation loss every ``val_every``."""
    rng = np.random.default_rng(rows)
    with path.open("w") as fh:
        fh.write("step,train_loss,val_loss\n")
        for start in range(0, rows, chunk):
            s = np.arange(start, min(rows, start + chunk))
            train = 2.0 * np.exp(-s / (rows / 5)) + 0.3 + rng.normal(0, 0.05, s.size)
            text = [f"{i},{t:.6f},\n" for i, t in zip(s.tolist(), train.tolist(), strict=True)]
            for k in np.flatnonzero(s % val_every == val_every - 1).tolist():
                text[k] = f"{s[k]},{train[k]:.6f},{train[k] + 0.05:.6f}\n"
            fh.write("".join(text))


def write_many(folder: Path, count: int = 1000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    paths = []
    for k in range(count):
        n = int(rng.integers(20, 200))
        e = np.arange(n)
        loss = 2 * np.exp(-e / (n / 4)) + 0.1 + rng.normal(0, 0.01, n)
        val = loss + 0.05 + rng.normal(0, 0.01, n)
        path = folder / f"run{k:04d}.csv"
        path.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{loss[i]:.6f},{val[i]:.6f}\n" for i in e))
        paths.append(path)
    return paths


def cached(path: Path, make: Callable[[Path], object]) -> Path:
    if not path.exists():
        tmp = path.with_name(path.name + ".part")
        make(tmp)
        tmp.rename(path)
        settle()
    return path


def settle() -> None:
    """Write new inputs to disk before anything is timed: the kernel otherwise writes a fresh 170 MB
    log back over the next half minute, on the second core, while the next figure is measured."""
    if hasattr(os, "sync"):
        os.sync()


# --- figures --------------------------------------------------------------------------------------


def fig_help(ld: list[str], runs: int, work: Path) -> list[Figure]:
    m = medians({"lossdoc": [*ld, "--help"], "typer": [PYTHON, "-c", "import typer"]}, runs, work)
    r = m["lossdoc"] / m["typer"]
    return [
        Figure("`lossdoc --help` / `import typer`", f"{m['lossdoc']:.3f} s / {m['typer']:.3f} s", r, "≤ 1.5", r <= 1.5)
    ]


def fig_keras(ld: list[str], runs: int, work: Path) -> list[Figure]:
    log = cached(work / "keras.csv", write_keras)
    m = medians(
        {
            "lossdoc": [*ld, "analyze", str(log)],
            "pandas": [PYTHON, "-c", f"import pandas; pandas.read_csv({str(log)!r})"],
        },
        runs,
        work,
    )
    r = m["lossdoc"] / m["pandas"]
    return [
        Figure(
            "`lossdoc analyze` 100-epoch Keras CSV (table) / `import pandas; read_csv`",
            f"{m['lossdoc']:.3f} s / {m['pandas']:.3f} s",
            r,
            "≤ 1.0",
            r <= 1.0,
        )
    ]


def pandas_reads(log: Path) -> dict[str, list[str]]:
    """Ways a user would read the file with pandas; the fastest one is the baseline."""
    variants = {
        "read_csv": f"pandas.read_csv({str(log)!r})",
        "read_csv float64": f"pandas.read_csv({str(log)!r}, dtype='float64')",
        "read_csv engine=c": f"pandas.read_csv({str(log)!r}, engine='c', low_memory=True)",
    }
    try:
        import pyarrow  # noqa: F401

        variants["read_csv engine=pyarrow"] = f"pandas.read_csv({str(log)!r}, engine='pyarrow')"
    except ImportError:
        pass
    return {k: [PYTHON, "-c", f"import pandas; {v}"] for k, v in variants.items()}


def fig_big(ld: list[str], runs: int, work: Path) -> list[Figure]:
    log = cached(work / "steps_1m.csv", lambda p: write_step_log(p, 1_000_000))
    reads = pandas_reads(log)
    m = medians({"lossdoc": [*ld, "analyze", "--format", "json", str(log)], **reads}, runs, work)
    fastest = min(reads, key=lambda k: m[k])
    r = m["lossdoc"] / m[fastest]
    return [
        Figure(
            f"`analyze --format json` 1M rows / fastest pandas read (`{fastest}`)",
            f"{m['lossdoc']:.3f} s / {m[fastest]:.3f} s",
            r,
            "≤ 1.5",
            r <= 1.5,
        )
    ]


def fig_huge(ld: list[str], runs: int, work: Path) -> list[Figure]:
    rows, columns = 10_000_000, 3
    log = cached(work / "steps_10m.csv", lambda p: write_step_log(p, rows))
    took, peak = peak_rss([*ld, "analyze", "--format", "json", str(log)], work)
    raw = rows * columns * 8
    limit = 3 * raw + 200 * 1024**2
    return [
        Figure(
            "10M rows: peak memory / (3 × raw float64 + 200 MB)",
            f"{peak / 1024**2:.0f} MB of {limit / 1024**2:.0f} MB allowed ({took:.1f} s)",
            peak / limit,
            "≤ 1.0",
            peak <= limit,
        )
    ]


def fig_plot(ld: list[str], runs: int, work: Path) -> list[Figure]:
    log = cached(work / "steps_1m.csv", lambda p: write_step_log(p, 1_000_000))
    base = [*ld, "analyze", "--format", "json", str(log)]
    m = medians({"plot": [*base, "--plot", str(work / "plot.png")], "none": base}, runs, work)
    r = m["plot"] / m["none"]
    return [Figure("1M rows `--plot` / no plot", f"{m['plot']:.3f} s / {m['none']:.3f} s", r, "≤ 1.5", r <= 1.5)]


def fig_many(ld: list[str], runs: int, work: Path, separate: int) -> list[Figure]:
    folder = work / "many"
    if (folder / "run0999.csv").exists():
        paths = sorted(folder.glob("*.csv"))
    else:
        paths = write_many(folder)
        settle()
    call = [*ld, "analyze", "--format", "json", str(folder)]
    pooled, serial, cpu = [], [], []
    run(call, work)  # untimed
    for _ in range(runs):
        wall, used = cpu_seconds(call, work)
        pooled.append(wall)
        cpu.append(used / wall)
        serial.append(run([*call, "--jobs", "1"], work))
    one_call, one_worker = statistics.median(pooled), statistics.median(serial)
    sample = paths[:: max(1, len(paths) // separate)][:separate]
    start = time.perf_counter()
    for p in sample:
        run([*ld, "analyze", "--format", "json", str(p)], work)
    separate_total = (time.perf_counter() - start) / len(sample) * len(paths)
    speedup = one_worker / one_call
    many = separate_total / one_call
    scaled = "" if len(sample) == len(paths) else f" ({len(sample)} timed, scaled)"
    return [
        Figure(
            "1,000 logs, one call: `--jobs 1` / default (2 workers)",
            f"{one_worker:.2f} s / {one_call:.2f} s; CPU/wall {statistics.median(cpu):.2f}",
            speedup,
            "≥ 1.6",
            speedup >= 1.6,
        ),
        Figure(
            "1,000 separate calls / one call",
            f"{separate_total:.1f} s{scaled} / {one_call:.2f} s",
            many,
            "≥ 20",
            many >= 20,
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9, help="runs per command; the median counts (default 9)")
    ap.add_argument("--out", type=Path, help="keep the generated inputs here (reused when present)")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(ITEMS)}")
    ap.add_argument("--separate", type=int, default=100, help="separate calls actually timed (default 100)")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    args = ap.parse_args()
    only = args.only.split(",") if args.only else list(ITEMS)
    work = args.out or Path(tempfile.mkdtemp(prefix="lossdoc-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    ld = lossdoc_command()
    compile_lossdoc()
    print(f"lossdoc: {' '.join(ld)}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; inputs in {work}")
    figures: list[Figure] = []
    for item in only:
        started = time.perf_counter()
        if item == "help":
            new = fig_help(ld, args.runs, work)
        elif item == "keras":
            new = fig_keras(ld, args.runs, work)
        elif item == "big":
            new = fig_big(ld, args.runs, work)
        elif item == "huge":
            new = fig_huge(ld, args.runs, work)
        elif item == "plot":
            new = fig_plot(ld, args.runs, work)
        elif item == "many":
            new = fig_many(ld, args.runs, work, args.separate)
        else:
            raise SystemExit(f"unknown item {item!r}; items are {', '.join(ITEMS)}")
        for f in new:
            print(
                f"{'ok  ' if f.holds else 'FAIL'} {f.ratio:6.2f} (limit {f.limit})  {f.name}: {f.measured}", flush=True
            )
        print(f"     [{item}: {time.perf_counter() - started:.0f} s]", flush=True)
        figures.extend(new)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.markdown:
        print("\n| figure | measured | ratio | limit | holds |\n|---|---|---|---|---|")
        for f in figures:
            print(f"| {f.name} | {f.measured} | {f.ratio:.2f} | {f.limit} | {'yes' if f.holds else 'no'} |")
    if args.out is None:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if all(f.holds for f in figures) else 1)


if __name__ == "__main__":
    main()
