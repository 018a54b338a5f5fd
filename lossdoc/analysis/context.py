"""What every rule receives: the run, its prepared train/val series, and small shared helpers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lossdoc.analysis.smoothing import Prepared
from lossdoc.history import LossHistory


@dataclass
class RunContext:
    history: LossHistory

    @cached_property
    def train(self) -> Prepared | None:
        s = self.history.train
        return Prepared.of(s) if s is not None and np.isfinite(s.y).sum() > 0 else None

    @cached_property
    def val(self) -> Prepared | None:
        s = self.history.val
        return Prepared.of(s) if s is not None and np.isfinite(s.y).sum() > 0 else None

    @property
    def x_name(self) -> str:
        return self.history.x_name

    @cached_property
    def x_span(self) -> tuple[float, float]:
        return self.history.x_range

    def span_fraction(self, a: float, b: float) -> float:
        lo, hi = self.x_span
        return float((b - a) / (hi - lo)) if hi > lo else 0.0

    def at(self, x: float) -> str:
        """``epoch 12`` / ``step 4,200``: an x value in the run's own words."""
        return f"{self.x_name} {fmt_x(x)}"


def fmt_x(x: float) -> str:
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:.4g}"


def fmt_loss(v: float) -> str:
    if not np.isfinite(v):
        return str(v)
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.3e}"
    return f"{v:.4g}"


def pct(ratio: float) -> str:
    """``+31%`` from a ratio of 1.31."""
    return f"{(ratio - 1) * 100:+.0f}%"
