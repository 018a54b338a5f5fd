"""What every rule receives: the run, its prepared train/val series, and small shared helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from lossdoc.analysis.kernels import median
from lossdoc.analysis.smoothing import Prepared
from lossdoc.history import LossHistory, Series, hidden_nan


@dataclass
class RunContext:
    history: LossHistory
    rule_params: Mapping[str, Any] = field(default_factory=dict)
    """Each rule's Params for this call, so a rule can consult another's judgement (e.g. still-improving
    ignores validation loss that is overfitting) with the same thresholds the user set."""

    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute once per run (e.g. a verdict several rules consult)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def params(self, slug: str, defaults: Callable[[], Any]) -> Any:
        """The call's thresholds for rule ``slug``, or ``defaults()`` (its ``Params``) when it set none."""
        return self.rule_params.get(slug) or defaults()

    @cached_property
    def train_logged(self) -> Series | None:
        """The training loss as logged, with the NaNs a logger hid as 0.0 put back (see ``hidden_nan``)."""
        s = self.history.train
        if s is None:
            return None
        hidden = hidden_nan(s, self.history.get("grad_norm"))
        return replace(s, y=np.where(hidden, np.nan, s.y)) if hidden.any() else s

    @cached_property
    def train(self) -> Prepared | None:
        s = self.train_logged
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

    @cached_property
    def origin(self) -> float:
        """Where the run's work begins: see :func:`run_origin`."""
        return run_origin(self.history)

    def share_after(self, x: float) -> float:
        """The share of the run's work after ``x``: see :func:`share_after`."""
        return share_after(self.history, x, self.origin)

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


def fmt_ratio(ratio: float) -> str:
    """``3.2x``, or ``9.2e+30x`` for a blow-up."""
    return f"{ratio:.1f}x" if ratio < 1000 else f"{ratio:.2g}x"


def share_after(history: LossHistory, x: float, origin: float | None = None) -> float:
    """The share of the run's work after ``x``: what stopping at ``x`` would have saved. The first
    logged point counts as one interval of work (epochs 1..30 or 0..29 are both 30 epochs), so
    stopping at epoch 12 of 1..30 saves 18/30 = 60%. Every message and advice quoting such a share
    uses this."""
    _, hi = history.x_range
    span = hi - (run_origin(history) if origin is None else origin)
    return float(max(0.0, hi - x) / span) if span > 0 else 0.0


def run_origin(history: LossHistory) -> float:
    """Where the run's work begins: one logging interval before the first logged x."""
    ref: Series | None = history.train if history.train is not None and len(history.train) > 1 else history.val
    lo, _ = history.x_range
    if ref is None or ref.x.size < 2:
        return lo
    steps = np.diff(ref.x.astype(float))
    if steps.size and steps.min() == steps.max() > 0:
        return lo - float(steps[0])  # evenly logged: the median without sorting a million steps
    steps = steps[steps > 0]
    return lo - (median(steps) if steps.size else 0.0)
