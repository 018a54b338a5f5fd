"""loss-spike — sudden, transient jumps far above the normal noise, which then recover.

What it means: at a few points the training loss jumps well above both the level just before and
just after it — by many times the run's own step-to-step noise (a robust MAD estimate) and by a
sizeable ratio — and comes back down within a short window. A jump that does not come back is
not a spike: see ``divergence``.

Why it matters: isolated spikes point at bad batches (corrupt samples, extreme labels), a learning
rate at the edge of stability, or numerical trouble (fp16 overflow). Large models can fail to
recover from one; frequent ones waste steps.

What to do: clip gradients (e.g. max norm 1.0), lower the peak learning rate or lengthen warm-up,
and inspect the batches at the listed steps. With Adam, a larger epsilon can help; with mixed
precision, check the loss scaler.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_x
from lossdoc.analysis.smoothing import bucket, robust_sigma, rolling_median
from lossdoc.analysis.types import Finding

SLUG = "loss-spike"
SEVERITY = "warning"


@dataclass(frozen=True)
class Params:
    min_sigmas: float = 6.0
    """A spike rises at least this many robust noise-sigmas above the surrounding level (more on long runs)."""
    min_ratio: float = 1.25
    """...and at least this factor above it (log space), so smooth curves' wiggles never count."""
    window_fraction: float = 0.02
    """The surrounding level is the median of this fraction of the run on each side (3 points at least)."""
    recover_fraction: float = 0.5
    """Recovered: the level right after falls back below this fraction of the jump (in log space)."""
    max_width_fraction: float = 0.05
    """A spike lasts at most this fraction of the run; longer is a regime, not a spike."""
    skip_start_fraction: float = 0.02
    """Ignore the first points of the run, where the loss legitimately moves fastest."""


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    if p is None or p.n < 8:
        return []
    z, x = p.z, p.x
    n = z.size
    h = max(3, round(n * params.window_fraction))
    if n > 20_000:
        # Long runs: the surrounding level from bucket medians, interpolated back to every point.
        xb, zb = bucket(x, z, 4000)
        level = np.interp(x, xb, rolling_median(zb, 5))
        left = right = level
    else:
        med = rolling_median(z, 2 * h + 1)
        left = np.concatenate([[np.inf], _trailing_median(z, h)[:-1]])
        right = np.concatenate([_trailing_median(z[::-1], h)[::-1][1:], [np.inf]])
        left = np.where(np.isfinite(left), left, med)
        right = np.where(np.isfinite(right), right, med)
    surround = np.maximum(left, right)
    resid = z - surround
    sigma = robust_sigma(z - rolling_median(z, 2 * h + 1)) if n <= 20_000 else robust_sigma(z - left)
    sigma = max(sigma, 1e-12)
    k = max(params.min_sigmas, np.sqrt(2 * np.log(n)) + 2.5)
    thr = np.maximum(k * sigma, np.log(params.min_ratio) if p.log_space else 0.25)
    cand = resid > thr
    cand[: max(1, int(n * params.skip_start_fraction))] = False
    if not cand.any():
        return []
    events = _group(np.flatnonzero(cand), gap=max(1, h // 2))
    max_width = max(1, int(n * params.max_width_fraction))
    spikes = []
    for a, b in events:
        if b - a + 1 > max_width:
            continue
        peak = a + int(np.argmax(resid[a : b + 1]))
        after = z[b + 1 : b + 1 + h]
        if after.size == 0:
            continue  # at the very end: cannot tell whether it recovers
        jump = z[peak] - surround[peak]
        if np.median(after) - surround[peak] > params.recover_fraction * jump:
            continue
        spikes.append((peak, float(np.exp(jump)) if p.log_space else float(jump)))
    if not spikes:
        return []
    peaks = [s[0] for s in spikes]
    biggest = max(spikes, key=lambda s: s[1])
    where = ", ".join(fmt_x(x[i]) for i in peaks[:8]) + (" …" if len(peaks) > 8 else "")
    msg = (
        f"{len(spikes)} loss spike(s) that recovered, at {ctx.x_name} {where}; the largest is "
        f"{biggest[1]:.2f}x the surrounding level at {ctx.at(x[biggest[0]])}"
    )
    advice = (
        "Clip gradients (e.g. max norm 1.0), lower the peak learning rate or lengthen warm-up, and "
        f"inspect the batches at {ctx.x_name} {where} for corrupt samples or extreme labels."
    )
    return [
        Finding(
            rule=SLUG,
            severity=SEVERITY,
            series=p.series.name,
            start=float(x[peaks[0]]),
            end=float(x[peaks[-1]]),
            message=msg,
            advice=advice,
            evidence={
                "count": len(spikes),
                "spike_x": [float(x[i]) for i in peaks[:50]],
                "max_ratio": round(biggest[1], 3),
                "noise_sigma": round(sigma, 5),
                "threshold_sigmas": round(float(k), 2),
            },
        )
    ]


def _trailing_median(z: np.ndarray, h: int) -> np.ndarray:
    """Median of the ``h`` points ending at each index (fewer at the start)."""
    from numpy.lib.stride_tricks import sliding_window_view

    if z.size < h:
        return np.array([np.median(z[: i + 1]) for i in range(z.size)])
    head = np.array([np.median(z[: i + 1]) for i in range(h - 1)])
    return np.concatenate([head, np.median(sliding_window_view(z, h), axis=1)])


def _group(idx: np.ndarray, gap: int) -> list[tuple[int, int]]:
    breaks = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [idx.size - 1]])
    return [(int(idx[s]), int(idx[e])) for s, e in zip(starts, ends, strict=True)]
