"""LossHistory: one training run as an x axis and named series, each with a role.

Every reader produces these; every rule reads them. A series keeps its own x values, so sparse
validation rows (one per epoch among per-step training rows) need no alignment. Non-finite values
are kept as NaN / ±Inf: they are a finding, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Role = Literal["train", "val", "lr", "grad_norm", "other"]


@dataclass(frozen=True)
class Series:
    """One logged quantity: its name exactly as in the input, its role, and its points."""

    name: str
    role: Role
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return int(self.y.size)


@dataclass
class LossHistory:
    """A run: where it came from, what its x axis is called, and its series."""

    source: str
    format: str
    name: str
    x_name: str
    series: list[Series]
    notes: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    """The run's parameters, when its store keeps them (an MLflow run's lr, batch_size, ...)."""

    def get(self, role: Role) -> Series | None:
        return next((s for s in self.series if s.role == role), None)

    @property
    def train(self) -> Series | None:
        return self.get("train")

    @property
    def val(self) -> Series | None:
        return self.get("val")

    @property
    def lr(self) -> Series | None:
        return self.get("lr")

    @property
    def x_range(self) -> tuple[float, float]:
        xs = [s.x for s in self.series if s.role in ("train", "val") and s.x.size]
        if not xs:
            return (0.0, 0.0)
        return (float(min(x.min() for x in xs)), float(max(x.max() for x in xs)))


def resolve_repeats(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Sort by x and keep the last write of each repeated x (a resumed run overwrites).

    Returns the cleaned x, y and how many points were replaced or reordered (0 when x was already
    strictly increasing, the common case, which costs one vectorised comparison).
    """
    if x.size < 2 or bool(np.all(np.diff(x) > 0)):
        return x, y, 0
    # np.unique on the reversed array keeps the first occurrence there, i.e. the last write here.
    rev_x = x[::-1]
    _, first_in_rev = np.unique(rev_x, return_index=True)
    keep = x.size - 1 - first_in_rev  # ascending x order, last write of each value
    return x[keep], y[keep], int(x.size - keep.size) or int(np.sum(np.diff(x) <= 0))


def hidden_nan(loss: Series, grad_norm: Series | None) -> np.ndarray:
    """Points where a logger wrote 0.0 for a NaN loss: the loss is exactly 0 and the gradient norm logged at
    the same x is NaN/Inf (HuggingFace Trainer's ``logging_nan_inf_filter`` does this)."""
    hidden = np.zeros(loss.y.size, dtype=bool)
    if grad_norm is None or grad_norm.y.size == 0 or loss.y.size == 0:
        return hidden
    bad_x = grad_norm.x[~np.isfinite(grad_norm.y)]
    if bad_x.size:
        hidden = np.isin(loss.x, bad_x) & (loss.y == 0.0)
    return hidden


def unmask_hidden_nan(run: LossHistory) -> None:
    """Read a training loss the logger wrote as 0.0 for NaN (see :func:`hidden_nan`) as NaN, with a note,
    so that every report, plot and piece of advice treats those points as the non-finite values they were."""
    loss = run.train
    hidden = hidden_nan(loss, run.get("grad_norm")) if loss is not None else None
    if loss is None or hidden is None or not hidden.any():
        return
    i = run.series.index(loss)
    run.series[i] = Series(loss.name, loss.role, loss.x, np.where(hidden, np.nan, loss.y))
    first = float(loss.x[hidden][0])
    run.notes.append(
        f"'{loss.name}' is logged as exactly 0.0 at {int(hidden.sum()):,} point(s) where "
        f"'{run.get('grad_norm').name}' is NaN/Inf, from {run.x_name} {first:g}: read as NaN (the logger "
        "hid NaN losses, as HuggingFace Trainer's logging_nan_inf_filter does)"
    )
