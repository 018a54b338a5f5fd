"""Live alerts on real per-step training losses: lossdoc.Monitor against post-hoc ``lossdoc analyze``.

Trains 64 tiny MLPs on CPU (torch and scikit-learn's bundled data sets; seeded) and writes each run's
per-step training loss and per-epoch validation loss to a CSV, in two families with nothing in common
but the code: *a* (4 data sets × SGD/Adam × batch 16/64 × a low and a high learning rate, two hidden
layers of 64) and *b* (other seeds and split, one hidden layer of 128, ReLU/tanh, and half of the runs
with the learning rate multiplied by 40 (SGD) or 100 (Adam) half-way through: a real blow-up). Then it
feeds every run point by point to ``lossdoc.Monitor`` (the engine of ``lossdoc watch`` and the
callbacks) and reports, per family:

- runs with a false error alert: an error alert before the run's onset, which is the first error
  ``lossdoc analyze`` finds in the whole run, or the step at which the learning rate jumped if earlier
  (none: every error alert in the run is false);
- runs with an onset that were alerted on at or after it, and the delay in steps (median, max).

    python benchmarks/live_runs.py --out /tmp/lossdoc-live      # trains once (about 40 s), then replays

Needs torch and scikit-learn (``pip install torch==2.13.0 scikit-learn``); the runs are kept in --out
and not trained again.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

FAMILIES = ("a", "b")


def _data(name: str, seed: int):  # type: ignore[no-untyped-def]
    import numpy as np
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine, make_classification
    from sklearn.preprocessing import StandardScaler

    if name == "digits":
        x, y = load_digits(return_X_y=True)
    elif name == "cancer":
        x, y = load_breast_cancer(return_X_y=True)
    elif name == "wine":
        x, y = load_wine(return_X_y=True)
    elif name == "synth":
        x, y = make_classification(3000, 20, n_informative=8, n_classes=4, flip_y=0.05, random_state=3)
    else:
        x, y = load_diabetes(return_X_y=True)
        y = (y - y.mean()) / y.std()
    x = StandardScaler().fit_transform(x)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]], name != "diabetes"


def _train(path: Path, data: str, optimiser: str, rate: float, batch: int, hidden: list[int], act: str,
           steps: int, jump: float | None, seed: int) -> None:  # fmt: skip
    import numpy as np
    import torch

    xt, yt, xv, yv, classify = _data(data, 0 if seed == 1 else 5)
    torch.manual_seed(seed)
    width = [xt.shape[1], *hidden, int(yt.max()) + 1 if classify else 1]
    layers: list = []
    for a, b in itertools.pairwise(width):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU() if act == "relu" else torch.nn.Tanh()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = (
        torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9)
        if optimiser == "sgd"
        else torch.optim.Adam(model.parameters(), lr=rate)
    )
    loss_of = torch.nn.CrossEntropyLoss() if classify else torch.nn.MSELoss()
    kind = torch.long if classify else torch.float32
    xt_, xv_ = torch.tensor(xt, dtype=torch.float32), torch.tensor(xv, dtype=torch.float32)
    yt_, yv_ = torch.tensor(yt, dtype=kind), torch.tensor(yv, dtype=kind)
    if not classify:
        yt_, yv_ = yt_[:, None], yv_[:, None]
    per_epoch = int(np.ceil(len(xt_) / batch))
    epochs = max(10, steps // per_epoch)
    total, step, rows = per_epoch * epochs, 0, []
    order = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        perm = torch.randperm(len(xt_), generator=order)
        for i in range(0, len(xt_), batch):
            if jump is not None and step == total // 2:
                for group in opt.param_groups:
                    group["lr"] = rate * jump
            b = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_of(model(xt_[b]), yt_[b])
            loss.backward()
            opt.step()
            step += 1
            rows.append([step, f"{loss.item():.6g}", "", f"{opt.param_groups[0]['lr']:.6g}"])
        with torch.no_grad():
            rows[-1][2] = f"{loss_of(model(xv_), yv_).item():.6g}"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "train_loss", "val_loss", "lr"])
        w.writerows(rows)


def make(out: Path) -> None:
    import torch

    torch.set_num_threads(1)
    a = itertools.product(["digits", "cancer", "wine", "diabetes"], ["sgd", "adam"], [16, 64], ["lo", "hi"])
    for data, opt, batch, level in a:
        rate = {"sgd": {"lo": 0.01, "hi": 0.1}, "adam": {"lo": 1e-3, "hi": 1e-2}}[opt][level]
        target = out / "a" / f"{data}_{opt}_bs{batch}_{level}.csv"
        if not target.exists():
            _train(target, data, opt, rate, batch, [64, 64], "relu", 1500, None, 1)
    b = itertools.product(["digits", "cancer", "synth", "diabetes"], ["adam", "sgd"], ["steady", "jump"])
    for (data, opt, sched), act in itertools.product(b, ["relu", "tanh"]):
        target = out / "b" / f"{data}_{opt}_{sched}_{act}.csv"
        jump = (40.0 if opt == "sgd" else 100.0) if sched == "jump" else None
        if not target.exists():
            _train(target, data, opt, {"sgd": 0.05, "adam": 2e-3}[opt], 32, [128], act, 2000, jump, 11)


WARNINGS: Counter[str] = Counter()
"""New and cleared warnings over every run replayed (what a watcher reads besides the errors)."""


def replay(path: Path) -> list[float]:
    """The steps of the Monitor's new error alerts over the whole run (its warnings go to WARNINGS)."""
    from lossdoc.monitor import Monitor

    m, steps = Monitor(name=path.stem), []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            values = {k: float(row[k]) for k in ("train_loss", "val_loss") if row[k]}
            for alert in m.update(float(row["step"]), **values):
                if alert.kind == "new" and alert.finding.severity == "error":
                    steps.append(float(row["step"]))
                elif alert.finding.severity == "warning" and alert.kind in ("new", "cleared"):
                    WARNINGS[alert.kind] += 1
    return steps


def onsets(files: list[Path]) -> dict[str, float | None]:
    """Each run's onset: post-hoc ``lossdoc analyze``'s first error, or the learning-rate jump if earlier."""
    cmd = [sys.executable, "-m", "lossdoc", "analyze", *map(str, files), "--format", "json", "--fail-on", "never"]
    runs = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=False).stdout)["runs"]
    out: dict[str, float | None] = {}
    for run in runs:
        path = Path(run["source"])
        first = min((f["start"] for f in run["findings"] if f["severity"] == "error"), default=None)
        with path.open(newline="") as fh:
            rates = [(float(r["step"]), float(r["lr"])) for r in csv.DictReader(fh)]
        jump = next((s for (_, before), (s, v) in itertools.pairwise(rates) if v > 5 * before), None)
        known = [x for x in (first, jump) if x is not None]
        out[path.name] = min(known) if known else None
    return out


def family(folder: Path) -> str:
    """One row of the table: the family's runs replayed, against their onsets."""
    files = sorted(folder.glob("*.csv"))
    onset = onsets(files)
    false = missed = 0
    delays: list[float] = []
    for path in files:
        alerts, start = replay(path), onset[path.name]
        if any(start is None or s < start for s in alerts):
            false += 1
        if start is not None:
            after = [s for s in alerts if s >= start]
            if after:
                delays.append(after[0] - start)
            else:
                missed += 1
    without = sum(v is None for v in onset.values())
    delay = f"{statistics.median(delays):g}, {max(delays):g}" if delays else "—"
    return (
        f"| {folder.name} | {len(files)} | {false} ({without} runs without an onset) | "
        f"{len(delays)} of {len(files) - without} ({missed}) | {delay} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="where the runs are written (and kept)")
    args = ap.parse_args()
    for name in FAMILIES:
        (args.out / name).mkdir(parents=True, exist_ok=True)
    make(args.out)
    print("| family | runs | runs with a false error alert | onsets alerted on (missed) | delay, steps (median, max) |")
    print("|---|---:|---|---|---|")
    for name in FAMILIES:
        print(family(args.out / name))
    print(f"\nwarnings over the {sum(len(list((args.out / n).glob('*.csv'))) for n in FAMILIES)} runs: "
          f"{WARNINGS['new']} told, {WARNINGS['cleared']} cleared again")  # fmt: skip


if __name__ == "__main__":
    main()
