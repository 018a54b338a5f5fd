"""A stand-in for a training run: writes a loss log line by line, as a logger would (used by test_watch)."""

from __future__ import annotations

import math
import random
import sys
import time


def main() -> None:
    kind, points, onset, target = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    pause = float(sys.argv[5]) if len(sys.argv) > 5 else 0.005
    rng = random.Random(0)
    out = sys.stdout if target == "-" else open(target, "w", buffering=1)  # noqa: SIM115
    if kind == "csv":
        out.write("step,loss,lr\n")
    for step in range(points):
        loss = 0.2 + 1.8 * math.exp(-5 * step / points)
        if onset >= 0 and step >= onset:
            loss *= math.exp(0.08 * (step - onset))
        loss *= math.exp(rng.gauss(0, 0.03))
        if kind == "csv":
            out.write(f"{step},{loss:.6g},0.001\n")
        else:
            out.write(f'{{"step": {step}, "loss": {loss:.6g}}}\n')
        out.flush()
        if step % 5 == 4:
            print(f"epoch 0 step {step}: working", file=out) if target == "-" else None
        time.sleep(pause)
    out.close()


if __name__ == "__main__":
    main()
