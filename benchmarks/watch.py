"""Live detection: replay logs point by point through lossdoc.Monitor (what ``lossdoc watch`` runs).

For each synthetic run with a labelled onset (a blow-up, a NaN) it reports the delay, in points, from the
onset to the first error alert, next to the shortest prefix of the same log on which post-hoc
``lossdoc analyze`` already finds it (the best a live watcher re-running the rules could do). For healthy
runs, and the bundled sample logs, it counts error alerts (false alarms) and all alerts. ``--cpu N`` times
the Monitor alone on an N-point healthy stream (CPU seconds per point, and the share of one core at a given
step rate).

    python benchmarks/watch.py                 # the detection table (about a minute)
    python benchmarks/watch.py --cpu 1000000   # CPU cost on a 1M-step stream
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from lossdoc.analysis import analyze
from lossdoc.history import LossHistory, Series
from lossdoc.ingest import read_one
from lossdoc.monitor import Monitor

ROOT = Path(__file__).resolve().parents[1]


def decay(n: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / max(1, n - 1)
    return (0.2 + 1.8 * np.exp(-5 * t)) * np.exp(rng.normal(0, noise, n))


def cases() -> list[tuple[str, np.ndarray, int | None]]:
    out: list[tuple[str, np.ndarray, int | None]] = []
    for n in (100, 1_000, 10_000):
        for noise in (0.01, 0.05):
            for seed in range(3):
                y = decay(n, noise, seed)
                out.append((f"healthy n={n} noise={noise} #{seed}", y, None))
                onset = int(n * (0.5 + 0.1 * seed))
                blown = y.copy()
                blown[onset:] *= np.exp(np.arange(n - onset) * (8.0 / max(50, n // 20)))
                out.append((f"blow-up n={n} noise={noise} #{seed}", blown, onset))
                nan = y.copy()
                nan[onset:] = np.nan
                out.append((f"nan n={n} noise={noise} #{seed}", nan, onset))
    return out


def replay(y: np.ndarray, x: np.ndarray | None = None) -> tuple[float | None, int]:
    """The step of the first error alert (None: none), and how many alerts of any kind."""
    m = Monitor()
    first = None
    xs = np.arange(y.size) if x is None else x
    for step, value in zip(xs.tolist(), y.tolist(), strict=True):
        for alert in m.update(step, loss=value):
            if first is None and alert.kind == "new" and alert.finding.severity == "error":
                first = step
    m.check()
    return first, sum(1 for a in m.alerts if a.kind == "new")


def post_hoc_prefix(y: np.ndarray, onset: int) -> int | None:
    """The shortest prefix (as its last index) on which analyze finds an error: bisection, as finding one is
    (nearly always) monotone in the prefix length."""

    def found(k: int) -> bool:
        h = LossHistory("b", "b", "b", "step", [Series("loss", "train", np.arange(k, dtype=float), y[:k])])
        return any(f.severity == "error" and f.confidence != "low" for f in analyze(h).findings)

    lo, hi = onset + 1, y.size
    if not found(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if found(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo - 1


def table() -> None:
    rows = []
    for name, y, onset in cases():
        first, alerts = replay(y)
        kind = name.split(" ")[0]
        if onset is None:
            rows.append((kind, name, "-", "-", "yes" if first is not None else "no", alerts))
            continue
        prefix = post_hoc_prefix(y, onset)
        delay = "missed" if first is None else str(int(first - onset))
        rows.append((kind, name, delay, "-" if prefix is None else str(prefix - onset), "-", alerts))
    print("| run | live delay (points after onset) | post-hoc on a prefix | false error alert | alerts |")
    print("|---|---|---|---|---|")
    for _, name, delay, prefix, false, alerts in rows:
        print(f"| {name} | {delay} | {prefix} | {false} | {alerts} |")
    summarise(rows)
    samples()


def summarise(rows: list[tuple[str, str, str, str, str, int]]) -> None:
    for kind in ("blow-up", "nan"):
        delays = [int(r[2]) for r in rows if r[0] == kind and r[2] != "missed"]
        missed = sum(1 for r in rows if r[0] == kind and r[2] == "missed")
        if delays:
            print(f"\n{kind}: median delay {np.median(delays):.0f} points, max {max(delays)}, missed {missed}")
    healthy = [r for r in rows if r[0] == "healthy"]
    print(f"healthy: {sum(r[4] == 'yes' for r in healthy)} of {len(healthy)} with a false error alert")


def samples() -> None:
    print("\n| sample log | error alerts | alerts |")
    print("|---|---|---|")
    for path in sorted((ROOT / "sample_logs").rglob("*")):
        if path.suffix not in (".csv", ".jsonl", ".json") or "make_" in path.name:
            continue
        try:
            runs = read_one(str(path))
        except Exception:
            continue
        for h in runs:
            main = h.train or h.val
            if main is None:
                continue
            first, alerts = replay(main.y, main.x)
            print(f"| {path.relative_to(ROOT)} | {'at ' + str(first) if first is not None else 'none'} | {alerts} |")


def cpu(n: int, steps_per_second: float) -> None:
    y = decay(n, 0.05, 0)
    lr = 1e-3
    m = Monitor()
    start = time.process_time()
    wall = time.perf_counter()
    for step, value in enumerate(y.tolist()):
        m.update(step, loss=value, lr=lr)
    spent = time.process_time() - start
    per_point = spent / n
    print(
        f"{n:,} points: {spent:.1f} s CPU ({time.perf_counter() - wall:.1f} s wall), "
        f"{per_point * 1e6:.1f} µs per point;"
        f" at {steps_per_second:g} steps/s that is {100 * per_point * steps_per_second:.2f}% of one core"
    )
    print(f"alerts: {len(m.alerts)} ({sum(1 for a in m.alerts if a.finding.severity == 'error')} errors)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu", type=int, metavar="N", help="time the Monitor on an N-point healthy stream")
    parser.add_argument("--rate", type=float, default=10.0, help="training steps per second, for --cpu (default 10)")
    args = parser.parse_args()
    if args.cpu:
        cpu(args.cpu, args.rate)
    else:
        table()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
