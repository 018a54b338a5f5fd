"""How much recognising a console log costs: the format sniff on a 10 MB log, and the whole read.

    python benchmarks/console_sniff.py

Writes a 10 MB HuggingFace-style console log (tqdm redraws among printed dicts) and a 10 MB CSV,
then times, best of 5: ``reader_for`` (the sniff, which looks at the first 64 KiB only) and the
whole ``read_one``. Issue 17 asks that recognising a 10 MB console log add under 50 ms to reading it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from lossdoc.ingest import read_one
from lossdoc.ingest.detect import reader_for
from lossdoc.ingest.source import open_input

TARGET_BYTES = 10 * 1024 * 1024


def console_log(path: Path) -> None:
    parts, size, step = [], 0, 0
    while size < TARGET_BYTES:
        bar = "".join(f"\r {p:3d}%|{'█' * (p // 10):10s}| {p}/100 [00:01<00:02, 3.1it/s]" for p in range(0, 100, 20))
        loss = 2.0 / (1 + step / 500)
        logs = f"'loss': {loss:.4f}, 'grad_norm': 1.2, 'learning_rate': 4e-05, 'epoch': {step / 100:.2f}"
        line = f"{bar}{{{logs}}}\n"
        parts.append(line)
        size += len(line.encode())
        step += 1
    path.write_text("".join(parts))


def csv_log(path: Path) -> None:
    rows, size, step = ["step,loss,val_loss\n"], 0, 0
    while size < TARGET_BYTES:
        row = f"{step},{2.0 / (1 + step / 500):.6f},{2.1 / (1 + step / 500):.6f}\n"
        rows.append(row)
        size += len(row)
        step += 1
    path.write_text("".join(rows))


def best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in (("console.log", console_log), ("metrics.csv", csv_log)):
            path = Path(tmp) / name
            write(path)
            sniff = best(lambda p=path: reader_for(open_input(str(p))))
            read = best(lambda p=path: read_one(str(p)), repeat=3)
            mb = path.stat().st_size / 1024**2
            print(f"{name:12} {mb:5.1f} MB  sniff {sniff * 1000:6.1f} ms  whole read {read * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
