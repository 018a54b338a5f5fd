"""loss-spike — sudden, transient jumps far above the normal noise, which then recover.

What it means: the training loss jumps well above the level it had just before — by many times
the run's own point-to-point noise (a robust MAD estimate in log space) and by a clear ratio — and
then comes back down to about that level within a short window. A jump that does not come back is
not a spike: see ``divergence``.

Why it matters: isolated spikes point at bad batches (corrupt samples, extreme labels), a learning
rate at the edge of stability, or numerical trouble (fp16 overflow). Large models can fail to
recover from one; frequent ones waste steps.

What to do: clip gradients (e.g. max norm 1.0), lower the peak learning rate or lengthen warm-up,
and inspect the batches at the listed steps. With Adam, a larger epsilon can help; with mixed
precision, check the loss scaler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lossdoc.analysis.context import RunContext, fmt_ratio, fmt_x
from lossdoc.analysis.kernels import median, prefix_medians, rolling_median, rolling_quantile, sliding_quantile
from lossdoc.analysis.rules import divergence
from lossdoc.analysis.smoothing import MAD_TO_SIGMA, bucket, diff_noise, robust_sigma, spread_stride
from lossdoc.analysis.types import STRONG_SIGMAS, Finding, Marks, grade
from lossdoc.words import count

SLUG = "loss-spike"
SEVERITY = "warning"
LONG_RUN = 20_000
"""Runs longer than this judge each point against a bucket-median trend instead of running medians."""


@dataclass(frozen=True)
class Params:
    min_sigmas: float = field(
        default=5.5,
        metadata={
            "doc": (
                "A spike rises at least this many robust noise-sigmas above the level before it (more on long "
                "runs: the threshold grows like sqrt(2 ln n) so that noise alone almost never crosses it)."
            )
        },
    )
    min_ratio: float = field(
        default=1.2,
        metadata={"doc": "...and at least this factor above that level, so smooth curves' small wiggles never count."},
    )
    window_fraction: float = field(
        default=0.02,
        metadata={"doc": "The level before a point is the median of this fraction of the run (3 points at least)."},
    )
    recover_fraction: float = field(
        default=0.5,
        metadata={"doc": "Recovered: within the recovery window the level falls back below this fraction of the jump."},
    )
    recover_window_fraction: float = field(
        default=0.10,
        metadata={"doc": "How long the loss has to recover, as a fraction of the run."},
    )
    max_width_fraction: float = field(
        default=0.05,
        metadata={"doc": "A spike lasts at most this fraction of the run; longer is a regime, not a spike..."},
    )
    max_width_min: int = field(
        default=3,
        metadata={"doc": "...though on a short run a spike may always last this many points (a few epochs)."},
    )
    skip_start_fraction: float = field(
        default=0.0,
        metadata={
            "doc": (
                "Ignore this fraction of the run's first points (the very first is always ignored: nothing comes "
                "before it). 0: a physics-informed net can spike 100x in its first 1% before falling several "
                "decades, and the level-before test already follows a fast early fall (a normal point lies below "
                "it)."
            )
        },
    )
    noise_window_fraction: float = field(
        default=0.10,
        metadata={"doc": "The step-to-step noise around a point is measured over this fraction of the run..."},
    )
    noise_window_min: int = field(
        default=21,
        metadata={
            "doc": ("...and over at least this many differences, so one spike cannot inflate its own noise estimate.")
        },
    )
    global_noise_floor: float = field(
        default=1.0,
        metadata={"doc": "The local noise is taken as at least this fraction of the whole run's step-to-step noise."},
    )
    max_rate: float = field(
        default=0.01,
        metadata={"doc": "More spike events than this fraction of the points (and more than 5) are the noise itself."},
    )


def local_noise(z: np.ndarray, window: int) -> np.ndarray:
    """The normal step-to-step noise around each point, from a running robust spread of first differences.

    Differences, not residuals from a running median: on a smooth monotone curve the running median
    passes through every point and would call the noise zero. Local, because noise changes over a run
    (a chaotic start, a noisy floor near zero loss). The larger of the running MAD and the running
    75th-percentile deviation, so a loss that repeats values (most differences zero) keeps its noise.
    """
    d = np.diff(z)
    dev = np.abs(d - rolling_median(d, window))
    spread = np.maximum(MAD_TO_SIGMA * rolling_median(dev, window), rolling_quantile(dev, window, 75.0) / 1.1503)
    spread /= np.sqrt(2.0)
    return np.concatenate([[spread[0]], np.maximum(spread[:-1], spread[1:]), [spread[-1]]])


def _window_medians(z: np.ndarray, h: int) -> np.ndarray:
    """m[j] = median of z[j : j + h] (shorter at the end)."""
    n = z.size
    if n < h:
        return prefix_medians(z[::-1])[::-1]
    tail = prefix_medians(z[n - h + 1 :][::-1])[::-1]  # the shorter windows at the end
    return np.concatenate([sliding_quantile(z, h, 50.0), tail])


def _levels(z: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(level before each point, level of the window starting at each point)."""
    fwd = _window_medians(z, h)
    before = np.full(z.size, np.nan)
    before[h:] = fwd[: z.size - h]
    if h > 1:
        before[1:h] = prefix_medians(z[: min(h, z.size) - 1])
    return before, fwd


def _sigmas(n: int, params: Params) -> float:
    """How many noise sigmas a jump must clear: more on longer runs (the largest of n normal deviations)."""
    return max(params.min_sigmas, np.sqrt(2 * np.log(n)) + 1.0)


def _floor(log_space: bool, params: Params) -> float:
    return float(np.log(params.min_ratio)) if log_space else 0.25


def _may_jump(jump: np.ndarray, run_noise: float, n: int, log_space: bool, params: Params) -> bool:
    """Whether any point clears the lowest threshold the local noise allows (the run's noise floor)."""
    lowest = max(_sigmas(n, params) * max(run_noise, 1e-12), _floor(log_space, params))
    return bool(np.any(jump > lowest))


def check(ctx: RunContext, params: Params) -> list[Finding]:
    p = ctx.train
    if p is None or p.n < 8:
        return []
    z, x = p.z, p.x
    n = z.size
    h = max(3, round(n * params.window_fraction))
    if n > LONG_RUN:
        xb, zb = bucket(x, z, 4000)
        trend = np.interp(x, xb, rolling_median(zb, 5))
        before = after = trend
        every = spread_stride(n)  # the spread is estimated from evenly strided points: only those computed
        sigma = robust_sigma(z[::every] - trend[::every])
    else:
        before, after = _levels(z, h)
        # A local estimate from a few dozen differences is itself noisy: never trust it far below the run's.
        run_noise = params.global_noise_floor * diff_noise(z)
        if not _may_jump(z - before, run_noise, n, p.log_space, params):
            return []  # no point clears the threshold even at the run's noise: the local noise can only raise it
        sigma = local_noise(z, max(params.noise_window_min, round(n * params.noise_window_fraction)))
        sigma = np.maximum(sigma, run_noise)
    sigma = np.maximum(sigma, 1e-12)
    k = _sigmas(n, params)
    floor = _floor(p.log_space, params)
    jump = z - before
    cand = jump > np.maximum(k * sigma, floor)  # no jump before the first point (NaN): never a spike
    cand[: max(1, int(n * params.skip_start_fraction))] = False
    if not cand.any():
        return []
    blowup = divergence.verdict(ctx)
    if blowup is not None and not blowup.recovered:
        cand &= x < blowup.onset_x  # jumps inside a blow-up that never comes back are the divergence
    if not cand.any():
        return []
    events = _group(np.flatnonzero(cand), gap=max(1, h // 2))
    max_width = max(params.max_width_min, int(n * params.max_width_fraction))
    reach = max(h, int(n * params.recover_window_fraction))
    spikes = []
    for a, b in events:
        if b - a + 1 > max_width:
            continue
        peak = a + int(np.argmax(jump[a : b + 1]))
        base, size = before[a], jump[peak]
        later = after[b + 1 : b + 1 + reach]
        if later.size == 0 or later.min() - base > params.recover_fraction * size:
            continue  # never came back down: a level shift or a blow-up, not a spike
        noise = float(sigma[peak] if np.ndim(sigma) else sigma)
        spikes.append((peak, float(np.exp(size)) if p.log_space else float(size), float(size / noise)))
    if not spikes or len(spikes) > max(5, params.max_rate * n):
        return []
    peaks = [s[0] for s in spikes]
    biggest = max(spikes, key=lambda s: s[1])
    where = ", ".join(fmt_x(x[i]) for i in peaks[:8]) + (" …" if len(peaks) > 8 else "")
    msg = (
        f"{len(spikes)} loss spike{'s' if len(spikes) != 1 else ''} that recovered, at {ctx.x_name} {where}; "
        f"the largest is "
        f"{fmt_ratio(biggest[1])} the level before it, at {ctx.at(x[biggest[0]])}"
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
            confidence=grade(n, max(s[2] for s in spikes) / k * STRONG_SIGMAS),
            marks=Marks(
                "points",
                count(len(peaks[:50]), "loss spike"),
                points=tuple(float(x[i]) for i in peaks[:50]),
                events=tuple((SLUG, float(x[i])) for i in peaks[:50]) or ((SLUG, float(x[peaks[0]])),),
            ),
            evidence={
                "count": len(spikes),
                "spike_x": [float(x[i]) for i in peaks[:50]],
                "max_ratio": round(biggest[1], 3),
                "noise_sigma": round(median(sigma), 5),
                "threshold_sigmas": round(float(k), 2),
            },
        )
    ]


def _group(idx: np.ndarray, gap: int) -> list[tuple[int, int]]:
    breaks = np.flatnonzero(np.diff(idx) > gap)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [idx.size - 1]])
    return [(int(idx[s]), int(idx[e])) for s, e in zip(starts, ends, strict=True)]
