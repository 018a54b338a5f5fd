"""The one cleaning pass between lossdoc's values and JSON (see :func:`plain`)."""

from __future__ import annotations

import math
from dataclasses import fields, is_dataclass
from typing import Any

EXACT_INTS = 2**53
"""Floats below this size are integers exactly; an integral one of them is written as an integer."""


def plain(v: Any, digits: int | None = 8, *, big_ints: bool = False) -> Any:
    """``v`` as plain, JSON-safe Python values: dataclasses as dicts of their fields (in order), tuples
    as lists, numpy scalars as Python ones, and a non-finite float as None (the findings say where it
    was). With ``digits``, an integral float becomes an int (below :data:`EXACT_INTS`, or of any size
    with ``big_ints``, as a finding's numbers are written) and any other float is rounded to ``digits``
    decimals; without, floats keep every digit (advice while it is built, before the JSON report)."""
    if type(v).__module__ == "numpy" and hasattr(v, "item"):  # a numpy scalar, without importing numpy
        v = v.item()
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        if digits is None:
            return v
        if v.is_integer() and (big_ints or abs(v) < EXACT_INTS):
            return int(v)
        return round(v, digits)
    if isinstance(v, dict):
        return {k: plain(x, digits, big_ints=big_ints) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x, digits, big_ints=big_ints) for x in v]
    if is_dataclass(v) and not isinstance(v, type):
        return {f.name: plain(getattr(v, f.name), digits, big_ints=big_ints) for f in fields(v)}
    return v
