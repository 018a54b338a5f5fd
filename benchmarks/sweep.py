"""A sweep of many small runs in one call (issue 20): seconds and peak memory.

Run by hand, never in the test suite:

    PATH=.venv/bin:$PATH python benchmarks/sweep.py                 # 10,000 runs (as in README)
    PATH=.venv/bin:$PATH python benchmarks/sweep.py --runs 1000     # a quicker look

It writes ``--runs`` Keras-style CSV logs of 30 epochs each, one per folder named by its settings
(``lr=0.003_bs=64_seed=7/training.csv``; the runs with lr ≥ 0.01 blow up), then times, in fresh
processes, ``lossdoc analyze ROOT --format json`` (which groups the runs into a sweep) against the same
call with ``--group-by none`` (no sweep): the difference is what the sweep summary costs. Peak memory is
the largest resident set among the call and its pool's workers (``ru_maxrss`` of the children).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
BATCH_SIZES = (16, 32, 64, 128)


def write_sweep(root: Path, runs: int) -> None:
    rng = np.random.default_rng(0)
    x = np.arange(30)
    for i in range(runs):
        lr, bs = LRS[i % len(LRS)], BATCH_SIZES[(i // len(LRS)) % len(BATCH_SIZES)]
        folder = root / f"lr={lr:g}_bs={bs}_seed={i}"
        folder.mkdir(parents=True)
        y = 0.3 + 2.0 * np.exp(-x / 6) * np.exp(rng.normal(0, 0.02, x.size))
        if lr >= 1e-2:
            y = np.where(x > 15, y * np.exp((x - 15) * 0.5), y)
        rows = "".join(f"{e},{a:.5f},{a * 1.08:.5f}\n" for e, a in zip(x, y, strict=True))
        (folder / "training.csv").write_text("epoch,loss,val_loss\n" + rows)


def timed(args: list[str]) -> tuple[float, int, str]:
    """Wall seconds, the peak resident set (bytes) of the call, and its standard output."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stdout.write(p.stdout)\n"
        "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    )
    start = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, int(p.stderr.strip().splitlines()[-1]) * 1024, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--out", type=Path, help="write the sweep here (default: a temporary folder)")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = (opts.out or Path(tmp)) / "sweep"
        t0 = time.perf_counter()
        write_sweep(root, opts.runs)
        print(f"wrote {opts.runs:,} runs in {time.perf_counter() - t0:.1f} s")
        os.sync()
        exe = [sys.executable, "-m", "lossdoc", "analyze", str(root), "--format", "json"]
        plain_s, plain_rss, _ = timed([*exe, "--group-by", "none"])
        sweep_s, sweep_rss, out = timed(exe)
        sweep = json.loads(out)["sweep"]
        print(f"analyze, no sweep:   {plain_s:6.1f} s   peak {plain_rss / 2**20:6.0f} MB")
        print(f"analyze with sweep:  {sweep_s:6.1f} s   peak {sweep_rss / 2**20:6.0f} MB")
        behind = sweep["behind"]["divergence"]["text"]
        print(f"sweep of {sweep['runs']:,} runs by {', '.join(sweep['group_by'])}; {behind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
