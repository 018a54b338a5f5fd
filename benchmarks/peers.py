"""CPU per log, lossdoc against the peer CLIs, on the same generated files, in one run.

Run by hand (not part of the test suite; the peers live in their own venvs, see competitors.py --setup):

    PATH=.venv/bin:$PATH python benchmarks/peers.py --markdown                 # both sets, 5 repeats
    PATH=.venv/bin:$PATH python benchmarks/peers.py --sets mixed --repeat 9     # one set

Two sets of logs are timed:

* ``detection`` — the synthetic benchmark's own generated logs (``benchmarks/detection.py``: 172 CSVs,
  10 to 1,000,000 points).
* ``detection-short`` — the same logs without the long ones (at most 60,000 rows): 143 CSVs of
  10 to 1,000 points, where the cost per log, not per point, decides.
* ``mixed`` — 240 logs drawn from the same curve families at lengths spread log-uniformly from 10 to
  50,000 points, half written as CSV and half as JSON Lines (one record per row, empty cells left
  out, NaN as the bare ``NaN`` token ``json.dumps`` writes), with a seed of its own (``--seed``).

Each tool reads the whole folder in **one call, one process** (``lossdoc analyze DIR --format json -j 1``,
``losslint check --format json DIR``); its CPU time (user + system, from ``getrusage`` of the waited
child) is measured ``--repeat`` times, interleaved tool by tool, and the median and the range are
printed. The small-log rows are the wall time of one call on ``sample_logs/keras_overfitting.csv``
(median of ``--small-repeat`` calls), lossdoc's default table and its JSON, against losslint's text.
The other peers take one file per call; ``--per-file N`` times
them on N files of the mixed set and prints their CPU seconds per log (start-up included, as a user
running them per log pays it).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detection import SEED, build_cases, generate, layout, render

ROOT = Path(__file__).resolve().parents[1]
SMALL_LOG = ROOT / "sample_logs" / "keras_overfitting.csv"
SHORT_ROWS = 60_000
"""``detection-short`` keeps the synthetic benchmark's logs of at most this many rows (its 10-, 100- and
1,000-point runs and none of its 100,000-point ones): start-up and per-log costs dominate there."""


def _jsonl_from_csv(src: Path, dst: Path) -> None:
    """The same rows as JSON Lines: numbers as numbers, empty cells left out, nan/inf as NaN/Infinity."""
    with src.open(newline="") as fh, dst.open("w") as out:
        for row in csv.DictReader(fh):
            rec: dict[str, float | int] = {}
            for k, v in row.items():
                if v == "":
                    continue
                f = float(v)
                rec[k] = int(f) if k in ("step", "epoch") and math.isfinite(f) else f
            out.write(json.dumps(rec) + "\n")


def make_mixed(folder: Path, count: int = 240, seed: int = SEED + 7, lo: int = 10, hi: int = 50_000) -> list[Path]:
    """``count`` logs from the detection benchmark's case families at log-uniform lengths, CSV and JSONL."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    cases = build_cases()
    files = []
    for i in range(count):
        base = cases[int(rng.integers(len(cases)))]
        n = round(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        lay = layout(n)
        if base.lightning:
            lay.pop("x_col")
        c = dataclasses.replace(base, id=f"m{i:03d}_{base.family}_len{n}", n=n, **lay)
        render(c, rng, folder)
        path = folder / f"{c.id}.csv"
        if i % 2:
            _jsonl_from_csv(path, path.with_suffix(".jsonl"))
            path.unlink()
            path = path.with_suffix(".jsonl")
        files.append(path)
    return files


def make_detection(folder: Path) -> None:
    if not any(folder.glob("*.csv")):
        generate(folder)
    labels = folder / "labels.csv"
    if labels.exists():
        labels.unlink()  # not a log: both tools would report it as unreadable
    for extra in folder.glob("*.json"):
        extra.unlink()


def cpu_of(cmd: list[str]) -> tuple[float, float, int]:
    """(CPU seconds of the child, wall seconds, exit code) of one call, its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, p.returncode


def folder_cmd(tool: str, venvs: Path, folder: Path) -> list[str]:
    if tool == "lossdoc":
        return ["lossdoc", "analyze", str(folder), "--format", "json", "-j", "1", "--fail-on", "never"]
    if tool == "losslint":
        return [str(venvs / "losslint" / "bin" / "losslint"), "check", "--format", "json", str(folder)]
    raise ValueError(tool)


def file_cmd(tool: str, venvs: Path, path: Path) -> list[str]:
    exe = str(venvs / tool / "bin" / tool)
    return {
        "lossdoc": ["lossdoc", "analyze", str(path), "--format", "json", "--fail-on", "never"],
        "losslint": [exe, "check", str(path)],
        "trainproof": [exe, "doctor", "--json", str(path)],
        "trainspotter": [exe, "analyze", "--output", "json", str(path)],
        "runmedic": [exe, "diagnose", "--json", str(path)],
    }[tool]


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/lossdoc-peers", help="folder for the generated logs")
    ap.add_argument("--venvs", default="/work/compvenv", help="one venv per peer (competitors.py --setup)")
    ap.add_argument("--sets", default="detection,detection-short,mixed")
    ap.add_argument("--seed", type=int, default=SEED + 7, help="seed of the mixed set")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--small-repeat", type=int, default=21)
    ap.add_argument("--per-file", type=int, default=0, help="time each peer per file on this many mixed logs")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    venvs, work = Path(args.venvs), Path(args.work)
    if not (venvs / "losslint" / "bin" / "losslint").exists():
        print(
            f"losslint is not installed in {venvs / 'losslint'}: run benchmarks/competitors.py --setup", file=sys.stderr
        )
        return 2
    version = subprocess.run(
        [str(venvs / "losslint" / "bin" / "losslint"), "--version"], capture_output=True, text=True
    )
    rows = []
    for name in args.sets.split(","):
        folder = work / name
        if name == "detection":
            make_detection(folder)
        elif name == "detection-short":
            make_detection(work / "detection")
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            for log in (work / "detection").glob("*.csv"):
                if sum(1 for _ in log.open()) <= SHORT_ROWS:
                    shutil.copy(log, folder / log.name)
        else:
            make_mixed(folder, seed=args.seed)
        n = sum(1 for p in folder.iterdir() if p.suffix in (".csv", ".jsonl"))
        times: dict[str, list[float]] = {"lossdoc": [], "losslint": []}
        for _ in range(args.repeat):
            for tool in times:
                cpu, _wall, code = cpu_of(folder_cmd(tool, venvs, folder))
                if code not in (0, 1):
                    print(f"{tool} exited {code} on {folder}", file=sys.stderr)
                times[tool].append(cpu)
        ratio = [a / b for a, b in zip(times["lossdoc"], times["losslint"], strict=True)]
        rows.append((f"{name}: {n} logs, one call, CPU s", times, ratio))
    small: dict[str, list[float]] = {"lossdoc": [], "lossdoc json": [], "losslint": []}
    for _ in range(args.small_repeat):
        for tool in small:
            cmd = file_cmd(tool.split()[0], venvs, SMALL_LOG)
            if tool == "lossdoc":
                cmd = ["lossdoc", "analyze", str(SMALL_LOG), "--fail-on", "never"]  # the default table
            small[tool].append(cpu_of(cmd)[1])
    for tool in ("lossdoc", "lossdoc json"):
        ratio = [a / b for a, b in zip(small[tool], small["losslint"], strict=True)]
        what = "table" if tool == "lossdoc" else "--format json"
        rows.append(
            (f"one small Keras log ({what}), wall s", {"lossdoc": small[tool], "losslint": small["losslint"]}, ratio)
        )

    head = f"| work | lossdoc | {version.stdout.strip() or 'losslint'} | lossdoc / losslint |"
    print(head)
    print("|---|---:|---:|---:|")
    for what, t, r in rows:
        print(f"| {what} | {spread(t['lossdoc'])} | {spread(t['losslint'])} | {spread(r)} |")
    print(f"\nmedian (min–max) of {args.repeat} runs ({args.small_repeat} for the small log), {os.cpu_count()} cores")

    if args.per_file:
        files = sorted(p for p in (work / "mixed").iterdir() if p.suffix == ".csv")[: args.per_file]
        print(f"\nper-file calls on {len(files)} CSV logs of the mixed set (CPU s per log, start-up included):")
        print("| tool | CPU s / log | logs read (exit 0/1) |")
        print("|---|---:|---:|")
        for tool in ["lossdoc", "losslint", "trainproof", "trainspotter", "runmedic"]:
            if tool != "lossdoc" and not (venvs / tool / "bin" / tool).exists():
                continue
            cpus, ok = [], 0
            for f in files:
                cpu, _w, code = cpu_of(file_cmd(tool, venvs, f))
                cpus.append(cpu)
                ok += code in (0, 1)
            print(f"| {tool} | {statistics.median(cpus):.3f} | {ok}/{len(files)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
