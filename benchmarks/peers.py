"""CPU per log, lossdoc against losslint's CLI, on the same generated files, in one run.

Run by hand (not part of the test suite; losslint lives in its own venvs, outside the repo):

    python benchmarks/peers.py --setup                          # once: losslint, plain and [fast], under /work/compvenv
    PATH=.venv/bin:$PATH python benchmarks/peers.py              # every set, 5 repeats
    PATH=.venv/bin:$PATH python benchmarks/peers.py --sets mixed --repeat 9

losslint is timed as installed two ways: plain (``pip install losslint``, pure Python) and with its
``fast`` extra (numpy; it then starts OpenBLAS's thread pool on import, as numpy does by default).

Three sets of logs are timed:

* ``detection`` — the synthetic benchmark's own generated logs (``benchmarks/detection.py``: 171 CSVs,
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
(median of ``--small-repeat`` calls), lossdoc's default table and its JSON, against losslint's text;
the last row times ``python -c "import numpy"`` alone (one BLAS thread, as lossdoc runs it), the floor
of any tool built on numpy.
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


def cpu_of(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(CPU seconds of the child, wall seconds, exit code) of one call, its output discarded."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, p.returncode


PEERS = {"losslint": "losslint", "losslint[fast]": "losslint-fast"}
"""The two ways to install losslint, each in its own venv under --venvs: plain (pure Python, what
``pip install losslint`` gives) and with its ``fast`` extra (numpy)."""


def peer_exe(venvs: Path, peer: str) -> str:
    return str(venvs / PEERS.get(peer, peer) / "bin" / peer.split("[")[0])


def setup(venvs: Path) -> None:
    for peer, folder in PEERS.items():
        v = venvs / folder
        if not Path(peer_exe(venvs, peer)).exists():
            subprocess.run([sys.executable, "-m", "venv", str(v)], check=True)
            p = subprocess.run([str(v / "bin" / "pip"), "install", "-q", peer], check=False)
            print(f"{peer}: pip install exit {p.returncode}")
        has_numpy = (
            subprocess.run([str(v / "bin" / "python"), "-c", "import numpy"], capture_output=True).returncode == 0
        )
        print(f"{peer} in {v}: numpy {'installed' if has_numpy else 'not installed'}")


def folder_cmd(tool: str, venvs: Path, folder: Path) -> list[str]:
    if tool == "lossdoc":
        return ["lossdoc", "analyze", str(folder), "--format", "json", "-j", "1", "--fail-on", "never"]
    return [peer_exe(venvs, tool), "check", "--format", "json", str(folder)]


def file_cmd(tool: str, venvs: Path, path: Path) -> list[str]:
    if tool in PEERS:
        return [peer_exe(venvs, tool), "check", str(path)]
    exe = str(venvs / tool / "bin" / tool)
    return {
        "lossdoc": ["lossdoc", "analyze", str(path), "--format", "json", "--fail-on", "never"],
        "trainproof": [exe, "doctor", "--json", str(path)],
        "trainspotter": [exe, "analyze", "--output", "json", str(path)],
        "runmedic": [exe, "diagnose", "--json", str(path)],
    }[tool]


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}–{max(xs):.2f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/lossdoc-peers", help="folder for the generated logs")
    ap.add_argument("--venvs", default="/work/compvenv", help="one venv per peer")
    ap.add_argument("--setup", action="store_true", help="create the two losslint venvs, then exit")
    ap.add_argument("--sets", default="detection,detection-short,mixed")
    ap.add_argument("--seed", type=int, default=SEED + 7, help="seed of the mixed set")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--small-repeat", type=int, default=21)
    ap.add_argument("--per-file", type=int, default=0, help="time each peer per file on this many mixed logs")
    args = ap.parse_args()
    venvs, work = Path(args.venvs), Path(args.work)
    if args.setup:
        setup(venvs)
        return 0
    peers = [p for p in PEERS if Path(peer_exe(venvs, p)).exists()]
    if not peers:
        print(f"no losslint under {venvs}: run benchmarks/peers.py --setup", file=sys.stderr)
        return 2
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
        times: dict[str, list[float]] = {t: [] for t in ["lossdoc", *peers]}
        for _ in range(args.repeat):
            for tool in times:
                cpu, _wall, code = cpu_of(folder_cmd(tool, venvs, folder))
                if code not in (0, 1):
                    print(f"{tool} exited {code} on {folder}", file=sys.stderr)
                times[tool].append(cpu)
        rows.append((f"{name}: {n} logs, one call, CPU s", times))
    small: dict[str, list[float]] = {t: [] for t in ["lossdoc", "lossdoc json", *peers, "import numpy"]}
    for _ in range(args.small_repeat):
        for tool in small:
            if tool == "lossdoc":
                cmd = ["lossdoc", "analyze", str(SMALL_LOG), "--fail-on", "never"]  # the default table
            elif tool == "import numpy":
                cmd = [sys.executable, "-c", "import numpy"]  # the floor of any tool built on numpy
            else:
                cmd = file_cmd(tool.split()[0] if tool.startswith("lossdoc") else tool, venvs, SMALL_LOG)
            # numpy as lossdoc's command line imports it: one BLAS thread
            env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"} if tool == "import numpy" else None
            small[tool].append(cpu_of(cmd, env)[1])
    for tool, what in (("lossdoc", "table"), ("lossdoc json", "--format json"), ("import numpy", "floor")):
        label = (
            f"`python -c 'import numpy'` ({what}), wall s"
            if tool == "import numpy"
            else f"one small Keras log ({what}), wall s"
        )
        rows.append((label, {"lossdoc": small[tool], **{p: small[p] for p in peers}}))

    print("| work | lossdoc | " + " | ".join(peers) + " | " + " | ".join(f"lossdoc / {p}" for p in peers) + " |")
    print("|---|---:|" + "---:|" * (2 * len(peers)))
    for what, t in rows:
        ratios = [spread([a / b for a, b in zip(t["lossdoc"], t[p], strict=True)]) for p in peers]
        print(
            f"| {what} | {spread(t['lossdoc'])} | "
            + " | ".join(spread(t[p]) for p in peers)
            + " | "
            + " | ".join(ratios)
            + " |"
        )
    print(f"\nmedian (min–max) of {args.repeat} runs ({args.small_repeat} for the small log), {os.cpu_count()} cores")

    if args.per_file:
        files = sorted(p for p in (work / "mixed").iterdir() if p.suffix == ".csv")[: args.per_file]
        print(f"\none call per log on {len(files)} CSV logs of the mixed set (CPU s per log, start-up included):")
        print("| tool | CPU s / log | logs read (exit 0/1) |")
        print("|---|---:|---:|")
        for tool in ["lossdoc", *peers, "trainproof", "trainspotter", "runmedic"]:
            exe = peer_exe(venvs, tool) if tool in PEERS else str(venvs / tool / "bin" / tool)
            if tool != "lossdoc" and not Path(exe).exists():
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
