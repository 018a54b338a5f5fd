"""Learning-rate and gradient-norm awareness: what the logged schedule says about the findings.

Each function reads the logged series (and the findings the rules already made, so nothing is
detected twice) and returns short notes, each ending in the change to make:

* :func:`warmup_notes` — divergence, a spike or NaN soon after the rate reaches its peak (the end
  of warm-up): lower the peak or warm up longer.
* :func:`cut_notes` — the loss was flat before a step cut of the rate and fell after it: the cut
  came late; decay sooner or use reduce-on-plateau.
* :func:`constant_lr_notes` — a plateau while the rate never changed: add a schedule.
* :func:`grad_norm_notes` — the gradient norm spiked before the loss did: clip gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from lossdoc.analysis.context import fmt_x
from lossdoc.analysis.kernels import median, percentile, row_medians
from lossdoc.analysis.smoothing import MAD_TO_SIGMA
from lossdoc.analysis.types import Finding
from lossdoc.history import Series


@dataclass(frozen=True)
class Params:
    after_peak_fraction: float = 0.1
    """A loss event within this share of the run after the rate's peak counts as "right after" it."""
    warmup_rise: float = 2.0
    """The rate must rise at least this many times from its first value to its peak to be a warm-up."""
    cut_ratio: float = 0.7
    """A step cut: the rate falls below this ratio of its previous value from one point to the next."""
    cut_window_fraction: float = 0.05
    """Points compared before and after a cut, as a share of the loss series (at least 5)."""
    flat_before: float = 0.02
    """Before a late cut, the loss improved by less than this (relative) over the window."""
    drop_after: float = 0.05
    """After a late cut, the loss fell by at least this (relative) over the window."""
    constant_tolerance: float = 1e-3
    """The rate counts as constant when (max - min) / max over the stretch is below this."""
    grad_spike_sigmas: float = 6.0
    """A gradient-norm spike: log norm above its rolling median by this many robust sigmas."""
    grad_lead_fraction: float = 0.05
    """A gradient spike at most this share of the run before a loss event is said to precede it."""


PARAMS = Params()


def loss_events(findings: list[Finding]) -> list[tuple[str, float]]:
    """``(kind, x)`` for every divergence start (or the slow creep before it), spike and first non-finite
    value the rules found (each rule names them in its findings' :class:`~lossdoc.analysis.types.Marks`)."""
    out = [
        (kind, float(x)) for f in findings if f.start is not None and f.marks is not None for kind, x in f.marks.events
    ]
    return sorted(out, key=lambda e: e[1])


def warmup_notes(
    lr: Series, findings: list[Finding], span: tuple[float, float], x_name: str, params: Params = PARAMS
) -> list[str]:
    x, y = _finite(lr)
    if y.size < 3:
        return []
    peak_val = float(y.max())
    k = int(np.flatnonzero(y >= peak_val * 0.999)[0])
    x_peak = float(x[k])
    warmed = y[0] <= peak_val / params.warmup_rise
    reach = params.after_peak_fraction * max(span[1] - span[0], 1e-12)
    what = "warm-up ended" if warmed else "the learning rate was at its peak"
    events = loss_events(findings)
    for rule, xe in events:
        if x_peak <= xe <= x_peak + reach:
            return [
                f"Learning rate: the loss {_KIND[rule]} at {x_name} {fmt_x(xe)}, right after {what} "
                f"({x_name} {fmt_x(x_peak)}, rate {_fv(peak_val)}): lower the peak rate or lengthen warm-up."
            ]
    for rule, xe in events:
        if rule == "loss-spike" or xe >= x_peak:
            continue
        j = max(0, int(np.searchsorted(x, xe, side="right")) - 1)
        if y[j] >= params.warmup_rise * y[0] and y[j] >= y[max(0, j - 1)]:
            return [
                f"Learning rate: the loss {_KIND[rule]} at {x_name} {fmt_x(xe)} while the rate was still rising, "
                f"at {_fv(y[j])} ({y[j] / y[0]:.3g}x its start): keep the peak rate well below {_fv(y[j])}."
            ]
    return []


_KIND = {
    "divergence": "diverged",
    "creep": "began the climb that ended in a blow-up",
    "loss-spike": "spiked",
    "non-finite": "went non-finite",
}


def cut_notes(lr: Series, train: Series | None, x_name: str, params: Params = PARAMS) -> list[str]:
    if train is None:
        return []
    x, y = _finite(lr)
    tx, ty = _finite(train)
    if y.size < 2 or ty.size < 20 or np.any(ty <= 0):
        return []
    cut_at = np.flatnonzero(y[1:] < params.cut_ratio * y[:-1]) + 1
    w = max(5, int(ty.size * params.cut_window_fraction))
    notes: list[str] = []
    for c in cut_at:
        i = int(np.searchsorted(tx, x[c]))
        if i < 2 * w or i + w > ty.size:
            continue
        z = np.log(ty)
        early, late, after = median(z[i - 2 * w : i - w]), median(z[i - w : i]), median(z[i : i + w])
        if early - late < np.log1p(params.flat_before) and late - after > -np.log1p(-params.drop_after):
            notes.append(
                f"Learning rate: the loss was flat before the rate was cut at {x_name} {fmt_x(x[c])} "
                f"({_fv(y[c - 1])} to {_fv(y[c])}) and fell {100 * (1 - np.exp(after - late)):.0f}% after it: "
                "cut sooner (a shorter step decay, or reduce-on-plateau with a small patience)."
            )
    return notes[:2]


def constant_lr_notes(lr: Series, findings: list[Finding], x_name: str, params: Params = PARAMS) -> list[str]:
    x, y = _finite(lr)
    if y.size < 2:
        return []
    for f in findings:
        # A run that never learned needs a different rate, not a decaying one: a schedule would
        # contradict the plateau's own advice (see lossdoc.advice.consistent).
        if f.rule != "plateau" or f.start is None or f.evidence.get("kind") == "never-learned":
            continue
        end = f.end if f.end is not None else float(x[-1])
        seg = y[(x >= f.start) & (x <= end)]
        if seg.size == 0:  # the rate was logged more sparsely than the loss: the value in force
            seg = y[max(0, int(np.searchsorted(x, f.start, side="right")) - 1)][None]
        if (seg.max() - seg.min()) <= params.constant_tolerance * abs(seg.max()):
            return [
                f"Learning rate: constant at {_fv(float(seg.max()))} through the plateau from {x_name} "
                f"{fmt_x(f.start)}: add a schedule (cosine decay, step decay or reduce-on-plateau)."
            ]
    return []


def grad_norm_notes(
    grad: Series,
    findings: list[Finding],
    span: tuple[float, float],
    x_name: str,
    clip_hint: str,
    params: Params = PARAMS,
) -> list[str]:
    x, y = _finite(grad)
    keep = y > 0
    x, y = x[keep], y[keep]
    if y.size < 10:
        return []
    spikes = grad_spikes(y, params.grad_spike_sigmas)
    if spikes.size == 0:
        return []
    lead = params.grad_lead_fraction * max(span[1] - span[0], 1e-12)
    for rule, xe in loss_events(findings):
        before = spikes[(x[spikes] < xe) & (x[spikes] >= xe - lead)]
        if before.size:
            g = int(before[0])
            typical = percentile(y[: g + 1], 90) if g > 0 else float(y[g])
            kind = _KIND[rule]
            return [
                f"Gradient norm: it spiked at {x_name} {fmt_x(x[g])} ({_fv(y[g])}), before the loss {kind} at "
                f"{x_name} {fmt_x(xe)}: clip gradients near the usual norm ({_fv(typical)}): {clip_hint}."
            ]
    return []


MAX_REFERENCE_POINTS = 20_000
"""Longer gradient-norm series get their running reference from bucket medians (a million points cost
one reshape instead of a million window medians)."""


def grad_spikes(y: np.ndarray, sigmas: float) -> np.ndarray:
    """Indices where the log gradient norm jumps above its running median by ``sigmas`` robust sigmas.

    The reference is causal: the median of the preceding window (of points, or of bucket medians
    for a series longer than ``MAX_REFERENCE_POINTS``), so a spike is judged against what came
    before it. The spread is the MAD of the log norm's step-to-step changes.
    """
    z = np.log(y)
    n = z.size
    size = max(1, math.ceil(n / MAX_REFERENCE_POINTS))
    nb = math.ceil(n / size)
    buckets = np.pad(z, (0, nb * size - n), mode="edge").reshape(nb, size)
    level = row_medians(buckets) if size > 1 else z
    w = int(min(50, max(5, nb // 20)))
    ref = np.full(nb, np.nan)
    if nb > w:
        ref[w:] = row_medians(sliding_window_view(level[:-1], w))
    ref_points = np.repeat(ref, size)[:n]
    d = np.diff(z)
    sigma = max(MAD_TO_SIGMA * median(np.abs(d - median(d))) / np.sqrt(2.0), 1e-6)
    return np.flatnonzero(np.nan_to_num(z - ref_points, nan=-np.inf) > sigmas * sigma)


CLIP_HINTS = {
    "keras": "optimizer = keras.optimizers.Adam(..., clipnorm=...)",
    "lightning": "Trainer(gradient_clip_val=..., gradient_clip_algorithm='norm')",
    "huggingface": "TrainingArguments(max_grad_norm=...)",
    "pytorch": "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=...) before optimizer.step()",
    "generic": "clip the global gradient norm before each optimizer step",
}


def _finite(s: Series) -> tuple[np.ndarray, np.ndarray]:
    m = np.isfinite(s.y) & np.isfinite(s.x)
    return s.x[m].astype(float), s.y[m].astype(float)


def _fv(v: float) -> str:
    return f"{float(v):.3g}"
