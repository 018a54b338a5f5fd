"""A small factory of synthetic loss curves for specification-style tests.

Each function returns (x, y) numpy arrays; ``history`` wraps them into a LossHistory.
Curves are multiplicative (log-normal noise) so the same shape works at any loss scale.
"""

from __future__ import annotations

import numpy as np

from lossdoc.analysis.types import Marks
from lossdoc.history import LossHistory, Series
from lossdoc.words import count


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def decay(
    n: int,
    start: float = 2.0,
    floor: float = 0.2,
    rate: float = 5.0,
    noise: float = 0.0,
    seed: int = 0,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Exponential decay from ``start`` towards ``floor`` over ``n`` points, with log-normal noise."""
    x = np.arange(n, dtype=float)
    t = x / max(1, n - 1)
    y = floor + (start - floor) * np.exp(-rate * t)
    if noise:
        y = y * np.exp(rng(seed).normal(0.0, noise, n))
    return x, y * scale


def u_shape(
    n: int,
    best: int,
    start: float = 2.0,
    bottom: float = 0.5,
    rise: float = 0.4,
    noise: float = 0.0,
    seed: int = 1,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Validation loss that falls to ``bottom`` at index ``best`` then rises linearly by ``rise`` (ratio)."""
    x = np.arange(n, dtype=float)
    down = bottom + (start - bottom) * np.exp(-5.0 * x / max(1, best))
    up = bottom * (1 + rise * np.clip((x - best) / max(1, n - 1 - best), 0, None))
    y = np.where(x <= best, down, up)
    if noise:
        y = y * np.exp(rng(seed).normal(0.0, noise, n))
    return x, y * scale


def history(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None,
    x_name: str = "epoch",
    name: str = "synthetic",
) -> LossHistory:
    series = [Series("loss", "train", *train)]
    if val is not None:
        series.append(Series("val_loss", "val", *val))
    return LossHistory(source=f"{name}.csv", format="csv", name=name, x_name=x_name, series=series)


def rule_marks(rule: str, start: float | None, evidence: dict) -> Marks | None:
    """The plot marks and advice events a rule gives its findings (see each rule's ``Finding(marks=...)``),
    for findings made by hand in a test."""
    if rule == "divergence":
        creep = evidence.get("creep_from_x")
        events = (("creep", float(creep)),) if creep is not None else (("divergence", start),)
        return Marks("onset", "divergence from", at=start, points=(start,), events=events)
    if rule == "loss-spike":
        xs = tuple(float(x) for x in evidence.get("spike_x", []))
        return Marks("points", count(len(xs), "loss spike"), points=xs, events=tuple((rule, x) for x in xs or (start,)))
    if rule == "non-finite":
        return Marks("first", "first NaN/Inf at", at=start, events=((rule, start),))
    simple = {
        "plateau": ("shade", f"plateau ({evidence.get('kind', 'flat')})"),
        "oscillation": ("hatch", "oscillation"),
        "overfitting": ("after", "overfitting (after the best point)"),
        "still-improving": ("tint", "still improving at the end"),
    }
    return Marks(*simple[rule]) if rule in simple else None
