"""Detection-quality benchmark for lossdoc on synthetic loss logs with exact labels.

Run by hand (not part of the test suite):

    PATH=.venv/bin:$PATH python benchmarks/detection.py                  # temp dir, score lossdoc
    PATH=.venv/bin:$PATH python benchmarks/detection.py --out /tmp/synth  # keep the generated corpus
    PATH=.venv/bin:$PATH python benchmarks/detection.py --dev             # also score ../shared/corpus/dev
    python benchmarks/detection.py --out /tmp/synth --generate-only       # only write the files

What it does
------------
1. Generates ~200 synthetic training logs (fixed seed, deterministic) covering healthy convergence, still
   improving, overfitting (early / late / mild / too mild to count), NaN and Inf (train, and val only),
   exploding loss, a jump that stays, recovered spikes, spikes that do not fully recover, slow divergence,
   a mild upward drift, a mid-run stall then recovery, never learned, step learning-rate schedules, heavy
   minibatch noise, Lightning-style sparse validation rows, at loss scales 1e-4 / 1 / 1e4 and lengths
   10 / 100 / 1,000 / 100,000 points, plus one 1,000,000-point healthy noisy run.
   Curves are multiplicative with log-normal noise, so a shape means the same thing at every scale.
2. Labels every case from its *noiseless* curves by the definitions in the corpus's LABELS.md (not from
   any tool's output). Borderline cases are labelled ``unclear`` and left out of scoring:

   - overfit: the noiseless val curve has an interior minimum and then rises while train keeps falling or
     stays flat. Let r = val_end / val_min - 1 and d = share of the x range after the minimum.
     yes if r >= 6% or (d >= 25% and r >= 3%); no if no val rise (r < 1%) or (r < 4% and d < 15%);
     otherwise unclear. best_x = argmin of the noiseless val at the val x points. na without val.
   - diverged: yes when the train loss becomes NaN/Inf for the rest of the run or blows up (back to or
     above its starting level, or several times its minimum) and stays; diverged_x = the first x of the
     blow-up (where the rise starts). An isolated NaN/Inf with a healthy run around it is ``unclear``
     ("becomes NaN" is ambiguous for one bad value); a rise to only ~1.3x the minimum is ``no``.
   - plateau: the longest contiguous stretch over which the noiseless train loss stays within a 2% band
     (improves by < 2% of its own value; a rising blow-up is not a plateau), as a share of the x range.
     yes if that share is >= 27% with a 1.5% band; no if it is < 23% with a 2.5% band; else unclear.
     plateau_start_x = start of the longest 2%-band stretch. For diverged runs only the part before the
     blow-up is searched, and the case is unclear if the blown-up tail alone would form such a stretch.
     A slow upward drift that is not a blow-up (mild_drift_up) is unclear: "improves by < 2%" is literally
     true of a rise, yet the curve is not flat.
   - still_improving (the run stopped too early): drop of the noiseless loss that matters over the last 10%
     of the x range, relative to its end value. With val: yes if val drops >= 3% and train >= 1% (train
     not flat); no if val drops < 1% or train < 0.3%. Without val: yes if train drops >= 3%, no if < 1%.
     Else unclear. An overfitting run is never still improving (an unclear one is unclear).
   - spikes: yes for injected transient jumps (>= max(4x, 10 sigma of the noise) above the curve, 1-3
     points, then back to the curve); a spike that only partly recovers and leaves the loss ~1.3x higher
     is unclear; jumps that stay (divergence) and LR-step drops are no.
   - nonfinite: yes iff any NaN/Inf is written in the train or val column.
3. Writes ``<id>.csv`` (columns ``step`` or ``epoch``, ``train_loss``, ``val_loss``; Lightning-style
   cases also ``epoch`` with train and val on separate rows) and ``labels.csv`` with the same columns as
   the dev corpus's labels.csv, so ``python ../shared/corpus/score.py --corpus DIR --lossdoc lossdoc``
   scores the same folder.
4. Runs ``lossdoc analyze --format json --fail-on never`` on the files and prints per-rule TP/FP/FN/TN,
   precision, recall, F1, the onset error (|reported start - labelled x| / x range: median and the share
   of TPs within 10%), a Markdown table for the README, and every misclassified case with a note on why.
   Matching follows score.py: a finding counts for a label if its rule maps to the label (overfit <-
   overfitting; diverged <- divergence or non-finite; plateau; still_improving; spikes <- loss-spike;
   nonfinite <- non-finite) and, for the train-loss labels, if it is about the train column (or names no
   series); nonfinite counts a finding on any series.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEED = 20240611
LABEL_KEYS = ("overfit", "diverged", "plateau", "still_improving", "spikes", "nonfinite")
ONSET_KEYS = {"overfit": "best_x", "diverged": "diverged_x", "plateau": "plateau_start_x"}
LABEL_COLUMNS = [
    "id",
    "file",
    "format",
    "x_col",
    "train_col",
    "val_col",
    "overfit",
    "best_x",
    "diverged",
    "diverged_x",
    "plateau",
    "plateau_start_x",
    "still_improving",
    "spikes",
    "nonfinite",
    "rows",
    "notes",
]
# lossdoc rule slug -> (label key, which series the finding must be about); mirrors score.py's matching
LOSSDOC_RULES = {
    "overfitting": [("overfit", "any")],
    "divergence": [("diverged", "train")],
    "non-finite": [("diverged", "train"), ("nonfinite", "file")],
    "plateau": [("plateau", "train")],
    "still-improving": [("still_improving", "train")],
    "loss-spike": [("spikes", "train")],
}
DEV_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

Curve = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------------------------- shapes
def exp_decay(floor: float, tau: float) -> Curve:
    """1 at t=0, decaying exponentially towards ``floor`` with time constant ``tau`` (in run fractions)."""
    return lambda t: floor + (1 - floor) * np.exp(-np.asarray(t) / tau)


def power_decay(floor: float, k: float, alpha: float) -> Curve:
    return lambda t: floor + (1 - floor) * (1 + k * np.asarray(t)) ** -alpha


def u_val(train: Curve, gap: float, best: float, rise: float, power: float = 1.5) -> Curve:
    """A val curve that follows ``train`` (times 1+gap) until ``best``, then rises by ``rise`` (relative to
    its minimum) by the end of the run while train keeps falling."""

    def g(t):
        t = np.asarray(t, dtype=float)
        after = np.clip((t - best) / max(1e-9, 1 - best), 0, None)
        return train(np.minimum(t, best)) * (1 + gap) * (1 + rise * after**power)

    return g


def shifted_val(train: Curve, gap: float) -> Curve:
    return lambda t: train(t) * (1 + gap)


def with_stall(base: Curve, t0: float, length: float) -> Curve:
    """``base`` with its clock stopped between t0 and t0+length (a flat stretch), then resuming."""

    def f(t):
        t = np.asarray(t, dtype=float)
        eff = np.where(t < t0, t, np.where(t < t0 + length, t0, t - length))
        return base(eff)

    return f


def step_schedule(steps: list[float], drop: float, tau: float, floor0: float = 0.5) -> Curve:
    """Loss under a step LR schedule: within each segment it approaches that segment's floor with time
    constant ``tau``; at each LR step the floor falls by ``drop`` (relative) and the loss follows quickly."""

    def f(t):
        t = np.asarray(t, dtype=float)
        bounds = [0.0, *steps]
        y = np.empty_like(t)
        level = 1.0
        for i, b in enumerate(bounds):
            end = bounds[i + 1] if i + 1 < len(bounds) else np.inf
            floor = floor0 * (1 - drop) ** i
            tc = tau if i == 0 else tau / 3
            seg = (t >= b) & (t < end)
            y[seg] = floor + (level - floor) * np.exp(-(t[seg] - b) / tc)
            if np.isfinite(end):
                level = floor + (level - floor) * np.exp(-(end - b) / tc)
        return y

    return f


def blow_up(base: Curve, t0: float, growth: float, cap: float | None = None) -> Curve:
    """``base`` until t0, then multiplied by exp(growth * (t - t0)) (optionally capped at ``cap`` x)."""

    def f(t):
        t = np.asarray(t, dtype=float)
        m = np.exp(growth * np.clip(t - t0, 0, None))
        if cap is not None:
            m = np.minimum(m, cap)
        return base(t) * m

    return f


def jump(base: Curve, t0: float, level: float) -> Curve:
    """``base`` until t0, then a sudden step up to ``level`` (absolute, relative to the start = 1) that stays."""

    def f(t):
        t = np.asarray(t, dtype=float)
        return np.where(t < t0, base(t), level * base(t) / base(t0))

    return f


# --------------------------------------------------------------------------------------------- cases
@dataclass
class Case:
    id: str
    family: str
    n: int
    scale: float
    train: Curve
    val: Curve | None = None
    sigma: float = 0.03  # log-normal noise of the train loss
    sigma_val: float = 0.015
    x_col: str = "step"
    stride: int = 1
    val_every: int = 1  # val value on every val_every-th train row
    lightning: bool = False  # train and val on separate rows, Lightning CSVLogger style
    spikes: list[tuple[float, float, int]] = field(default_factory=list)  # (t, log-height, width)
    partial_spike: tuple[float, float, float] | None = None  # (t, log-height, remaining factor)
    nan_from: float | None = None  # train becomes NaN/Inf from this t to the end
    nan_token: str = "nan"
    isolated_nonfinite: list[tuple[float, str]] = field(default_factory=list)  # train (t, "nan"/"inf")
    val_nonfinite: list[float] = field(default_factory=list)  # val NaN at these t
    diverged: tuple[str, float | None] = ("no", None)  # (label, t of blow-up start)
    overrides: dict[str, str] = field(default_factory=dict)
    note: str = ""


def grid_stretch(f: np.ndarray, t: np.ndarray, band: float) -> tuple[float, float]:
    """Longest contiguous stretch of t over which max(f)/min(f) - 1 < band. Returns (length, start t)."""
    best_len, best_start = 0.0, float(t[0])
    j = 0
    n = len(f)
    # two pointers with monotone deques for the running max / min
    from collections import deque

    qmax: deque[int] = deque()
    qmin: deque[int] = deque()
    i = 0
    for j in range(n):
        while qmax and f[qmax[-1]] <= f[j]:
            qmax.pop()
        qmax.append(j)
        while qmin and f[qmin[-1]] >= f[j]:
            qmin.pop()
        qmin.append(j)
        while f[qmax[0]] / f[qmin[0]] - 1 >= band:
            i += 1
            if qmax[0] < i:
                qmax.popleft()
            if qmin[0] < i:
                qmin.popleft()
        if t[j] - t[i] > best_len:
            best_len, best_start = float(t[j] - t[i]), float(t[i])
    return best_len, best_start


def label_case(c: Case, x: np.ndarray, xv: np.ndarray | None) -> dict[str, str]:
    """Exact labels from the noiseless curves, following LABELS.md (see the module docstring)."""
    tg = np.linspace(0, 1, 20001)
    span = float(x[-1] - x[0])

    def x_at(tt: float) -> float:
        return float(x[int(np.argmin(np.abs((x - x[0]) / span - tt)))])

    f = c.train(tg)
    lab: dict[str, str] = {k: "" for k in LABEL_COLUMNS}
    # nonfinite
    lab["nonfinite"] = "yes" if (c.nan_from is not None or c.isolated_nonfinite or c.val_nonfinite) else "no"
    # diverged
    dv, dt = c.diverged
    if c.nan_from is not None and dv == "no":
        dv, dt = "yes", c.nan_from
    if c.isolated_nonfinite and dv == "no":
        dv = "unclear"
    lab["diverged"] = dv
    if dv == "yes":
        # The first logged x of the blow-up: the first point at or after the continuous onset (rounding to
        # the nearest point could name the last healthy point instead).
        first = np.flatnonzero((x - x[0]) / span >= dt - 1e-9)
        lab["diverged_x"] = fmt_x(float(x[first[0]]) if first.size else x_at(dt))
    # sanity: a curve the builder calls "no" must not blow up by the definition
    if dv == "no":
        k = int(np.argmin(f))
        assert f[k:].max() < 1.5 * f[k] or f[k:].max() < f[0], c.id
    # plateau (on the part before any blow-up)
    end_t = 1.0 if dv != "yes" else float(dt)
    pre = tg <= end_t
    if pre.sum() > 1:
        lo_len, _ = grid_stretch(f[pre], tg[pre], 0.015)
        _mid_len, mid_start = grid_stretch(f[pre], tg[pre], 0.02)
        hi_len, _ = grid_stretch(f[pre], tg[pre], 0.025)
    else:
        lo_len = hi_len = 0.0
        mid_start = 0.0
    if lo_len >= 0.27:
        lab["plateau"] = "yes"
        lab["plateau_start_x"] = fmt_x(x_at(mid_start))
    elif hi_len < 0.23:
        lab["plateau"] = "no"
    else:
        lab["plateau"] = "unclear"
    if dv == "yes":
        post = tg >= dt
        tail_len = 0.0 if c.nan_from is not None else grid_stretch(f[post], tg[post], 0.025)[0]
        if tail_len >= 0.23:
            lab["plateau"], lab["plateau_start_x"] = "unclear", ""
    # overfit
    if c.val is None:
        lab["overfit"] = "na"
        g_drop = None
    else:
        tv = (xv - x[0]) / span
        gv = c.val(tv)
        kb = int(np.argmin(gv))
        r = gv[-1] / gv[kb] - 1
        d = 1 - tv[kb]
        train_after = c.train(tv[kb:])
        train_ok = train_after[-1] <= train_after[0] * 1.01
        if r >= 0.06 or (d >= 0.25 and r >= 0.03):
            lab["overfit"] = "yes" if train_ok and dv == "no" else "no"
        elif r < 0.01 or (r < 0.04 and d < 0.15):
            lab["overfit"] = "no"
        else:
            lab["overfit"] = "unclear"
        if lab["overfit"] == "yes":
            lab["best_x"] = fmt_x(float(xv[kb]))
        g = c.val(tg)
        g_drop = (g[tg >= 0.9][0] - g[-1]) / g[-1]
    # still improving
    f_drop = (f[tg >= 0.9][0] - f[-1]) / f[-1]
    if c.nan_from is not None or dv == "yes":
        lab["still_improving"] = "no"
    elif lab["overfit"] in ("yes", "unclear"):
        # an overfitting run is never still improving; an unclear one leaves this unclear (LABELS.md)
        lab["still_improving"] = "no" if lab["overfit"] == "yes" else "unclear"
    elif g_drop is not None:
        # the loss that matters is validation; the training loss must not be flat either
        if g_drop >= 0.03 and f_drop >= 0.01:
            lab["still_improving"] = "yes"
        elif g_drop < 0.01 or f_drop < 0.003:
            lab["still_improving"] = "no"
        else:
            lab["still_improving"] = "unclear"
    elif f_drop >= 0.03:
        lab["still_improving"] = "yes"
    elif f_drop < 0.01:
        lab["still_improving"] = "no"
    else:
        lab["still_improving"] = "unclear"
    # spikes
    lab["spikes"] = "yes" if c.spikes else ("unclear" if c.partial_spike else "no")
    lab.update(c.overrides)
    return lab


def fmt_x(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"


def render(c: Case, rng: np.random.Generator, folder: Path) -> dict[str, str]:
    n = c.n
    x = np.arange(1, n + 1, dtype=float) if c.x_col == "epoch" else np.arange(1, n + 1, dtype=float) * c.stride
    t = (x - x[0]) / (x[-1] - x[0])
    y = c.scale * c.train(t) * np.exp(rng.normal(0, c.sigma, n))
    for ts, h, w in c.spikes:
        i = round(ts * (n - 1))
        for k in range(w):
            if i + k < n:
                y[i + k] *= math.exp(h * (1 - k / max(1, w)))
    if c.partial_spike:
        ts, h, rest = c.partial_spike
        i = round(ts * (n - 1))
        tail = np.arange(n - i)
        decay_pts = max(2, n // 100)
        y[i:] *= rest + (math.exp(h) - rest) * np.exp(-tail / decay_pts)
    if c.diverged[0] == "yes" and c.nan_from is None:
        pass
    tokens_train = [None] * n
    if c.nan_from is not None:
        i0 = int(np.searchsorted(t, c.nan_from))
        for i in range(i0, n):
            tokens_train[i] = c.nan_token
    for ts, tok in c.isolated_nonfinite:
        tokens_train[round(ts * (n - 1))] = tok
    # validation rows
    val_rows: list[int] = []
    yv = None
    tokens_val: dict[int, str] = {}
    if c.val is not None:
        val_rows = list(range(c.val_every - 1, n, c.val_every))
        tv = t[val_rows]
        yv = c.scale * c.val(tv) * np.exp(rng.normal(0, c.sigma_val, len(val_rows)))
        if c.nan_from is not None:
            for j, r in enumerate(val_rows):
                if t[r] >= c.nan_from:
                    tokens_val[j] = "nan"
        for tsv in c.val_nonfinite:
            tokens_val[int(np.argmin(np.abs(tv - tsv)))] = "nan"
    xv = x[val_rows] if c.val is not None else None
    lab = label_case(c, x, xv)

    def num(v: float) -> str:
        return f"{v:.6g}"

    path = folder / f"{c.id}.csv"
    with path.open("w", newline="") as fh:
        if c.lightning:
            fh.write("epoch,step,train_loss,val_loss\n")
            per_epoch = max(1, c.val_every)
            vi = 0
            vset = dict(zip(val_rows, range(len(val_rows)), strict=True))
            lines = []
            for i in range(n):
                ep = i // per_epoch
                xi = int(x[i]) - 1  # Lightning steps start at 0
                tr = tokens_train[i] or num(y[i])
                lines.append(f"{ep},{xi},{tr},\n")
                if i in vset:
                    vi = vset[i]
                    vv = tokens_val.get(vi) or num(yv[vi])
                    lines.append(f"{ep},{xi},,{vv}\n")
            fh.write("".join(lines))
            # shift labelled x values the same way as the written steps
            for k in ("best_x", "diverged_x", "plateau_start_x"):
                if lab[k]:
                    lab[k] = fmt_x(float(lab[k]) - 1)
        else:
            has_val = c.val is not None
            fh.write(f"{c.x_col},train_loss" + (",val_loss\n" if has_val else "\n"))
            vmap = dict(zip(val_rows, range(len(val_rows)), strict=True))
            lines = []
            for i in range(n):
                tr = tokens_train[i] or num(y[i])
                xs = fmt_x(x[i])
                if has_val:
                    j = vmap.get(i)
                    vv = "" if j is None else (tokens_val.get(j) or num(yv[j]))
                    lines.append(f"{xs},{tr},{vv}\n")
                else:
                    lines.append(f"{xs},{tr}\n")
            fh.write("".join(lines))
    lab.update(
        id=c.id,
        file=path.name,
        format="lightning_csv" if c.lightning else "other",
        x_col=c.x_col,
        train_col="train_loss",
        val_col="val_loss" if c.val is not None else "",
        rows=str(n),
        notes=f"family={c.family}; {c.note}".strip(),
    )
    return lab


SCALES = {"1e-4": 1e-4, "1": 1.0, "1e4": 1e4}


def base_sigma(n: int) -> float:
    return 0.02 if n <= 100 else (0.04 if n <= 1000 else 0.08)


def layout(n: int) -> dict:
    """x axis, stride and val cadence by run length: short runs are per-epoch logs, long runs per-step."""
    if n <= 100:
        return dict(x_col="epoch", stride=1, val_every=1)
    if n <= 1000:
        return dict(x_col="step", stride=10, val_every=10)
    return dict(x_col="step", stride=1, val_every=max(1, n // 200))


def variants(lengths: list[int], big: int = 1) -> list[tuple[int, str]]:
    """(length, scale) pairs: every scale for lengths <= 1000, ``big`` rotating scales for longer runs."""
    out = []
    names = list(SCALES)
    for n in lengths:
        if n <= 1000:
            out += [(n, s) for s in names]
        else:
            out += [(n, names[(len(out) + k) % 3]) for k in range(big)]
    return out


def build_cases() -> list[Case]:
    rnd = np.random.default_rng(SEED)
    cases: list[Case] = []

    def add(family: str, n: int, scale: str, **kw) -> None:
        cid = f"{family}_len{n}_scale{scale}"
        k = 2
        while any(c.id == cid for c in cases):
            cid = f"{family}_len{n}_scale{scale}_v{k}"
            k += 1
        base = dict(layout(n), sigma=base_sigma(n))
        base.update(kw)
        cases.append(Case(id=cid, family=family, n=n, scale=SCALES[scale], **base))

    def u(a: float, b: float) -> float:
        return float(rnd.uniform(a, b))

    # healthy converging: exponential approach to a floor; converged well before the end (a plateau by the
    # definition: final convergence counts) — with a val curve that follows train, and without one
    for i, (n, s) in enumerate(variants([10, 100, 1000, 100000], big=2)):
        tr = exp_decay(u(0.05, 0.4), u(0.06, 0.12))
        add(
            "healthy",
            n,
            s,
            train=tr,
            val=shifted_val(tr, u(0.05, 0.3)) if i % 3 else None,
            note="exp decay to a floor, converged",
        )
    # still improving: power-law / slow exponential decay still falling at the end
    for i, (n, s) in enumerate(variants([10, 100, 1000, 100000], big=2)):
        tr = power_decay(0.0, u(20, 60), u(0.5, 0.8)) if i % 2 else exp_decay(u(0.0, 0.1), u(0.5, 0.9))
        add(
            "still_improving",
            n,
            s,
            train=tr,
            val=shifted_val(tr, u(0.05, 0.2)) if i % 3 != 1 else None,
            note="still falling at the end",
        )
    # overfitting early: val bottoms out around 15-30% and rises 30-80%
    for n, s in variants([10, 100, 1000, 100000]):
        tr = exp_decay(u(0.02, 0.1), u(0.1, 0.2))
        add(
            "overfit_early",
            n,
            s,
            train=tr,
            val=u_val(tr, u(0.1, 0.3), u(0.15, 0.3), u(0.3, 0.8), power=1.0),
            note="val minimum early, large rise",
        )
    # overfitting late: val bottoms out at ~75-80% and rises 10-15% by the end
    for n, s in variants([100, 1000, 100000]):
        tr = power_decay(0.0, 30, 0.6)
        add(
            "overfit_late",
            n,
            s,
            train=tr,
            val=u_val(tr, 0.2, u(0.72, 0.8), u(0.1, 0.15), power=1.3),
            note="val minimum late (~75-80%), rise 10-15%",
        )
    # overfitting mild: rise just above the 5% threshold (~6.5-8%) over ~25-35% of the run
    for n, s in variants([100, 1000, 100000]):
        tr = exp_decay(0.1, 0.2)
        add(
            "overfit_mild",
            n,
            s,
            train=tr,
            val=u_val(tr, 0.2, u(0.6, 0.7), u(0.09, 0.11), power=1.2),
            sigma_val=0.01,
            note="val rises ~7% after its minimum",
        )
    # too mild to count: ~1.5-2.5% rise over the last ~10% of the run
    for n, s in variants([100, 1000, 100000]):
        tr = exp_decay(0.1, 0.2)
        add(
            "overfit_too_mild",
            n,
            s,
            train=tr,
            val=u_val(tr, 0.2, u(0.88, 0.9), u(0.02, 0.03), power=1.0),
            sigma_val=0.01,
            note="val rises ~2% over the last ~10%: too mild",
        )
    # NaN at the end of the run after a blow-up (train and val become NaN)
    for i, (n, s) in enumerate(variants([10, 100, 1000, 100000])):
        t0 = u(0.5, 0.7)
        t_nan = min(0.95, t0 + (0.25 if n == 10 else u(0.05, 0.15)))
        tr = blow_up(exp_decay(0.2, 0.15), t0, 25.0)
        add(
            "nan_train",
            n,
            s,
            train=tr,
            val=shifted_val(tr, 0.1) if i % 2 else None,
            nan_from=t_nan,
            nan_token="inf" if i % 3 == 2 else "nan",
            diverged=("yes", t0),
            note="blow-up then NaN/Inf to the end",
        )
    # an isolated NaN/Inf in an otherwise healthy train series
    for i, (n, s) in enumerate(variants([100, 1000, 100000])):
        tr = exp_decay(0.2, u(0.15, 0.3))
        add(
            "nonfinite_isolated",
            n,
            s,
            train=tr,
            isolated_nonfinite=[(u(0.3, 0.7), "inf" if i % 2 else "nan")],
            note="one NaN/Inf in train, healthy around it",
        )
    # NaN only in the validation series
    for n, s in variants([10, 100, 1000]):
        tr = exp_decay(0.1, u(0.2, 0.4))
        add(
            "nan_val_only",
            n,
            s,
            train=tr,
            val=shifted_val(tr, 0.15),
            val_nonfinite=[0.0, u(0.4, 0.6)],
            note="val has NaN at the first and one mid eval; train fine",
        )
    # exploding: loss grows exponentially from t0 up to ~1000x its minimum and stays there
    for n, s in variants([10, 100, 1000, 100000]):
        t0 = u(0.4, 0.6)
        tr = blow_up(exp_decay(0.1, 0.15), t0, 60.0, cap=1e3)
        add("exploding", n, s, train=tr, diverged=("yes", t0), note="exponential blow-up to ~1000x, stays")
    # a sudden jump above the starting level that stays
    for n, s in variants([100, 1000, 100000]):
        t0 = u(0.55, 0.75)
        add(
            "jump_stays",
            n,
            s,
            train=jump(exp_decay(0.1, 0.1), t0, u(1.2, 2.0)),
            diverged=("yes", t0),
            note="sudden jump above the starting level, stays",
        )
    # slow divergence: minimum at t0, then a log-linear rise to ~5-8x the minimum by the end
    for n, s in variants([100, 1000, 100000]):
        t0 = u(0.35, 0.5)
        tr = blow_up(exp_decay(0.15, 0.1), t0, math.log(u(5, 8)) / (1 - t0))
        add("slow_divergence", n, s, train=tr, diverged=("yes", t0), note="slow rise to 5-8x the minimum")
    # mild upward drift: ~1.3x the minimum by the end (not a blow-up)
    for n, s in variants([100, 1000]):
        t0 = u(0.4, 0.5)
        tr = blow_up(exp_decay(0.15, 0.1), t0, math.log(1.3) / (1 - t0))
        # plateau unclear: "improves by < 2%" is literally true of a slow rise, but it is not flat
        add(
            "mild_drift_up",
            n,
            s,
            train=tr,
            overrides={"plateau": "unclear", "plateau_start_x": ""},
            note="rises to ~1.3x its minimum: not a blow-up",
        )
    # recovered spikes on a healthy curve
    for i, (n, s) in enumerate(variants([100, 1000, 100000], big=2)):
        sig = base_sigma(n)
        h = max(math.log(u(4, 20)), 10 * sig)
        w = 1 if n <= 1000 else 3
        pts = [(u(0.2, 0.45), h, w)] + ([(u(0.55, 0.85), h * u(0.8, 1.2), w)] if i % 2 else [])
        tr = power_decay(0.1, 20, 0.7)
        add(
            "spikes",
            n,
            s,
            train=tr,
            val=shifted_val(tr, 0.1) if i % 2 else None,
            spikes=pts,
            note=f"{len(pts)} transient spike(s) of {math.exp(h):.0f}x",
        )
    # spikes on a heavily noisy curve (sigma 0.3): 20-150x
    for n, s in [(1000, "1"), (1000, "1e4"), (100000, "1e-4")]:
        h = u(3.0, 5.0)
        add(
            "spikes_noisy",
            n,
            s,
            train=power_decay(0.1, 20, 0.7),
            sigma=0.3,
            spikes=[(u(0.3, 0.7), h, 1 if n <= 1000 else 3)],
            note=f"spike of {math.exp(h):.0f}x on sigma-0.3 noise",
        )
    # a spike that only partly recovers (leaves the loss ~1.3x higher)
    for n, s in variants([100, 1000]):
        add(
            "spike_partial",
            n,
            s,
            train=exp_decay(0.2, 0.15),
            partial_spike=(u(0.4, 0.6), math.log(5), 1.3),
            note="5x spike that settles 1.3x higher",
        )
    # a mid-run stall, then recovery; stall length 12-40% of the run
    for i, (n, s) in enumerate(variants([100, 1000, 100000], big=2)):
        length = [0.12, 0.2, 0.3, 0.4][i % 4]
        t0 = u(0.15, 0.3)
        tr = with_stall(power_decay(0.0, 8, 1.0), t0, length)
        add(
            "stall_mid",
            n,
            s,
            train=tr,
            val=shifted_val(tr, 0.1) if i % 2 else None,
            note=f"stall of {length:.0%} of the run from t={t0:.2f}, then recovers",
        )
    # never learned: flat at chance level
    for n, s in variants([10, 100, 1000, 100000]):
        tr = exp_decay(0.999, 0.5)
        add("never_learned", n, s, train=tr, val=shifted_val(tr, 0.01), note="flat at its starting level")
    # step LR schedule (3 steps); segment time constants decide whether the stalls reach 25%
    for i, (n, s) in enumerate(variants([100, 1000, 100000], big=2) + variants([100, 1000])):
        steps = [[0.25, 0.5, 0.75], [0.3, 0.6, 0.85], [0.45, 0.8]][i % 3]
        tau = [0.03, 0.08, 0.2][(i // 3) % 3]
        tr = step_schedule(steps, u(0.4, 0.6), tau)
        add(
            "step_lr",
            n,
            s,
            train=tr,
            val=shifted_val(tr, 0.1) if i % 2 else None,
            note=f"LR steps at {steps}, segment tau {tau}",
        )
    # heavy minibatch noise on healthy curves (sigma 0.3-0.5)
    for i, (n, s) in enumerate(variants([1000, 100000], big=3)):
        tr = power_decay(0.2, 30, 0.7) if i % 2 else exp_decay(0.3, 0.15)
        add("heavy_noise", n, s, train=tr, sigma=[0.3, 0.5][i % 2], note="healthy curve, heavy minibatch noise")
    add(
        "heavy_noise",
        1_000_000,
        "1",
        train=power_decay(0.2, 30, 0.7),
        sigma=0.4,
        val_every=5000,
        note="1M points, healthy, sigma 0.4",
    )
    # Lightning-style sparse validation rows: healthy and overfitting
    for i, (n, s) in enumerate(variants([1000, 100000], big=3)):
        tr = exp_decay(0.1, u(0.15, 0.3))
        val = u_val(tr, 0.15, u(0.3, 0.5), u(0.2, 0.4), power=1.0) if i % 2 else shifted_val(tr, 0.15)
        add(
            "sparse_val",
            n,
            s,
            train=tr,
            val=val,
            lightning=True,
            stride=1,
            val_every=50 if n <= 1000 else 2000,
            sigma=0.1,
            note="Lightning rows; " + ("overfits" if i % 2 else "healthy"),
        )
    return cases


def generate(folder: Path) -> list[dict[str, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    labels = [render(c, rng, folder) for c in build_cases()]
    with (folder / "labels.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LABEL_COLUMNS)
        w.writeheader()
        w.writerows(labels)
    return labels


# --------------------------------------------------------------------------------------------- scoring
def x_span(folder: Path, lab: dict[str, str]) -> float:
    """x range of the training series (read back from the file, first and last train rows)."""
    with (folder / lab["file"]).open() as fh:
        head = fh.readline().strip().split(",")
        xi = head.index(lab["x_col"])
        first = fh.readline().split(",")[xi]
    with (folder / lab["file"]).open("rb") as fh:
        fh.seek(max(0, os.path.getsize(folder / lab["file"]) - 200))
        last = fh.read().decode().strip().splitlines()[-1].split(",")[xi]
    return float(last) - float(first) or 1.0


def score(
    folder: Path, labels: list[dict[str, str]], preds: dict[str, dict[str, list]], supported: set[str] | None = None
) -> dict:
    """Per-label TP/FP/FN/TN, P/R/F1 and onset errors (same definitions as score.py).
    ``preds[id][label]`` is a list of reported onsets (None when a finding has no start) or missing when the
    tool reported nothing for that label; a case missing from ``preds`` entirely was not read."""
    stats = {k: dict(tp=0, fp=0, fn=0, tn=0, onset=[], misses=[]) for k in LABEL_KEYS}
    for lab in labels:
        got = preds.get(lab["id"], {})
        for key in LABEL_KEYS:
            truth = lab[key]
            if truth not in ("yes", "no"):
                continue
            st = stats[key]
            hits = got.get(key)
            if truth == "yes" and hits:
                st["tp"] += 1
                want = lab.get(ONSET_KEYS.get(key, ""), "")
                starts = [h for h in hits if isinstance(h, (int, float))]
                if want and starts:
                    st["onset"].append(min(abs(h - float(want)) for h in starts) / x_span(folder, lab))
                    if st["onset"][-1] > 0.10:
                        st["misses"].append(("onset", lab, min(starts, key=lambda h: abs(h - float(want)))))
            elif truth == "yes":
                st["fn"] += 1
                st["misses"].append(("FN", lab, None))
            elif hits:
                st["fp"] += 1
                st["misses"].append(("FP", lab, hits[0]))
            else:
                st["tn"] += 1
    out = {}
    for k, st in stats.items():
        tp, fp, fn = st["tp"], st["fp"], st["fn"]
        p = tp / (tp + fp) if tp + fp else math.nan
        r = tp / (tp + fn) if tp + fn else math.nan
        f1 = 2 * p * r / (p + r) if tp else (0.0 if fp + fn else math.nan)
        on = sorted(st["onset"])
        out[k] = dict(
            tp=tp,
            fp=fp,
            fn=fn,
            tn=st["tn"],
            precision=p,
            recall=r,
            f1=f1,
            onset_median=on[len(on) // 2] if on else None,
            onset_within_10pct=sum(o <= 0.10 for o in on) / len(on) if on else None,
            misses=st["misses"],
            supported=supported is None or k in supported,
        )
    return out


def run_lossdoc(
    cmd: str, folder: Path, labels: list[dict[str, str]], chunk: int = 40, timeout: int = 1800
) -> tuple[dict, list[str], float]:
    files = [str((folder / lab["file"]).resolve()) for lab in labels]
    by_src: dict[str, list[dict]] = {}
    errors: list[str] = []
    t0 = time.perf_counter()
    small = [f for f, lab in zip(files, labels, strict=True) if int(lab["rows"]) < 100_000]
    parts = [small[i : i + chunk] for i in range(0, len(small), chunk)]
    parts += [[f] for f, lab in zip(files, labels, strict=True) if int(lab["rows"]) >= 100_000]
    for part in parts:
        try:
            p = subprocess.run(
                [*shlex.split(cmd), "analyze", "--format", "json", "--fail-on", "never", *part],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            errors.append(f"timeout on chunk starting {part[0]}")
            continue
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError:
            errors.append(f"no JSON (exit {p.returncode}) for chunk starting {part[0]}: {p.stderr.strip()[-300:]}")
            continue
        for run in doc.get("runs", []):
            by_src.setdefault(str(Path(run.get("source", "")).resolve()), []).append(run)
        errors += [f"{e.get('source')}: {e.get('message')}" for e in doc.get("errors", [])]
    preds: dict[str, dict[str, list]] = {}
    for lab, f in zip(labels, files, strict=True):
        runs = by_src.get(f)
        if not runs:
            continue
        got: dict[str, list] = {}
        chosen = [r for r in runs if (r.get("series") or {}).get("train") == lab["train_col"]] or runs
        for key, about in ((k, a) for pairs in LOSSDOC_RULES.values() for k, a in pairs):
            pool = runs if about == "file" else chosen
            slugs = [s for s, pairs in LOSSDOC_RULES.items() if (key, about) in pairs]
            for run in pool:
                for fd in run.get("findings", []):
                    if fd.get("rule") in slugs and (
                        about != "train" or fd.get("series") in (None, "", lab["train_col"])
                    ):
                        got.setdefault(key, []).append(fd.get("start"))
        preds[lab["id"]] = got
    return preds, errors, time.perf_counter() - t0


def fmt(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return f"{v:.{digits}f}"


def print_table(res: dict, title: str) -> None:
    print(f"\n### {title}\n")
    print("| rule | TP | FP | FN | TN | precision | recall | F1 | onset err (median) | onset ≤10% |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for k, s in res.items():
        print(
            f"| {k} | {s['tp']} | {s['fp']} | {s['fn']} | {s['tn']} | {fmt(s['precision'])} | {fmt(s['recall'])} "
            f"| {fmt(s['f1'])} | {fmt(s['onset_median'], 3)} | {fmt(s['onset_within_10pct'])} |"
        )


def print_misses(res: dict, labels_by_id: dict[str, dict[str, str]] | None = None) -> None:
    print("\nMisclassified cases (and TPs whose onset is off by more than 10% of the x range):")
    for k, s in res.items():
        for kind, lab, got in s["misses"]:
            want = lab.get(ONSET_KEYS.get(k, ""), "")
            extra = f" (label x={want}, reported x={got})" if kind == "onset" else ""
            extra = extra or (f" (reported x={got})" if kind == "FP" and got is not None else "")
            print(f"  {kind} {k}: {lab['id']} — {lab['notes'].removeprefix('family=')}{extra}")


def family_counts(labels: list[dict[str, str]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for lab in labels:
        fam = lab["notes"].split(";")[0].removeprefix("family=")
        out[fam] = out.get(fam, 0) + 1
    return out


def read_labels(folder: Path) -> list[dict[str, str]]:
    with (folder / "labels.csv").open() as fh:
        return list(csv.DictReader(fh))


def ensure_corpus(out: str | None, regenerate: bool = True) -> tuple[Path, list[dict[str, str]]]:
    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="lossdoc-synth-"))
    if not regenerate and (folder / "labels.csv").exists():
        return folder, read_labels(folder)
    return folder, generate(folder)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="folder for the generated logs and labels.csv (default: a new temp dir)")
    ap.add_argument("--reuse", action="store_true", help="reuse the logs already in --out instead of regenerating")
    ap.add_argument("--lossdoc", default="lossdoc", help="command that runs lossdoc (default: lossdoc on PATH)")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--max-rows", type=int, help="score only cases with at most this many rows (quick runs)")
    ap.add_argument("--dev", action="store_true", help="also run score.py on ../shared/corpus/dev if it exists")
    ap.add_argument("--json", help="write the per-rule results here")
    args = ap.parse_args()
    t0 = time.perf_counter()
    folder, labels = ensure_corpus(args.out, regenerate=not args.reuse)
    print(f"synthetic corpus: {folder} ({len(labels)} cases, seed {SEED}, {time.perf_counter() - t0:.1f} s)")
    print("cases per family: " + ", ".join(f"{k} {v}" for k, v in family_counts(labels).items()))
    counts = {k: {v: sum(lab[k] == v for lab in labels) for v in ("yes", "no", "unclear", "na")} for k in LABEL_KEYS}
    print("labels: " + "; ".join(f"{k} " + "/".join(f"{v}{n}" for v, n in c.items() if n) for k, c in counts.items()))
    if args.generate_only:
        return 0
    if args.max_rows:
        labels = [lab for lab in labels if int(lab["rows"]) <= args.max_rows]
        print(f"scoring only the {len(labels)} cases with <= {args.max_rows} rows (--max-rows)")
    preds, errors, secs = run_lossdoc(args.lossdoc, folder, labels)
    # kept beside the logs so competitors.py --lossdoc-preds can reuse this run instead of repeating it
    (folder / "lossdoc_preds.json").write_text(json.dumps({"command": args.lossdoc, "preds": preds}))
    res = score(folder, labels, preds)
    print(f"lossdoc read {len(preds)}/{len(labels)} files in {secs:.1f} s; {len(errors)} errors")
    for e in errors[:10]:
        print("  error:", e)
    cmd = " ".join(shlex.quote(a) for a in ["python", "benchmarks/detection.py", *sys.argv[1:]])
    print_table(res, f"lossdoc on the synthetic set ({len(labels)} cases, seed {SEED}) — `{cmd}`")
    print_misses(res)
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: {a: b for a, b in v.items() if a != "misses"} for k, v in res.items()}, indent=1)
        )
    if args.dev:
        dev = DEV_CORPUS / "dev"
        if (dev / "labels.csv").exists():
            dcmd = [sys.executable, str(DEV_CORPUS / "score.py"), "--lossdoc", args.lossdoc]
            print(f"\n### dev corpus — `{' '.join(dcmd)}`\n")
            sys.stdout.flush()
            subprocess.run(dcmd, check=False)
        else:
            print(f"\n(no dev corpus at {dev}: skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
